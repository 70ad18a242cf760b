#!/bin/sh
# Admin API over the unix socket: create, show, list pages, delete,
# errors, metrics, a second daemon refused, SIGHUP schema reload.
. "$TOP_SRCDIR/tests/lib.sh"

# Schemas in a private folder so the test can add a migration.
mkdir -p "$TD_TMP/schemas"
cp -r "$TOP_SRCDIR/schemas/notes" "$TD_TMP/schemas/"
TD_SCHEMAS="$TD_TMP/schemas"
td_start --schemas "$TD_SCHEMAS" || { echo "not ok 1 - tenantd starts"; tap_done; }

r=$(td_curl POST /v1/tenants '{"id":"alice","schema":"notes"}')
tap_is "create alice: 201" "${r##* }" 201
tap_ok "create answer shows schema notes at version 3" \
    sh -c "echo '$r' | grep -q '\"schema\":\"notes\",\"version\":3'"
tap_ok "create answer says the file is not made yet" \
    sh -c "echo '$r' | grep -q '\"materialized\":false'"
tap_is "and no file exists for it yet" \
    "$(find "$TD_DATA/tenants" "$TD_DATA/tmp" -name 'alice.db*' | wc -l | tr -d ' ')" 0
r=$(td_curl POST /v1/tenants '{"id":"alice","schema":"notes"}')
tap_is "create alice again: 409" "${r##* }" 409
r=$(td_curl POST /v1/tenants '{"id":"bob","schema":"nope"}')
tap_is "unknown schema: 404" "${r##* }" 404
r=$(td_curl POST /v1/tenants '{"id":"../etc","schema":"notes"}')
tap_is "bad id in body: 400" "${r##* }" 400
r=$(td_curl POST /v1/tenants '{"id":')
tap_is "malformed body: 400" "${r##* }" 400
r=$(td_curl POST /v1/tenants '{"id":"a\u0000b"}')
tap_is "id with NUL: 400" "${r##* }" 400
r=$(td_curl GET /v1/tenants/alice)
tap_is "show alice: 200" "${r##* }" 200
r=$(td_curl GET /v1/tenants/ghost)
tap_is "show unknown: 404" "${r##* }" 404
r=$(td_curl PUT /v1/tenants/alice '{}')
tap_is "wrong method: 405" "${r##* }" 405
r=$(td_curl GET /v1/nothing)
tap_is "unknown route: 404" "${r##* }" 404
tap_ok "error bodies are JSON with message and code" \
    sh -c "curl -s -i --unix-socket '$TD_SOCK' http://localhost/v1/nothing | grep -q '^Content-Type: application/json' && curl -s --unix-socket '$TD_SOCK' http://localhost/v1/nothing | grep -q '\"message\":.*\"code\":\"NOT_FOUND\"'"

# Paging: 25 tenants, pages of 10.
i=0
while [ $i -lt 25 ]; do
	td_curl POST /v1/tenants "{\"id\":\"page-$(printf %02d $i)\",\"schema\":null}" >/dev/null
	i=$((i + 1))
done
p1=$(td_curl GET '/v1/tenants?prefix=page-&limit=10')
tap_ok "page 1 has 10 tenants and a next cursor" \
    sh -c "echo '$p1' | grep -o '\"id\":\"page-' | wc -l | grep -qx 10 && echo '$p1' | grep -q '\"next\":\"page-09\"'"
p3=$(td_curl GET '/v1/tenants?prefix=page-&limit=10&after=page-19')
tap_ok "page 3 has the last 5 and no next cursor" \
    sh -c "echo '$p3' | grep -o '\"id\":\"page-' | wc -l | grep -qx 5 && echo '$p3' | grep -q '\"next\":null'"
r=$(td_curl GET '/v1/tenants?limit=0')
tap_is "limit=0: 400" "${r##* }" 400
r=$(td_curl GET '/v1/tenants?limit=abc')
tap_is "limit=abc: 400" "${r##* }" 400

# Delete removes the files and the entry.  page-00 is opened first (its
# file is made then); page-01 never is.
curl -sS --unix-socket "$TD_SOCK" http://localhost/t/page-00/v2/pipeline \
    -d '{"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE t (x)"}},{"type":"close"}]}' >/dev/null
f=$(find "$TD_DATA/tenants" -name 'page-00.db')
tap_ok "tenant file exists before delete" test -f "$f"
r=$(td_curl GET /v1/tenants/page-00)
tap_ok "and the record says materialized" \
    sh -c "echo '$r' | grep -q '\"materialized\":true'"
r=$(td_curl DELETE /v1/tenants/page-00)
tap_is "delete: 200" "${r##* }" 200
tap_ok "tenant file is gone after delete" test ! -e "$f"
r=$(td_curl DELETE /v1/tenants/page-00)
tap_is "delete again: 404" "${r##* }" 404
r=$(td_curl DELETE /v1/tenants/page-01)
tap_is "delete of a tenant never opened (no file): 200" "${r##* }" 200
r=$(td_curl GET /v1/tenants/page-01)
tap_is "and it is gone" "${r##* }" 404
tap_is "and no file was made for it" \
    "$(find "$TD_DATA" -name 'page-01.db*' | wc -l | tr -d ' ')" 0

# Health, status, metrics.
r=$(td_curl GET /health)
tap_is "health: 200" "${r##* }" 200
m=$(curl -s --unix-socket "$TD_SOCK" http://localhost/metrics)
tap_ok "metrics count tenants" sh -c "echo '$m' | grep -qx 'tenantd_tenants_total 24'"
tap_ok "metrics count requests by route and code" \
    sh -c "echo '$m' | grep -q '^tenantd_requests_total{route=\"tenants_create\",code=\"201\"} 26$'"
tap_ok "metrics have a latency histogram" \
    sh -c "echo '$m' | grep -q '^tenantd_request_duration_seconds_bucket{route=\"tenants_get\",le=\"+Inf\"} 4$'"

# A second daemon on the same data dir is refused.
"$TENANTD" -D "$TD_DATA" --socket "$TD_TMP/other.sock" --schemas "$TD_SCHEMAS" >"$TD_TMP/second.log" 2>&1
rc=$?
tap_is "a second tenantd on the same data dir exits 1" "$rc" 1
tap_ok "and says the data dir is in use" grep -q "in use" "$TD_TMP/second.log"

# SIGHUP: a new migration file is picked up without a restart.
cat >"$TD_SCHEMAS/notes/0004_pinned.sql" <<'SQL'
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
SQL
kill -HUP "$TD_PID"
n=0
until td_curl GET /v1/schemas | grep -q '"latest":4' || [ $n -ge 200 ]; do
	sleep 0.05; n=$((n + 1))
done
r=$(td_curl GET /v1/schemas)
tap_ok "GET /v1/schemas shows notes at 4" sh -c "echo '$r' | grep -q '\"name\":\"notes\",\"latest\":4'"
r=$(td_curl POST /v1/tenants '{"id":"carol","schema":"notes"}')
tap_ok "a tenant created after the reload is at version 4" sh -c "echo '$r' | grep -q '\"version\":4'"
# A broken file does not take the schema away.
echo "THIS IS NOT SQL;" >"$TD_SCHEMAS/notes/0005_broken.sql"
kill -HUP "$TD_PID"
n=0
until grep -q "keeping the version loaded before" "$TD_TMP/tenantd.log" || [ $n -ge 200 ]; do
	sleep 0.05; n=$((n + 1))
done
tap_ok "the reload logs the broken file and keeps the old set" \
    grep -q "keeping the version loaded before" "$TD_TMP/tenantd.log"
r=$(td_curl POST /v1/tenants '{"id":"dave","schema":"notes"}')
tap_ok "with a broken new file the previous set stays in service" \
    sh -c "echo '$r' | grep -q '\"version\":4'"

td_stop
tap_is "SIGTERM: exit 0" "$?" 0
tap_done
