#!/bin/sh
# tests/integration/tenantctl_ops.sh: tenantctl's operations commands
# against a private tenantd.
#
# export: a SQLite file that passes integrity_check and holds the rows
# written through the API, a SQL dump that sqlite3 loads, -o - and --json;
# an unknown tenant (exit 1) and a directory that cannot be written leave
# no file and no temporary file, and an existing file is left as it was.
# Against a stub daemon: a body cut short, a stalled body (--timeout), a
# signal mid-download (no file, no temporary file) and a chunked body
# larger than the 16 MiB cap on JSON answers.
# migrate: --tenants, a new file applied (exit 0, show says the new
# version), --dry-run (versions unchanged), a file that fails for one
# tenant's data (exit 1, the tenant and the file, last_error in show),
# --detach, --json, refusals; migrations list and show.
# schema list/show/verify, and verify catching an edited applied file
# after SIGHUP; the schemas alias.  token create for a tenant, --ro,
# --ttl, --admin, and refusals.  Progress bars on a terminal (script(1)),
# none otherwise.  --help of every new command.
#
# Prints TAP.  Needs tests/lib.sh, sqlite3 (export checks are skipped
# without it) and python3 (the stub daemon; skipped without it).
#
# Each check's condition is a single-quoted string that check() evaluates
# after the run, hence:
# shellcheck disable=SC2016,SC2034

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
. "$TOP_SRCDIR/tests/lib.sh"
TENANTCTL=${TENANTCTL:-$TOP_BUILDDIR/admin-cli/tenantctl}

# lib.sh removes $TD_TMP when the script exits.
tmp=$TD_TMP/ops
sdir=$TD_TMP/schemas
mkdir "$tmp" "$sdir" || exit 1
cp -r "$TOP_SRCDIR/schemas/notes" "$sdir/" || exit 1
n=0
failed=0
rc=0
CR=$(printf '\r')

check() {
	n=$((n + 1))
	if eval "$2"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
		echo "#   exit status $rc"
		sed -n '1,12s/^/#   stdout: /p' "$tmp/out" 2>/dev/null
		sed -n '1,12s/^/#   stderr: /p' "$tmp/err" 2>/dev/null
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# run ARGS...: tenantctl without TENANTD_* variables and without a
# terminal; rc, $tmp/out and $tmp/err hold the result.
run() {
	(
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
		exec "$TENANTCTL" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

ctl() {
	run --socket "$TD_SOCK" "$@"
}

# sql TENANT SQL: run one statement through the data plane.
sql() {
	td_curl POST "/t/$1/v2/pipeline" "{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"$2\"}},{\"type\":\"close\"}]}"
}

# version TENANT: the version show prints.
version() {
	ctl show "$1"
	sed -n 's/^version: *//p' "$tmp/out"
}

# Temporary files an export left in a directory.
leftovers() {
	find "$1" -name '*.tmp*' | wc -l | tr -d ' '
}

json_ok() {
	python3 -c 'import json, sys; json.load(sys.stdin)' <"$1" \
	    >/dev/null 2>&1
}

# The claims of a JWT (its middle part), decoded.
jwt_claims() {
	printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+' | awk '{
		s = $0
		while (length(s) % 4 != 0)
			s = s "="
		print s
	}' | base64 -d 2>/dev/null
}

have() {
	command -v "$1" >/dev/null 2>&1
}

if ! td_start --schemas "$sdir"; then
	echo "Bail out! cannot start tenantd"
	exit 1
fi

# --- export ----------------------------------------------------------------
ctl create alice --schema notes
sql alice "INSERT INTO notes (title, body) VALUES ('first', 'one'), ('second', 'two'), ('third', 'three')" >/dev/null

ctl export alice -o "$tmp/alice.db"
size=$(wc -c <"$tmp/alice.db" 2>/dev/null | tr -d ' ')
check "export alice -o FILE exits 0 and says how many bytes it wrote" \
    '[ $rc -eq 0 ] && [ -n "$size" ] && [ "$size" -gt 0 ] &&
    grep -q "^exported alice: $size bytes to $tmp/alice.db$" "$tmp/out"'
check "export prints nothing on stderr without a terminal" '[ ! -s "$tmp/err" ]'
check "export leaves no temporary file" '[ "$(leftovers "$tmp")" = 0 ]'
if have sqlite3; then
	check "the exported file passes PRAGMA integrity_check" \
	    '[ -s "$tmp/alice.db" ] && [ "$(sqlite3 "$tmp/alice.db" "PRAGMA integrity_check")" = ok ]'
	check "the exported file holds the rows written through the API" \
	    '[ "$(sqlite3 "$tmp/alice.db" "SELECT group_concat(title, \",\") FROM (SELECT title FROM notes ORDER BY id)")" = "first,second,third" ]'
else
	skip "the exported file passes PRAGMA integrity_check" "no sqlite3"
	skip "the exported file holds the rows written through the API" \
	    "no sqlite3"
fi

ctl export alice -o "$tmp/alice.sql" --format sql
check "export --format sql exits 0" \
    '[ $rc -eq 0 ] && grep -q "CREATE TABLE notes" "$tmp/alice.sql"'
if have sqlite3; then
	sqlite3 "$tmp/new.db" <"$tmp/alice.sql" >/dev/null 2>&1
	check "the SQL dump loads with sqlite3 new.db < FILE, rows and version included" \
	    '[ "$(sqlite3 "$tmp/new.db" "SELECT count(*) FROM notes")" = 3 ] &&
	    [ "$(sqlite3 "$tmp/new.db" "PRAGMA user_version")" = 3 ]'
else
	skip "the SQL dump loads with sqlite3" "no sqlite3"
fi

ctl export alice -o - --format sql
check "export -o - writes the dump to stdout and nothing else" \
    '[ $rc -eq 0 ] && cmp -s "$tmp/out" "$tmp/alice.sql"'

ctl --json export alice -o "$tmp/alice2.db"
check "export --json prints the id, the file and the byte count" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" &&
    grep -q "\"bytes\": $(wc -c <"$tmp/alice2.db" | tr -d " ")" "$tmp/out" &&
    grep -q "\"file\": \"$tmp/alice2.db\"" "$tmp/out"'

ctl export nobody -o "$tmp/nobody.db"
check "export of an unknown tenant exits 1 with TENANT_NOT_FOUND" \
    '[ $rc -eq 1 ] && grep -q "(TENANT_NOT_FOUND)$" "$tmp/err"'
check "and leaves neither the file nor a temporary file" \
    '[ ! -e "$tmp/nobody.db" ] && [ "$(leftovers "$tmp")" = 0 ]'

echo "keep me" >"$tmp/keep.db"
ctl export nobody -o "$tmp/keep.db"
check "a failed export leaves an existing file as it was" \
    '[ $rc -eq 1 ] && [ "$(cat "$tmp/keep.db")" = "keep me" ]'

ctl export alice -o "$tmp/no-such-dir/x.db"
check "export into a directory that does not exist exits 1 and says why" \
    '[ $rc -eq 1 ] && grep -q "cannot create a temporary file next to $tmp/no-such-dir/x.db" "$tmp/err"'

mkdir "$tmp/ro"
chmod 555 "$tmp/ro"
if [ "$(id -u)" -ne 0 ]; then
	ctl export alice -o "$tmp/ro/x.db"
	check "export into a read-only directory exits 1, no file, no temporary file" \
	    '[ $rc -eq 1 ] && grep -q "Permission denied" "$tmp/err" &&
	    [ ! -e "$tmp/ro/x.db" ] && [ "$(leftovers "$tmp/ro")" = 0 ]'
else
	skip "export into a read-only directory exits 1" \
	    "root writes to read-only directories"
fi
chmod 755 "$tmp/ro"
ctl export alice -o "$tmp/ro"
check "export onto a directory exits 1 and leaves it alone" \
    '[ $rc -eq 1 ] && grep -q "is a directory" "$tmp/err" &&
    [ "$(leftovers "$tmp/ro")" = 0 ]'

ctl export alice
check "export without -o exits 2" '[ $rc -eq 2 ] && grep -q -- "-o FILE" "$tmp/err"'
ctl export alice -o "$tmp/x.db" --format csv
check "export --format csv exits 2" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: export: --format must be sqlite or sql$" "$tmp/err" &&
    [ ! -e "$tmp/x.db" ]'
run --socket "$tmp/none.sock" export ../x -o "$tmp/x.db"
check "export of a bad id exits 2 before contacting the daemon" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: export: invalid tenant id" "$tmp/err" &&
    [ "$(leftovers "$tmp")" = 0 ]'
run --socket "$tmp/none.sock" export alice -o "$tmp/x.db"
check "export with no daemon exits 3 and removes its temporary file" \
    '[ $rc -eq 3 ] && [ ! -e "$tmp/x.db" ] && [ "$(leftovers "$tmp")" = 0 ]'

# A stub daemon for what tenantd itself never does.
if have python3; then
	python3 - "$tmp/stub.sock" <<'EOF' &
import socket, sys, threading, time
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen(16)
JOB = (b'{"id":%d,"schema":"s","to":2,"state":"running","total":10,'
       b'"done":3,"failed":1,"skipped":0,"pending":6,"running":1,'
       b'"rate_per_s":2.5,"eta_s":2.4,"message":null}')
def reply(c, status, body):
    c.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (status, len(body)) + body)
def serve(c):
    try:
        answer(c)
    except OSError:
        pass                        # tenantctl hung up: what we test
    c.close()
def read_request(c):
    # The whole request: headers, then Content-Length bytes of body (one
    # recv may end between them, when the machine is busy).
    data = b""
    while b"\r\n\r\n" not in data:
        more = c.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    while len(body) < n:
        more = c.recv(65536)
        if not more:
            break
        body += more
    return (head + b"\r\n\r\n" + body).decode()
def answer(c):
    req = read_request(c)
    path = req.split(" ")[1]
    if path == "/v1/migrations":
        reply(c, b"202 Accepted", JOB % (8 if '"gone"' in req else 7))
    elif path == "/v1/migrations/7":
        reply(c, b"200 OK", JOB % 7)
    elif path == "/v1/migrations/8":
        pass                        # the daemon went away
    elif "/short/" in path:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
    elif "/stall/" in path:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        time.sleep(60)
    elif "/big/" in path:
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"y" * 65536 + b"\r\n"
        for _ in range(320):        # 20 MiB
            c.sendall(chunk)
        c.sendall(b"0\r\n\r\n")
    else:
        body = b'{"message":"the export failed","code":"EXPORT_FAILED"}'
        c.sendall(b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
	stub_pid=$!
	i=0
	while [ ! -S "$tmp/stub.sock" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done

	run --socket "$tmp/stub.sock" export short -o "$tmp/short.db"
	check "a body cut short exits 3, naming how much arrived" \
	    '[ $rc -eq 3 ] && grep -q "closed after 1000 of 100000 body bytes" "$tmp/err"'
	check "and leaves neither the file nor a temporary file" \
	    '[ ! -e "$tmp/short.db" ] && [ "$(leftovers "$tmp")" = 0 ]'

	run --socket "$tmp/stub.sock" --timeout 1 export stall -o "$tmp/stall.db"
	check "a body that stalls exits 3 after --timeout seconds of silence" \
	    '[ $rc -eq 3 ] && grep -q "no data from unix socket .* for 1 seconds" "$tmp/err" &&
	    [ ! -e "$tmp/stall.db" ] && [ "$(leftovers "$tmp")" = 0 ]'

	run --socket "$tmp/stub.sock" export big -o "$tmp/big.db"
	check "a chunked body over the 16 MiB JSON cap streams to the file" \
	    '[ $rc -eq 0 ] && [ "$(wc -c <"$tmp/big.db" | tr -d " ")" = 20971520 ]'

	run --socket "$tmp/stub.sock" export fail -o "$tmp/fail.db"
	check "a chunked JSON error body is printed as the daemon's message" \
	    '[ $rc -eq 1 ] && grep -q "the export failed (EXPORT_FAILED)" "$tmp/err" &&
	    [ ! -e "$tmp/fail.db" ]'

	# A signal in the middle of a download removes the temporary file.
	"$TENANTCTL" --socket "$tmp/stub.sock" export stall -o "$tmp/sig.db" \
	    >"$tmp/out" 2>"$tmp/err" </dev/null &
	ctl_pid=$!
	i=0
	while [ "$(leftovers "$tmp")" = 0 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	had=$(leftovers "$tmp")
	kill -TERM "$ctl_pid"
	wait "$ctl_pid" 2>/dev/null
	rc=$?
	check "SIGTERM during a download removes the temporary file" \
	    '[ "$had" = 1 ] && [ $rc -ne 0 ] && [ ! -e "$tmp/sig.db" ] &&
	    [ "$(leftovers "$tmp")" = 0 ]'

	# Writes that fail (the file size limit; SIGXFSZ ignored so that
	# write(2) returns EFBIG) leave no file and no temporary file.
	(
		ulimit -f 64
		trap '' XFSZ
		exec "$TENANTCTL" --socket "$tmp/stub.sock" export big \
		    -o "$tmp/efbig.db"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	check "a write that fails exits 1, naming the file, and leaves nothing" \
	    '[ $rc -eq 1 ] && grep -q "cannot write $tmp/efbig.db.tmp.*: File too large" "$tmp/err" &&
	    [ ! -e "$tmp/efbig.db" ] && [ "$(leftovers "$tmp")" = 0 ]'

	# A rollout that keeps running: plain progress lines, then a signal.
	# It is polled five times a second but prints at most once a second:
	# over S seconds, at most S + 1 lines (S measured, not assumed).
	t0=$(date +%s)
	"$TENANTCTL" --socket "$tmp/stub.sock" migrate --schema hang \
	    >"$tmp/out" 2>"$tmp/err" </dev/null &
	ctl_pid=$!
	sleep 2
	kill -TERM "$ctl_pid"
	wait "$ctl_pid" 2>/dev/null
	rc=$?
	secs=$(($(date +%s) - t0 + 1))
	lines=$(grep -c "^rollout 7: " "$tmp/err")
	check "migrate without a terminal prints plain progress lines" \
	    'grep -q "^rollout 7: 3/10 done, 1 failed, 2.5/s$" "$tmp/err" &&
	    ! grep -q "$CR" "$tmp/err"'
	check "at most one progress line a second ($lines in about $secs s)" \
	    '[ "$lines" -ge 2 ] && [ "$lines" -le $((secs + 1)) ]'
	check "a signal says the rollout continues in the daemon" \
	    '[ $rc -ne 0 ] &&
	    grep -q "^tenantctl: rollout 7 continues in the daemon; follow it with tenantctl migrations show 7$" "$tmp/err"'

	run --socket "$tmp/stub.sock" migrate --schema gone
	check "losing the daemon while following a rollout exits 3 and says it continues" \
	    '[ $rc -eq 3 ] && grep -q "closed the connection without a response" "$tmp/err" &&
	    grep -q "rollout 8 continues in the daemon" "$tmp/err"'

	kill "$stub_pid" 2>/dev/null
	wait "$stub_pid" 2>/dev/null
else
	for t in "a body cut short exits 3" "and leaves no file" \
	    "a body that stalls exits 3" "a chunked body over the cap" \
	    "a chunked JSON error body" "SIGTERM during a download" \
	    "a write that fails exits 1" "migrate prints plain progress lines" \
	    "at most one progress line a second" \
	    "a signal says the rollout continues" \
	    "losing the daemon while following a rollout exits 3"; do
		skip "$t" "no python3"
	done
fi

# --- migrate ---------------------------------------------------------------
for t in t1 t2 t3 t4 t5; do
	ctl create "$t" --schema notes
done
# Titles that a unique index (0005 below) cannot take.
sql t3 "INSERT INTO notes (title) VALUES ('same'), ('same')" >/dev/null

cat >"$sdir/notes/0004_pinned.sql" <<'SQL'
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
SQL

ctl migrate --schema notes --to 4 --tenants t1,t2
check "migrate --tenants t1,t2 exits 0 and says it succeeded" \
    '[ $rc -eq 0 ] && grep -q "^rollout [0-9]*: succeeded$" "$tmp/out" &&
    grep -q "2 tenants, 2 done, 0 failed" "$tmp/out"'
check "migrate draws no progress bar without a terminal" \
    '! grep -q "$CR" "$tmp/err" && ! grep -q "$CR" "$tmp/out"'
check "the listed tenants are at version 4, the others are not" \
    '[ "$(version t1)" = 4 ] && [ "$(version t2)" = 4 ] &&
    [ "$(version t4)" = 3 ]'

ctl migrate --schema notes
check "migrate --schema notes with a new 0004 file exits 0" \
    '[ $rc -eq 0 ] && grep -q "^rollout [0-9]*: succeeded$" "$tmp/out"'
check "show reports version 4 for every tenant" \
    '[ "$(version t3)" = 4 ] && [ "$(version t5)" = 4 ] &&
    [ "$(version alice)" = 4 ]'

cat >"$sdir/notes/0005_unique_titles.sql" <<'SQL'
CREATE UNIQUE INDEX notes_title ON notes (title);
SQL

ctl migrate --schema notes --dry-run --continue-on-error
check "migrate --dry-run reports the tenant that would fail, and exits 1" \
    '[ $rc -eq 1 ] && grep -q "dry run" "$tmp/out" &&
    grep -q "^t3  *4  *0005_unique_titles.sql  *dry run: .*UNIQUE constraint failed" "$tmp/out"'
check "--dry-run leaves every version unchanged" \
    '[ "$(version t1)" = 4 ] && [ "$(version t3)" = 4 ] &&
    [ "$(version t5)" = 4 ]'

ctl migrate --schema notes --continue-on-error
check "a migration that fails for one tenant exits 1" \
    '[ $rc -eq 1 ] && grep -q "completed with errors: 1 of 6 tenants failed" "$tmp/err"'
check "and prints the failing tenant, its version, the file and the error" \
    'grep -q "^TENANT  *VERSION  *FILE  *ERROR$" "$tmp/out" &&
    grep -q "^t3  *4  *0005_unique_titles.sql  *0005_unique_titles.sql line 1: UNIQUE constraint failed: notes.title$" "$tmp/out"'
failed_job=$(sed -n 's/^rollout \([0-9]*\): .*/\1/p' "$tmp/out")
check "the other tenants reached version 5" \
    '[ "$(version t1)" = 5 ] && [ "$(version t5)" = 5 ]'
ctl show t3
check "show of the failing tenant prints version 4 and its last_error" \
    '[ $rc -eq 0 ] && grep -q "^version: *4$" "$tmp/out" &&
    grep -q "^last_error: .*0005_unique_titles.sql.*UNIQUE constraint failed" "$tmp/out"'

ctl migrations list
check "migrations list prints its columns, newest first" \
    '[ $rc -eq 0 ] &&
    head -n 1 "$tmp/out" | grep -q "^ID  *SCHEMA  *TO  *STATE  *DONE  *FAILED  *TOTAL  *CREATED$" &&
    sed -n 2p "$tmp/out" | grep -q "^$failed_job  *notes  *5  *completed_with_errors  *5  *1  *6  *20" &&
    [ $(awk "NR > 1" "$tmp/out" | wc -l) -eq 4 ]'
ctl migrations show "$failed_job"
check "migrations show prints the fields and the failures table" \
    '[ $rc -eq 0 ] && grep -q "^state: *completed_with_errors$" "$tmp/out" &&
    grep -q "^failed: *1$" "$tmp/out" && grep -q "^to: *5$" "$tmp/out" &&
    grep -q "^t3  *4  *0005_unique_titles.sql " "$tmp/out"'
ctl --json migrations show "$failed_job"
check "migrations show --json prints the job document with its failures" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" && grep -q "\"tenant\": \"t3\"" "$tmp/out"'
ctl migrations show 99999
check "migrations show of an unknown rollout exits 1" \
    '[ $rc -eq 1 ] && grep -q "(ROLLOUT_NOT_FOUND)$" "$tmp/err"'
run --socket "$tmp/none.sock" migrations show abc
check "migrations show abc exits 2 before contacting the daemon" \
    '[ $rc -eq 2 ] && grep -q "invalid rollout id .abc." "$tmp/err"'

ctl --json migrate --schema notes --tenants t1,t2 --to 5
check "migrate --json prints the finished job as JSON" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" &&
    grep -q "\"state\": \"succeeded\"" "$tmp/out"'

ctl migrate --schema notes --tenants t1 --to 5 --detach
job=$(sed -n 's/^rollout \([0-9]*\) started: .*/\1/p' "$tmp/out")
check "migrate --detach prints the rollout id and how to follow it" \
    '[ $rc -eq 0 ] && [ -n "$job" ] &&
    grep -q "tenantctl migrations show $job$" "$tmp/out"'
i=0
while [ $i -lt 100 ]; do
	ctl migrations show "$job"
	grep -q "^state: *succeeded$" "$tmp/out" && break
	sleep 0.1
	i=$((i + 1))
done
check "the detached rollout finishes in the daemon" \
    'grep -q "^state: *succeeded$" "$tmp/out" && grep -q "^tenants: *t1$" "$tmp/out"'

ctl migrate --schema notes --to 99
check "migrate --to beyond the latest exits 1 with TARGET_OUT_OF_RANGE" \
    '[ $rc -eq 1 ] && grep -q "(TARGET_OUT_OF_RANGE)$" "$tmp/err"'
ctl migrate --schema nope
check "migrate of an unknown schema exits 1 with SCHEMA_NOT_FOUND" \
    '[ $rc -eq 1 ] && grep -q "(SCHEMA_NOT_FOUND)$" "$tmp/err"'
for args in "" "--schema notes --tenants t1,../x" "--schema notes --tenants t1,,t2" \
    "--schema notes --parallel 0" "--schema notes --to -1" "--schema a/b" \
    "--schema notes extra"; do
	# shellcheck disable=SC2086
	run --socket "$tmp/none.sock" migrate $args
	check "migrate $args exits 2 before contacting the daemon" \
	    '[ $rc -eq 2 ] && grep -q "^tenantctl: migrate: " "$tmp/err"'
done

# --- schema ----------------------------------------------------------------
ctl schema list
check "schema list prints NAME LATEST EDITED" \
    '[ $rc -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^NAME  *LATEST  *EDITED$" &&
    grep -q "^notes  *5  *-$" "$tmp/out"'
cp "$tmp/out" "$tmp/schema-list"
ctl schemas
check "schemas prints the same as schema list" \
    '[ $rc -eq 0 ] && cmp -s "$tmp/out" "$tmp/schema-list"'

ctl schema show notes
sum1=$(sha256sum "$sdir/notes/0001_notes.sql" 2>/dev/null | cut -d" " -f1)
check "schema show lists every file with its checksum and down file" \
    '[ $rc -eq 0 ] &&
    grep -q "^VERSION  *FILE  *CHECKSUM  *DOWN$" "$tmp/out" &&
    grep -q "^1  *0001_notes.sql  *$sum1  *0001_notes.down.sql$" "$tmp/out" &&
    grep -q "^5  *0005_unique_titles.sql  *[0-9a-f]\{64\}  *-$" "$tmp/out"'
check "schema show counts the tenants at each version" \
    'grep -q "^VERSION  *TENANTS$" "$tmp/out" &&
    grep -q "^4  *1$" "$tmp/out" && grep -q "^5  *5$" "$tmp/out" &&
    grep -q "^3  *0$" "$tmp/out"'
ctl schema verify notes
check "schema verify exits 0 while no applied file changed" \
    '[ $rc -eq 0 ] && grep -q "no applied file was edited" "$tmp/out"'
ctl schema show nope
check "schema show of an unknown schema exits 1" \
    '[ $rc -eq 1 ] && grep -q "(SCHEMA_NOT_FOUND)$" "$tmp/err"'
run --socket "$tmp/none.sock" schema verify ../notes
check "schema verify of a bad name exits 2 before contacting the daemon" \
    '[ $rc -eq 2 ] && grep -q "invalid schema name" "$tmp/err"'

# Edit an applied file; the daemon notices when it reads the sets again.
cp "$sdir/notes/0002_tags.sql" "$tmp/0002_tags.sql.orig"
echo "-- an edit" >>"$sdir/notes/0002_tags.sql"
kill -HUP "$TD_PID"
i=0
while [ $i -lt 100 ]; do
	ctl schema verify notes
	[ $rc -ne 0 ] && break
	sleep 0.1
	i=$((i + 1))
done
check "schema verify exits 1 after an applied file was edited, naming it" \
    '[ $rc -eq 1 ] && grep -q "^tenantctl: schema notes: 0002_tags.sql was edited" "$tmp/err"'
ctl schema list
check "schema list shows the edit in the EDITED column" \
    'grep -q "^notes  *5  *0002_tags.sql was edited" "$tmp/out"'
ctl migrate --schema notes
check "migrate of an edited schema exits 1 with SCHEMA_EDITED" \
    '[ $rc -eq 1 ] && grep -q "(SCHEMA_EDITED)$" "$tmp/err"'
cp "$tmp/0002_tags.sql.orig" "$sdir/notes/0002_tags.sql"
kill -HUP "$TD_PID"
i=0
while [ $i -lt 100 ]; do
	ctl schema verify notes
	[ $rc -eq 0 ] && break
	sleep 0.1
	i=$((i + 1))
done
check "restoring the file makes schema verify exit 0 again" '[ $rc -eq 0 ]'

# --- token -----------------------------------------------------------------
jwt='^[A-Za-z0-9_-]\{1,\}\.[A-Za-z0-9_-]\{1,\}\.[A-Za-z0-9_-]\{1,\}$'
ctl token create alice
tok=$(cat "$tmp/out")
check "token create alice prints one line: a JWT of three parts" \
    '[ $rc -eq 0 ] && [ $(wc -l <"$tmp/out") -eq 1 ] && grep -q "$jwt" "$tmp/out"'
check "its claims name the tenant with read-write access" \
    'jwt_claims "$tok" | grep -q "\"id\":\"alice\"" &&
    jwt_claims "$tok" | grep -q "\"a\":\"rw\""'
TOKEN=$(unset TENANTD_URL TENANTD_DATA TENANTD_TOKEN;
    "$TENANTCTL" --socket "$TD_SOCK" token create alice 2>/dev/null)
check "TOKEN=\$(tenantctl token create alice) captures just the token" \
    'printf "%s\n" "$TOKEN" | grep -q "$jwt"'

ctl token create alice --ro --ttl 60
tok=$(cat "$tmp/out")
check "token create --ro --ttl 60 gives a read-only token that expires" \
    '[ $rc -eq 0 ] && grep -q "$jwt" "$tmp/out" &&
    jwt_claims "$tok" | grep -q "\"a\":\"ro\"" &&
    jwt_claims "$tok" | grep -q "\"exp\":"'
ctl --json token create alice --ro --ttl 60
check "token create --json prints the access and the expiry" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" && grep -q "\"access\": \"ro\"" "$tmp/out" &&
    grep -q "\"expires\": \"20" "$tmp/out"'
ctl token create --admin
tok=$(cat "$tmp/out")
check "token create --admin gives an admin token" \
    '[ $rc -eq 0 ] && grep -q "$jwt" "$tmp/out" &&
    jwt_claims "$tok" | grep -q "\"adm\":true"'
ctl token create --admin --ttl 3600
check "token create --admin --ttl 3600 works" \
    '[ $rc -eq 0 ] && grep -q "$jwt" "$tmp/out"'
ctl token create nobody
check "token create for an unknown tenant exits 1" \
    '[ $rc -eq 1 ] && grep -q "(TENANT_NOT_FOUND)$" "$tmp/err" && [ ! -s "$tmp/out" ]'
for args in "" "--admin alice" "--admin --ro" "alice --ttl 0" "alice --ttl soon" \
    "../x"; do
	# shellcheck disable=SC2086
	run --socket "$tmp/none.sock" token create $args
	check "token create $args exits 2 before contacting the daemon" \
	    '[ $rc -eq 2 ] && grep -q "^tenantctl: token create: " "$tmp/err"'
done

# --- progress on a terminal ------------------------------------------------
if have script && script -q -c true /dev/null >/dev/null 2>&1 </dev/null; then
	script -q -c "'$TENANTCTL' --socket '$TD_SOCK' export alice -o '$tmp/tty.db'" \
	    "$tmp/typescript" >/dev/null 2>&1 </dev/null
	check "export on a terminal draws a progress bar that reaches 100%" \
	    'grep -q "$CR\[=*\] 100%" "$tmp/typescript" && [ -s "$tmp/tty.db" ]'
	cat >"$sdir/notes/0006_archived.sql" <<'SQL'
ALTER TABLE notes ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
SQL
	script -q -c "'$TENANTCTL' --socket '$TD_SOCK' migrate --schema notes --tenants t1,t2" \
	    "$tmp/typescript" >/dev/null 2>&1 </dev/null
	check "migrate on a terminal draws a bar with done/total" \
	    'grep -q "${CR}rollout [0-9]* \[=*\] 2/2 done  0 failed" "$tmp/typescript" &&
	    [ "$(version t1)" = 6 ]'
else
	skip "export on a terminal draws a progress bar" "no script(1)"
	skip "migrate on a terminal draws a bar" "no script(1)"
fi

# --- help ------------------------------------------------------------------
for c in export migrate "migrations list" "migrations show" "schema list" \
    "schema show" "schema verify" "token create"; do
	# shellcheck disable=SC2086
	run --socket "$tmp/none.sock" $c --help
	check "$c --help exits 0" \
	    '[ $rc -eq 0 ] && grep -q "^usage: tenantctl.* $c" "$tmp/out"'
	# shellcheck disable=SC2086
	run --socket "$tmp/none.sock" help $c
	check "help $c exits 0 and prints the same" \
	    '[ $rc -eq 0 ] && grep -q "^usage: tenantctl.* $c" "$tmp/out"'
	run --socket "$tmp/none.sock" help
	check "help lists $c" 'grep -q "^  $c" "$tmp/out"'
done
run --socket "$tmp/none.sock" schema
check "schema without a command exits 2 and lists its commands" \
    '[ $rc -eq 2 ] && grep -q "^  schema verify NAME" "$tmp/err"'
run --socket "$tmp/none.sock" migrations frob
check "an unknown command of a group exits 2" \
    '[ $rc -eq 2 ] && grep -q "unknown command .migrations frob." "$tmp/err"'

echo "1..$n"
[ "$failed" -eq 0 ]
