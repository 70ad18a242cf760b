#!/usr/bin/env bash
# Build tenantd and run the whole test suite: unit, integration and client
# tests.  Prints one line per test file and ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d tests/js/node_modules/@libsql/client ]; then
	(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)" >/dev/null
make -s check 2>&1 | grep -v '^make'
