#!/bin/sh
# bench/quick.sh: a first look at throughput (not the full harness of the
# benchmark issue: see run.sh).  Creates N tenants with 100 rows each in a
# private data dir through the API, then drives point selects (uniform over
# the N tenants) with bench/load.c over keep-alive connections on tenantd's
# unix socket, and prints the cache counters and tenantd's RSS.
# Usage: bench/quick.sh [tenants] [connections] [seconds] [select|update|mix]
# Uses the in-tree tenantd/tenantd; BENCH_ARGS adds tenantd options, e.g.
# BENCH_ARGS='--max-open 1000' bench/quick.sh 2000 64 10 update: writes to
# twice as many tenants as the cache holds (half the requests reopen one).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000}; C=${2:-64}; S=${3:-10}; OP=${4:-select}
case $OP in select|update|mix) ;; *) echo "usage: $0 [tenants] [connections] [seconds] [select|update|mix]" >&2; exit 2 ;; esac
T=2; [ "$C" -lt 2 ] && T=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-bench.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
gcc -O2 -Wall -Wextra -o "$tmp/load" "$top/bench/load.c" -lpthread -lm
mkdir -p "$tmp/schemas/kv"
cat >"$tmp/schemas/kv/0001_kv.sql" <<'EOF'
CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100)
INSERT INTO kv SELECT i, 'value-' || i FROM c;
EOF
"$top/tenantd/tenantd" -D "$tmp/data" --schemas "$tmp/schemas" \
    --ready-file "$tmp/ready" ${BENCH_ARGS:-} 2>"$tmp/log" &
pid=$!
while [ ! -s "$tmp/ready" ]; do
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/log" >&2; exit 1; }
	sleep 0.05
done
sock=$(sed -n 's/^unix //p' "$tmp/ready")
echo "creating $N tenants with 100 rows each..."
"$tmp/load" --unix "$sock" -c 8 -t 2 -n "$N" --op create --schema kv
echo "$OP, uniform over $N tenants, $C connections, $S s:"
"$tmp/load" --unix "$sock" -c "$C" -t "$T" -d "$S" --op "$OP" --tenants "$N"
curl -s --unix-socket "$sock" http://localhost/metrics |
    grep -E '^tenantd_(cache_(hits|misses|evictions)_total|open_handles|wal_index_(reused|stale)_total) '
ps -o rss= -p "$pid" | awk '{ printf "tenantd RSS %.1f MiB\n", $1 / 1024 }'
