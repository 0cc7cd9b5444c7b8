#!/bin/sh
# Installs what Keel's build and tests need on Debian, and only what is
# missing: redis-server (the embedded store and the Go tests), chromium (the
# Playwright suite) and Node.js 20+ with npm (vendored assets, Playwright).
# Prints every install it makes and nothing else when all is present.
# Go is not installed here: it must already be at /usr/local/go.
#
# It never starts, stops or configures the Debian redis-server service:
# Keel and its tests run their own redis-server processes.
set -eu

export DEBIAN_FRONTEND=noninteractive

die() {
	echo "deps: $*" >&2
	exit 1
}

# Go: required, never installed by us.
if ! command -v go >/dev/null 2>&1; then
	die "go not found. This project needs Go 1.26 at /usr/local/go (https://go.dev/dl/); add /usr/local/go/bin to PATH."
fi
gov=$(go env GOVERSION)
case "$gov" in
go1.2[6-9]* | go1.[3-9][0-9]* | go[2-9]*) ;;
*) die "found $gov at $(command -v go); this project needs Go 1.26 or newer at /usr/local/go." ;;
esac

# Debian packages, keyed by the command that proves they are installed.
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
	command -v apt-get >/dev/null 2>&1 ||
		die "missing:$missing, and apt-get is not available; install them by hand."
	[ "$(id -u)" -eq 0 ] ||
		die "missing:$missing; run 'make deps' as root (or: sudo apt-get install -y$missing)."
	echo "deps: apt-get update"
	apt-get update -q
	echo "deps: apt-get install -y$missing"
	# shellcheck disable=SC2086 # word splitting of the package list is wanted
	apt-get install -y -q $missing
fi

# Playwright 1.65 needs Node.js 20 or newer (Debian 12 ships 18).
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] ||
	die "Node.js $(node --version) is too old: Playwright needs Node.js 20 or newer (Debian 13, or the NodeSource nodejs 20 package)."
