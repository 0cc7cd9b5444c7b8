#!/bin/sh
# Lists Go files that gofmt would change and fails if there are any. The
# generated *_templ.go files are left out (templ formats them), and so is
# everything git ignores (node_modules, scratch dirs such as tmp/).
set -eu

go_files() {
	if command -v git >/dev/null 2>&1 && git -c safe.directory="$PWD" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Tracked and untracked-but-not-ignored files; skip tracked files
		# deleted from the work tree.
		git -c safe.directory="$PWD" ls-files --cached --others --exclude-standard -- '*.go' |
			while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done
	else
		find . -path ./node_modules -prune -o -path ./.git -prune -o -path ./tmp -prune -o -name '*.go' -type f -print
	fi
}

out=$(go_files | grep -v '_templ\.go$' | sort -u | xargs -r gofmt -l)
if [ -n "$out" ]; then
	echo "gofmt: these files need formatting (run gofmt -w):"
	echo "$out"
	exit 1
fi
echo "gofmt: ok"
