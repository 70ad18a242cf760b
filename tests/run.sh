#!/bin/sh
# tests/run.sh: run every test in the tree and print one summary line.
#
# Unit tests (C binaries), integration tests (tests/integration/*.sh, each
# starts its own daemon on a temp dir and a free port) and client tests
# (tests/js/*.test.mjs, the real @libsql/client from npm).  Every test
# prints TAP; a test that dies without saying "not ok" still counts as a
# failure.  The last line is always "N passed, N failed".
#
# Environment: TOP_SRCDIR, TOP_BUILDDIR (set by make check), UNIT_TESTS,
# TESTS_FILTER (only run tests whose path contains it), TEST_TIMEOUT
# (seconds per test file, default 600: a watchdog, not a timing assertion).

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
export TOP_SRCDIR TOP_BUILDDIR

passed=0
failed=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-tests.XXXXXX")

run_one() {
	name=$1; shift
	case "$name" in *"${TESTS_FILTER:-}"*) ;; *) return ;; esac
	log="$logdir/$(echo "$name" | tr '/' '_').log"
	timeout -k 10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	extra=""
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; extra=" (exit status $rc, no failing test line)"
	elif [ -n "$plan" ] && [ "$plan" -ne $((p + f)) ] && [ "$plan" -ne 0 ]; then
		f=$((f + 1)); extra=" (planned $plan tests, ran $((p + f - 1)))"
	elif [ -z "$plan" ] && [ $((p + f)) -eq 0 ]; then
		f=1; extra=" (no TAP output)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -eq 0 ]; then
		echo "PASS: $name ($p)"
	else
		echo "FAIL: $name ($p passed, $f failed)$extra"
		grep -E '^not ok |^#' "$log" | head -n 40 | sed 's/^/    /'
		echo "    --- last lines of $log:"
		tail -n 15 "$log" | sed 's/^/    /'
	fi
}

for t in $UNIT_TESTS; do
	run_one "$t" "$TOP_BUILDDIR/$t"
done

for t in "$TOP_SRCDIR"/tests/integration/*.sh; do
	[ -f "$t" ] || continue
	run_one "tests/integration/$(basename "$t")" sh "$t"
done

if command -v node >/dev/null 2>&1; then
	for t in "$TOP_SRCDIR"/tests/js/*.test.mjs; do
		[ -f "$t" ] || continue
		run_one "tests/js/$(basename "$t")" node "$t"
	done
else
	echo "FAIL: tests/js (node is not installed)"
	failed=$((failed + 1))
fi

echo "logs: $logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
