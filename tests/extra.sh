#!/usr/bin/env bash
# tests/extra.sh: the checks CI runs besides the main suite (./test.sh):
#   asan      the whole suite built with ASan+UBSan (--enable-asan)
#   valgrind  the client, protocol, auth, import, fastpath (three loops),
#             conn, batch, wal and durable tests with the daemon
#             under valgrind memcheck (no errors, no definite leaks)
#   fuzz      every libFuzzer target for FUZZ_SECONDS (default 15) each
# Each builds in its own copy of the tree under a temp dir.  Usage:
#   tests/extra.sh [asan] [valgrind] [fuzz]      (default: all three)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
what=${*:-asan valgrind fuzz}
work=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-extra.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0

copy_tree() {	# copy_tree DIR: a clean copy of the sources (no build files)
	mkdir -p "$1"
	(cd "$top" && git ls-files -z | xargs -0 cp --parents -t "$1")
	ln -s "$top/tests/js/node_modules" "$1/tests/js/node_modules"
	(cd "$1" && autoreconf -fi >/dev/null 2>&1)
}

for w in $what; do
	case $w in
	asan)
		echo "== ASan+UBSan: the whole suite"
		copy_tree "$work/asan"
		(cd "$work/asan" && ./configure -q --enable-asan --enable-debug &&
		    make -s -j"$(nproc)" >/dev/null 2>&1 &&
		    ASAN_OPTIONS=detect_leaks=1 make -s check 2>&1 |
		    grep -E '^(PASS|FAIL)|passed|^    ') || status=1
		;;
	valgrind)
		echo "== valgrind memcheck: client, protocol, auth, import, fastpath, conn, batch, wal, durable"
		command -v valgrind >/dev/null || { echo "valgrind missing"; status=1; continue; }
		copy_tree "$work/vg"
		(cd "$work/vg" && ./configure -q --enable-debug &&
		    make -s -j"$(nproc)" >/dev/null 2>&1) || { status=1; continue; }
		for t in client protocol auth import fastpath conn batch wal durable; do
			out=$(TENANTD_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
			    TOP_SRCDIR="$work/vg" TOP_BUILDDIR="$work/vg" TENANTD_REQUIRE_JS=1 \
			    timeout 900 node "$work/vg/tests/js/$t.test.mjs" 2>&1) || true
			p=$(echo "$out" | grep -c '^ok ' || true)
			f=$(echo "$out" | grep -c '^not ok ' || true)
			echo "valgrind $t: $p passed, $f failed"
			if [ "$f" -ne 0 ] || [ "$p" -eq 0 ]; then
				echo "$out" | grep -E '^not ok|^#' | head -40
				status=1
			fi
		done
		;;
	fuzz)
		echo "== libFuzzer: every target for ${FUZZ_SECONDS:-15} s"
		command -v clang >/dev/null || { echo "clang missing"; status=1; continue; }
		copy_tree "$work/fuzz"
		(cd "$work/fuzz" && ./configure -q CC=clang --enable-fuzzing &&
		    make -s -j"$(nproc)" >/dev/null 2>&1 &&
		    FUZZ_SECONDS=${FUZZ_SECONDS:-15} make -s fuzz-run) || status=1
		;;
	*)
		echo "tests/extra.sh: unknown check $w" >&2
		exit 2
		;;
	esac
done
exit $status
