#!/bin/sh
# bench/quick.sh: a first look at throughput (not the full harness of the
# benchmark issue).  Creates BENCH_TENANTS tenants with 100 rows each in a
# private data dir, then drives point selects with wrk over keep-alive
# connections.  Usage: bench/quick.sh [tenants] [connections] [seconds]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000}; C=${2:-64}; S=${3:-10}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-bench.XXXXXX")
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
"$top/tenantd/tenantd" -D "$tmp/data" --listen 127.0.0.1:0 --no-auth \
    --schemas "$top/schemas" --ready-file "$tmp/ready" ${BENCH_ARGS:-} 2>"$tmp/log" &
pid=$!
while [ ! -f "$tmp/ready" ]; do sleep 0.05; done
url="http://$(sed -n 's/^tcp //p' "$tmp/ready")"
echo "creating $N tenants with 100 rows each..."
start=$(date +%s.%N)
i=0
while [ $i -lt "$N" ]; do
	echo "{\"id\":\"b$i\",\"schema\":null}"
	i=$((i + 1))
done | xargs -d '\n' -P 8 -I{} curl -s -o /dev/null -X POST --unix-socket "$tmp/data/tenantd.sock" \
    http://localhost/v1/tenants -d {}
end=$(date +%s.%N)
echo "created $N tenants in $(echo "$end - $start" | bc) s"
rows=$(i=1; while [ $i -le 100 ]; do printf "(%d,'value-%d')," $i $i; i=$((i + 1)); done | sed 's/,$//')
i=0
while [ $i -lt "$N" ]; do
	echo "b$i"
	i=$((i + 1))
done | xargs -d '\n' -P 8 -I{} curl -s -o /dev/null "$url/t/{}/v2/pipeline" -d \
    "{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)\"}},{\"type\":\"execute\",\"stmt\":{\"sql\":\"INSERT INTO kv VALUES $rows\"}},{\"type\":\"close\"}]}"
echo "point selects, $C connections, $S s:"
BENCH_TENANTS=$N wrk -t2 -c"$C" -d"${S}s" --latency -s "$top/bench/select.lua" "$url" | sed -n '1,20p'
curl -s "$url/metrics" | grep -E '^tenantd_(cache_(hits|misses|evictions)_total|open_handles) '
ps -o rss=,vsz= -p "$pid" | awk '{printf "tenantd RSS %.1f MiB\n", $1/1024}'
