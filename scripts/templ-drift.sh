#!/bin/sh
# Fails when the committed *_templ.go files differ from what `templ generate`
# produces from the .templ sources: it regenerates them, then requires that
# git sees no change to any *_templ.go and no untracked *_templ.go.
#
# Outside a git checkout (a source tarball) it compares checksums of every
# *_templ.go before and after generating instead.
set -eu

list_generated() {
	find . -path ./node_modules -prune -o -path ./.git -prune -o -name '*_templ.go' -type f -print | LC_ALL=C sort
}

# -c safe.directory: CI runs as root on a checkout that may belong to
# another user, which git otherwise refuses to read.
git_() { git -c safe.directory="$PWD" "$@"; }

if command -v git >/dev/null 2>&1 && git_ rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	echo "templ: go tool templ generate"
	go tool templ generate
	untracked=$(git_ ls-files --others --exclude-standard -- '*_templ.go')
	if ! git_ diff --exit-code --stat -- '*_templ.go' || [ -n "$untracked" ]; then
		[ -z "$untracked" ] || printf 'untracked generated files:\n%s\n' "$untracked"
		echo "templ: generated files are out of date or not committed; run 'make generate' and commit the *_templ.go files." >&2
		exit 1
	fi
else
	before=$(mktemp)
	after=$(mktemp)
	trap 'rm -f "$before" "$after"' EXIT
	list_generated | xargs -r sha256sum >"$before"
	echo "templ: go tool templ generate (not a git checkout: comparing checksums)"
	go tool templ generate
	list_generated | xargs -r sha256sum >"$after"
	if ! diff -u "$before" "$after"; then
		echo "templ: generate changed the *_templ.go files above; run 'make generate' and ship the result." >&2
		exit 1
	fi
fi
echo "templ: generated files are up to date"
