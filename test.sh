#!/usr/bin/env bash
# Build tenantd and run the whole test suite: unit, integration and client
# tests.  Prints one line per test file and ends with "N passed, N failed".
# Installs what is missing on Debian 12 first (apt-get, npm ci).
set -euo pipefail
cd "$(dirname "$0")"
need=""
for p in build-essential autoconf automake pkg-config libsqlite3-dev \
    libevent-dev liblmdb-dev libjansson-dev libssl-dev sqlite3 curl python3; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
command -v node >/dev/null && command -v npm >/dev/null || need="$need nodejs npm"
if [ -n "$need" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
if [ ! -d tests/js/node_modules/@libsql/client ]; then
	(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)" >/dev/null
make -s check 2>&1 | grep -v '^make'
