#!/bin/sh
#
# run.sh: run the libFuzzer targets for a bounded time each.
#
# usage: fuzz/run.sh [-t SECONDS] [-b BINDIR] [-o OUTDIR] [TARGET ...]
#		[-- LIBFUZZER-OPTION ...]
#
# Each target (default: every fuzz_* executable in BINDIR, which defaults
# to the folder this script is in) runs for SECONDS (default 30, or
# $FUZZ_SECONDS) with -rss_limit_mb=2048 and a 25 s per-input timeout,
# on a copy of fuzz/corpus/<target>/ in a temporary folder, so the seeds
# in the repository never change.  fuzz/<target>.dict is used when it
# exists.  Prints one line per target with the number of inputs run and
# whether it crashed; a crash, leak, timeout, out-of-memory or UBSan
# report counts (UBSAN_OPTIONS defaults to halt_on_error=1).
# Logs and crash inputs are kept in OUTDIR (default: a temporary folder,
# removed when nothing failed).  Exits 1 if any target failed, 2 on a
# usage error.
#
set -u

srcdir=$(cd "$(dirname "$0")" && pwd)
bindir=$srcdir
seconds=${FUZZ_SECONDS:-30}
outdir=
targets=

usage() {
	echo "usage: $0 [-t SECONDS] [-b BINDIR] [-o OUTDIR] [TARGET ...]" \
	    "[-- LIBFUZZER-OPTION ...]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	-t)	[ $# -ge 2 ] || usage; seconds=$2; shift 2 ;;
	-b)	[ $# -ge 2 ] || usage; bindir=$2; shift 2 ;;
	-o)	[ $# -ge 2 ] || usage; outdir=$2; shift 2 ;;
	--)	shift; break ;;
	-*)	usage ;;
	*)	targets="$targets $1"; shift ;;
	esac
done
case $seconds in
''|*[!0-9]*) echo "$0: -t wants whole seconds" >&2; exit 2 ;;
esac

if [ -z "$targets" ]; then
	for f in "$bindir"/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		targets="$targets $(basename "$f")"
	done
fi
if [ -z "$targets" ]; then
	echo "$0: no fuzz_* executables in $bindir" \
	    "(./configure --enable-fuzzing && make)" >&2
	exit 2
fi

# UBSan findings must stop the target, or libFuzzer would not see them
# (configure's fuzzing flags leave UBSan checks recoverable).
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export UBSAN_OPTIONS

keep=1
if [ -z "$outdir" ]; then
	outdir=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-fuzz.XXXXXX") || exit 1
	keep=0
fi
mkdir -p "$outdir" || exit 1

failed=0
for t in $targets; do
	bin=$bindir/$t
	if [ ! -x "$bin" ]; then
		printf '%-18s NOT BUILT (%s)\n' "$t" "$bin"
		failed=1
		continue
	fi
	work=$outdir/$t
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$srcdir/corpus/$t" ]; then
		cp "$srcdir/corpus/$t"/* "$work/corpus/" 2>/dev/null
	fi
	dict=
	[ -f "$srcdir/$t.dict" ] && dict=-dict=$srcdir/$t.dict

	start=$(date +%s)
	"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 \
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
	    ${dict:+"$dict"} "$@" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))

	runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
	    "$work/log" | tail -n 1)
	if [ -z "$runs" ]; then
		runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/log" |
		    tail -n 1)
	fi
	if [ -z "$runs" ]; then
		# Died before the final stats: the last progress line.
		runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
	fi
	artifact=$(ls "$work/artifacts" 2>/dev/null | head -n 1)
	if [ $rc -eq 0 ] && [ -z "$artifact" ]; then
		printf '%-18s %12s runs in %4s s, no crash\n' "$t" \
		    "${runs:-?}" "$took"
	else
		failed=1
		printf '%-18s %12s runs in %4s s, CRASHED (exit %s)\n' "$t" \
		    "${runs:-?}" "$took" "$rc"
		grep -m 3 -E '^(SUMMARY|==[0-9]+==ERROR|.*: broken:)' \
		    "$work/log" | sed 's/^/    /'
		echo "    log:   $work/log"
		if [ -n "$artifact" ]; then
			echo "    input: $work/artifacts/$artifact"
			echo "    again: $bin $work/artifacts/$artifact"
		fi
	fi
done

if [ $failed -eq 0 ] && [ $keep -eq 0 ]; then
	rm -rf "$outdir"
elif [ $failed -ne 0 ]; then
	echo "logs and inputs kept in $outdir"
fi
exit $failed
