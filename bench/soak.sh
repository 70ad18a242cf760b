#!/bin/sh
# bench/soak.sh: the long crash-safety soak: twenty rounds of kill -9 under
# a mixed write load over 200 tenants (make check runs three).  Every round
# checks that every acknowledged write survived, no batch is half applied,
# every tenant passes integrity_check, and catalog and files agree.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
CRASH_ROUNDS=${CRASH_ROUNDS:-20} TOP_SRCDIR="$top" TOP_BUILDDIR="$top" \
    exec node "$top/tests/js/crash.test.mjs"
