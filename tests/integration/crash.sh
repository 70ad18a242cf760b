#!/bin/sh
# Create, first open and delete are crash-safe: the daemon dies (as kill -9
# would) at each step; after a restart catalog and files agree, nothing
# acknowledged is lost, and no half-made file is left anywhere.
. "$TOP_SRCDIR/tests/lib.sh"

files_of() {	# tenant ids that have a database file
	find "$TD_DATA/tenants" -name '*.db' | sed 's|.*/||; s|\.db$||' | sort | tr '\n' ' '
}
listed() {	# tenant ids in the catalog
	td_curl GET /v1/tenants | grep -o '"id":"[^"]*"' | sed 's/"id":"//; s/"//' | sort | tr '\n' ' '
}
made() {	# tenant ids whose record says materialized
	td_curl GET /v1/tenants | grep -o '"id":"[^"]*"[^}]*"materialized":true' |
	    sed 's/"id":"//; s/".*//' | sort | tr '\n' ' '
}
tmp_files() {	# anything left in DATA/tmp (half-made files live there)
	find "$TD_DATA/tmp" -type f | wc -l | tr -d ' '
}
query() {	# query TENANT SQL: the pipeline's answer
	curl -sS "$TD_URL/t/$1/v2/pipeline" -d '{"requests":[{"type":"execute","stmt":{"sql":"'"$2"'"}},{"type":"close"}]}'
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
query keep "INSERT INTO notes (title) VALUES ('kept')" >/dev/null

# A 201 is durable: kill -9 right after it.
r=$(td_curl POST /v1/tenants '{"id":"durable"}')
tap_is "create: 201" "${r##* }" 201
td_kill9
td_start --default-schema notes
tap_is "after kill -9 the acknowledged tenant is listed" "$(listed)" "durable keep "
r=$(query durable "SELECT count(*) FROM notes")
tap_ok "and opens with the schema's tables" sh -c "echo '$r' | grep -q '\"type\":\"ok\".*\"value\":\"0\"'"
td_curl DELETE /v1/tenants/durable >/dev/null
td_stop

# Dying after the commit, before the answer: the tenant exists (a commit
# whose answer was lost), without a file until it is opened.
start_crashing create-after-record || { echo "not ok - start (create-after-record)"; tap_done; }
td_curl POST /v1/tenants '{"id":"victim"}' >/dev/null 2>&1
wait_crash
td_start --default-schema notes
tap_is "create-after-record: the committed tenant is listed" "$(listed)" "keep victim "
tap_is "create-after-record: without a file yet" "$(files_of)" "keep "
r=$(query victim "SELECT count(*) FROM notes")
tap_ok "create-after-record: it opens with the schema's tables" \
    sh -c "echo '$r' | grep -q '\"type\":\"ok\".*\"value\":\"0\"'"
tap_is "create-after-record: catalog and files agree once opened" "$(made)" "$(files_of)"
td_curl DELETE /v1/tenants/victim >/dev/null
td_stop

# Dying inside the first open's materialization.
for point in materialize-before-link materialize-before-record; do
	start_crashing $point || { echo "not ok - start ($point)"; tap_done; }
	r=$(td_curl POST /v1/tenants '{"id":"lazy"}')
	tap_is "$point: create: 201" "${r##* }" 201
	query lazy "SELECT 1" >/dev/null 2>&1
	wait_crash
	tap_ok "$point: the daemon died there" \
	    grep -q "crash point $point reached" "$TD_TMP/tenantd.log"
	[ $point = materialize-before-link ] &&
	    tap_is "$point: the half-made file is in DATA/tmp" "$(tmp_files)" 1
	td_start --default-schema notes
	tap_is "$point: after restart the tenant is listed" "$(listed)" "keep lazy "
	tap_is "$point: no half-made file is left" "$(tmp_files)" 0
	case $point in
	materialize-before-link)
		tap_is "$point: the file was never put in place" "$(files_of)" "keep " ;;
	materialize-before-record)
		tap_is "$point: the file is in place, not yet recorded" \
		    "$(files_of) / $(made)" "keep lazy  / keep " ;;
	esac
	query lazy "INSERT INTO notes (title) VALUES ('after')" >/dev/null
	r=$(query lazy "SELECT title FROM notes")
	tap_ok "$point: the tenant opens and takes writes" \
	    sh -c "echo '$r' | grep -q '\"value\":\"after\"'"
	r=$(td_curl GET /v1/tenants/lazy)
	tap_ok "$point: at the schema's version, marked materialized" \
	    sh -c "echo '$r' | grep -q '\"version\":3.*\"materialized\":true'"
	tap_is "$point: catalog and files agree" "$(made)" "$(files_of)"
	r=$(td_curl GET /v1/tenants/lazy/check)
	tap_ok "$point: check finds nothing wrong" \
	    sh -c "echo '$r' | grep -q '\"ok\":true.*\"file_version\":3'"
	tap_is "$point: no temporary file is left" "$(tmp_files)" 0
	td_curl DELETE /v1/tenants/lazy >/dev/null
	td_stop
done

for point in delete-after-record delete-after-unlink; do
	start_crashing $point || { echo "not ok - start ($point)"; tap_done; }
	td_curl POST /v1/tenants '{"id":"gone"}' >/dev/null
	query gone "SELECT 1" >/dev/null	# its file exists
	td_curl DELETE /v1/tenants/gone >/dev/null 2>&1
	wait_crash
	td_start --default-schema notes
	tap_is "$point: after restart the delete is finished in the catalog" "$(listed)" "keep "
	tap_is "$point: and on disk" "$(files_of)" "keep "
	td_stop
done

td_start --default-schema notes
r=$(query keep "SELECT title FROM notes")
tap_ok "the untouched tenant kept its data through every crash" \
    sh -c "echo '$r' | grep -q '\"value\":\"kept\"'"
tap_done
