#!/bin/sh
# Runs `go test` with the given arguments, streams its usual per-package
# ok/FAIL output, then prints one summary line. Exits with go test's status.
set -u

log=$(mktemp)
status_file=$(mktemp)
trap 'rm -f "$log" "$status_file"' EXIT

echo "go test $*"
{
	go test "$@" 2>&1
	echo $? >"$status_file"
} | tee "$log"
status=$(cat "$status_file")

ok=$(grep -c '^ok ' "$log")
failed=$(grep -c '^FAIL[[:space:]]' "$log")
notests=$(grep -c '^?[[:space:]].*\[no test files\]' "$log")
if [ "$status" -eq 0 ]; then
	echo "go test: $ok packages ok ($notests without tests)"
else
	echo "go test: FAILED: $failed packages failed, $ok ok" >&2
fi
exit "$status"
