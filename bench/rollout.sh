#!/bin/sh
# bench/rollout.sh [TENANTS]: a small migration (add a column and an index)
# over TENANTS tenants (default 10000) two ways, on identical copies:
#   1. what users write today:
#        for f in tenants/*/*.db; do sqlite3 "$f" < step.sql; done
#   2. a tenantd fleet rollout, --parallel at the core count.
# Prints both times and the ratio.  Creates everything in a temp dir it
# owns and removes it, and the daemon it started, on exit or interrupt.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-10000}
P=$(nproc)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-bench-rollout.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
now() { date +%s.%N; }

mkdir -p "$tmp/schemas/bench"
cat >"$tmp/schemas/bench/0001_kv.sql" <<'SQL'
CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100)
INSERT INTO kv SELECT x, 'value-' || x FROM c;
SQL
start() {
	rm -f "$tmp/ready"
	"$top/tenantd/tenantd" -D "$tmp/data" --schemas "$tmp/schemas" \
	    --ready-file "$tmp/ready" 2>>"$tmp/log" &
	pid=$!
	while [ ! -f "$tmp/ready" ]; do sleep 0.05; done
}
stop() { kill "$pid"; wait "$pid" || true; pid=; }

start
echo "creating $N tenants (schema bench, 100 rows each)..."
t0=$(now)
seq 0 $((N - 1)) | sed 's/.*/{"id":"t&","schema":"bench"}/' |
    xargs -d '\n' -P 8 -I{} curl -s -o /dev/null --unix-socket "$tmp/data/tenantd.sock" \
    -X POST http://localhost/v1/tenants -d {}
echo "  created in $(echo "$(now) - $t0" | bc) s"
stop

# An identical copy for the shell loop.
cp -a "$tmp/data/tenants" "$tmp/loop"
cat >"$tmp/step.sql" <<'SQL'
ALTER TABLE kv ADD COLUMN extra TEXT;
CREATE INDEX kv_v ON kv (v);
SQL
cp "$tmp/step.sql" "$tmp/schemas/bench/0002_extra.sql"

echo "shell loop: sqlite3 FILE < step.sql for every file..."
t0=$(now)
for f in "$tmp"/loop/*/*.db; do sqlite3 "$f" <"$tmp/step.sql"; done
loop=$(echo "$(now) - $t0" | bc)

start
echo "tenantd rollout, --parallel $P..."
t0=$(now)
"$top/admin-cli/tenantctl" -D "$tmp/data" migrate --schema bench --parallel "$P" >"$tmp/migrate.out" 2>&1 || {
	cat "$tmp/migrate.out"; exit 1; }
roll=$(echo "$(now) - $t0" | bc)
stop
# Same result on both sides?
a=$(sqlite3 "$(ls "$tmp"/loop/*/t7.db)" "SELECT count(*) FROM pragma_index_list('kv')")
b=$(sqlite3 "$(ls "$tmp"/data/tenants/*/t7.db)" "SELECT count(*) FROM pragma_index_list('kv')")

printf '\n%-36s %10s\n' "method ($N tenants)" "seconds"
printf '%-36s %10.2f\n' "shell loop (sqlite3 per file)" "$loop"
printf '%-36s %10.2f\n' "tenantd rollout (--parallel $P)" "$roll"
printf 'ratio loop/rollout: %.1fx (target: at least 5x)\n' "$(echo "$loop / $roll" | bc -l)"
printf 'indexes on kv after: loop %s, rollout %s\n' "$a" "$b"
