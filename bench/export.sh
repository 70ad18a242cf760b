#!/bin/sh
# bench/export.sh [MB]: export a tenant of about MB megabytes (default 100)
# through tenantd (GET /v1/tenants/{id}/export, read to a file by curl)
# and, in the same run, copy the same file with the sqlite3 shell's
# ".backup".  Three runs each, medians, and the ratio (target: at most
# 1.3x the shell's time).  Everything lives in a temp dir it removes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
MB=${1:-100}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-bench-export.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
now() { date +%s.%N; }
median() { sort -n | sed -n 2p; }

"$top/tenantd/tenantd" -D "$tmp/data" --listen 127.0.0.1:0 --no-auth \
    --statement-timeout 600000 --ready-file "$tmp/ready" 2>"$tmp/log" &
pid=$!
while [ ! -f "$tmp/ready" ]; do sleep 0.05; done
url="http://$(sed -n 's/^tcp //p' "$tmp/ready")"
curl -s -o /dev/null --unix-socket "$tmp/data/tenantd.sock" -X POST \
    http://localhost/v1/tenants -d '{"id":"big","schema":null}'
rows=$((MB * 1024 / 4))
curl -s -o /dev/null "$url/t/big/v2/pipeline" -d "{\"requests\":[
 {\"type\":\"execute\",\"stmt\":{\"sql\":\"CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB, s TEXT)\"}},
 {\"type\":\"execute\",\"stmt\":{\"sql\":\"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT $rows) INSERT INTO t SELECT x, randomblob(3900), 'row ' || x FROM c\"}},
 {\"type\":\"close\"}]}"
f=$(ls "$tmp"/data/tenants/*/big.db)
echo "tenant file: $(du -m "$f" | cut -f1) MB"

for i in 1 2 3; do
	t0=$(now)
	curl -s -o "$tmp/export.db" "$url/v1/tenants/big/export"
	echo "$(now) - $t0" | bc
done | median >"$tmp/td"
for i in 1 2 3; do
	rm -f "$tmp/shell.db"
	t0=$(now)
	sqlite3 "$f" ".backup '$tmp/shell.db'"
	echo "$(now) - $t0" | bc
done | median >"$tmp/sh"
ok=$(sqlite3 "$tmp/export.db" "PRAGMA integrity_check")
printf '\n%-40s %10s\n' "copy of a $MB MB tenant (median of 3)" "seconds"
printf '%-40s %10.3f\n' "tenantd export over HTTP" "$(cat "$tmp/td")"
printf '%-40s %10.3f\n' "sqlite3 .backup" "$(cat "$tmp/sh")"
printf 'ratio tenantd/shell: %.2fx (target: at most 1.3x); export integrity_check: %s\n' \
    "$(echo "$(cat "$tmp/td") / $(cat "$tmp/sh")" | bc -l)" "$ok"
