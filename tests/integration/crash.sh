#!/bin/sh
# Create and delete are crash-safe: the daemon dies (as kill -9 would) at
# each step of a create or delete; after a restart catalog and files agree
# and nothing acknowledged is lost.
. "$TOP_SRCDIR/tests/lib.sh"

files_of() {	# tenant ids that have a database file
	find "$TD_DATA/tenants" -name '*.db' | sed 's|.*/||; s|\.db$||' | sort | tr '\n' ' '
}
listed() {	# tenant ids in the catalog
	td_curl GET /v1/tenants | grep -o '"id":"[^"]*"' | sed 's/"id":"//; s/"//' | sort | tr '\n' ' '
}
wait_crash() {	# the daemon should be dying; give it 10 s, then kill it
	n=0
	while kill -0 "$TD_PID" 2>/dev/null && [ $n -lt 200 ]; do
		sleep 0.05; n=$((n + 1))
	done
	kill -9 "$TD_PID" 2>/dev/null
	wait "$TD_PID" 2>/dev/null
	TD_PID=
}
start_crashing() {	# start with a crash point armed
	TENANTD_CRASH_AT=$1
	export TENANTD_CRASH_AT
	td_start --default-schema notes
	rc=$?
	unset TENANTD_CRASH_AT
	return $rc
}

td_start --default-schema notes || { echo "not ok 1 - tenantd starts"; tap_done; }
td_curl POST /v1/tenants '{"id":"keep"}' >/dev/null
curl -sS "$TD_URL/t/keep/v2/pipeline" -d '{"requests":[{"type":"execute","stmt":{"sql":"INSERT INTO notes (title) VALUES ('"'"'kept'"'"')"}},{"type":"close"}]}' >/dev/null
td_stop

for point in create-after-record create-after-file; do
	start_crashing $point || { echo "not ok - start ($point)"; tap_done; }
	td_curl POST /v1/tenants '{"id":"victim"}' >/dev/null 2>&1
	wait_crash
	td_start --default-schema notes
	tap_is "$point: after restart the unacknowledged tenant is not listed" "$(listed)" "keep "
	tap_is "$point: and has no file" "$(files_of)" "keep "
	r=$(td_curl POST /v1/tenants '{"id":"victim"}')
	tap_is "$point: the id can be created again" "${r##* }" 201
	td_curl DELETE /v1/tenants/victim >/dev/null
	td_stop
done

for point in delete-after-record delete-after-unlink; do
	start_crashing $point || { echo "not ok - start ($point)"; tap_done; }
	td_curl POST /v1/tenants '{"id":"gone"}' >/dev/null
	td_curl DELETE /v1/tenants/gone >/dev/null 2>&1
	wait_crash
	td_start --default-schema notes
	tap_is "$point: after restart the delete is finished in the catalog" "$(listed)" "keep "
	tap_is "$point: and on disk" "$(files_of)" "keep "
	td_stop
done

td_start --default-schema notes
r=$(curl -sS "$TD_URL/t/keep/v2/pipeline" -d '{"requests":[{"type":"execute","stmt":{"sql":"SELECT title FROM notes"}},{"type":"close"}]}')
tap_ok "the untouched tenant kept its data through four crashes" \
    sh -c "echo '$r' | grep -q '\"value\":\"kept\"'"
tap_done
