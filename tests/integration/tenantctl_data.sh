#!/bin/sh
# tests/integration/tenantctl_data.sh: tenantctl's data commands (import,
# backup, restore, check) against a private tenantd.
#
# import: an export imported under a new id holds the same rows, and so
# does a SQL dump; an existing id needs --replace, and with it the data is
# replaced; a garbage file is refused with the daemon's message and leaves
# the tenant as it was; --schema '' and an unknown schema; a file over
# --max-import is refused with BODY_TOO_LARGE (on the unix socket and on
# TCP), not a broken pipe; a missing file or a directory is a usage error.
# Against a stub daemon: the body waits for 100 Continue (a 413 from the
# head means no body byte is sent), a server that ignores Expect still
# gets the whole file, and an answer midway stops the upload and is shown.
# backup: a new directory gets MANIFEST.json, a relative one is made
# absolute, a non-empty one is refused, --detach; against the stub, plain
# progress lines, a failed backup, and a signal while following one.  restore: into a new data dir (a
# daemon started on it serves the restored rows), into an existing one
# (refused, left alone), tenantd's exit status and arguments passed
# through, and tenantd not found.  check: a healthy tenant, one whose file
# was overwritten (check ID and check --all name it and only it).
# Progress bars on a terminal (script(1)).  --help of each command.
#
# Prints TAP.  Needs tests/lib.sh, sqlite3 and python3 (the stub).
#
# Each check's condition is a single-quoted string that check() evaluates
# after the run, hence:
# shellcheck disable=SC2016,SC2034

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
. "$TOP_SRCDIR/tests/lib.sh"
TENANTCTL=${TENANTCTL:-$TOP_BUILDDIR/admin-cli/tenantctl}

# lib.sh removes $TD_TMP when the script exits.
tmp=$TD_TMP/data-cmds
mkdir "$tmp" || exit 1
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

have() {
	command -v "$1" >/dev/null 2>&1
}

# run ARGS...: tenantctl without TENANTD_* variables and without a
# terminal; rc, $tmp/out and $tmp/err hold the result.
run() {
	(
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN \
		    TENANTD_BIN
		exec "$TENANTCTL" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

# run_in DIR ARGS...: run from DIR.
run_in() {
	(
		cd "$1" || exit 99
		shift
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN \
		    TENANTD_BIN
		exec "$TENANTCTL" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

ctl() {
	run -D "$TD_DATA" "$@"
}

# sql TENANT SQL: one statement through the data plane.
sql() {
	td_curl POST "/t/$1/v2/pipeline" "{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"$2\"}},{\"type\":\"close\"}]}"
}

# titles DATADIR TENANT: the note titles of a tenant, in id order, read
# from an export taken through the daemon on DATADIR.
titles() {
	rm -f "$tmp/titles.db"
	(
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
		exec "$TENANTCTL" -D "$1" export "$2" -o "$tmp/titles.db"
	) >/dev/null 2>&1 </dev/null || { echo "(no export)"; return; }
	sqlite3 "$tmp/titles.db" \
	    "SELECT group_concat(title, ',') FROM (SELECT title FROM notes ORDER BY id)"
}

# wait_backup ID: until GET /v1/backups/ID is no longer running (at most
# TD_WAIT_S seconds); prints its last state.
wait_backup() {
	i=0
	while :; do
		state=$(td_curl GET "/v1/backups/$1" |
		    sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p')
		if [ "$state" != running ] || [ $i -ge $((TD_WAIT_S * 10)) ]; then
			echo "$state"
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

for t in sqlite3 python3; do
	if ! have "$t"; then
		echo "1..0 # SKIP $t is not installed"
		exit 0
	fi
done

TD_START_ARGS="--default-schema notes --max-import 100000"
# shellcheck disable=SC2086
if ! td_start $TD_START_ARGS; then
	echo "Bail out! cannot start tenantd"
	exit 1
fi

# --- import ----------------------------------------------------------------
ctl create alice
sql alice "INSERT INTO notes (title, body) VALUES ('first', 'one'), ('second', 'two'), ('third', 'three')" >/dev/null
ctl create victim
sql victim "INSERT INTO notes (title, body) VALUES ('v1', 'x')" >/dev/null
ctl export alice -o "$tmp/alice.db"
ctl export alice -o "$tmp/alice.sql" --format sql
check "setup: alice has three notes, exported as a file and a dump" \
    '[ "$(titles "$TD_DATA" alice)" = "first,second,third" ] &&
    [ -s "$tmp/alice.db" ] && grep -q "INSERT INTO" "$tmp/alice.sql"'

ctl import bob "$tmp/alice.db"
check "import of an export under a new id exits 0 and says schema and version" \
    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "imported bob (schema notes, version 3)" ] &&
    [ ! -s "$tmp/err" ]'
check "the imported tenant holds the exported rows" \
    '[ "$(titles "$TD_DATA" bob)" = "first,second,third" ]'

ctl import carol "$tmp/alice.sql"
check "import of the SQL dump exits 0" \
    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "imported carol (schema notes, version 3)" ]'
check "the tenant imported from the dump holds the rows" \
    '[ "$(titles "$TD_DATA" carol)" = "first,second,third" ]'

ctl --json import dave "$tmp/alice.db"
check "import --json prints the new tenant" \
    '[ $rc -eq 0 ] && grep -q "\"id\": \"dave\"" "$tmp/out" &&
    grep -q "\"version\": 3" "$tmp/out" && grep -q "\"state\": \"active\"" "$tmp/out"'

sql bob "INSERT INTO notes (title, body) VALUES ('bob-only', 'b')" >/dev/null
ctl import bob "$tmp/alice.db"
check "import over an existing id without --replace exits 1 and mentions replace" \
    '[ $rc -eq 1 ] && grep -q "(TENANT_EXISTS)$" "$tmp/err" &&
    grep -q "^tenantctl: use --replace to replace the data of tenant bob$" "$tmp/err"'
check "and leaves the tenant's data alone" \
    '[ "$(titles "$TD_DATA" bob)" = "first,second,third,bob-only" ]'

ctl import bob "$tmp/alice.db" --replace
check "import --replace exits 0" \
    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "imported bob (schema notes, version 3)" ]'
check "and the data is replaced" \
    '[ "$(titles "$TD_DATA" bob)" = "first,second,third" ]'

printf 'this is not a database, nor SQL\n' >"$tmp/garbage"
sql carol "INSERT INTO notes (title, body) VALUES ('carol-only', 'c')" >/dev/null
ctl import carol "$tmp/garbage" --replace
check "import of a garbage file exits 1 with the daemon's message" \
    '[ $rc -eq 1 ] &&
    grep -q "^tenantctl: the SQL dump does not run: .*syntax error (IMPORT_INVALID)$" "$tmp/err"'
check "and the existing tenant is unchanged" \
    '[ "$(titles "$TD_DATA" carol)" = "first,second,third,carol-only" ]'

head -c 40000 /dev/urandom >"$tmp/noise"
printf 'SQLite format 3\000' | cat - "$tmp/noise" >"$tmp/fake.db"
ctl import carol "$tmp/fake.db" --replace
check "import of a damaged SQLite file exits 1 (IMPORT_INVALID), tenant unchanged" \
    '[ $rc -eq 1 ] && grep -q "(IMPORT_INVALID)$" "$tmp/err" &&
    [ "$(titles "$TD_DATA" carol)" = "first,second,third,carol-only" ]'

ctl import erin "$tmp/alice.db" --schema ''
check "--schema '' imports with no schema: a file made by one is refused" \
    '[ $rc -eq 1 ] && grep -q "(IMPORT_WRONG_SCHEMA)$" "$tmp/err"'
sqlite3 "$tmp/plain.db" "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('a', '1')"
ctl import plain "$tmp/plain.db" --schema ''
check "--schema '' imports a plain database as a tenant without schema" \
    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "imported plain (schema none, version 0)" ]'
ctl import erin "$tmp/alice.db" --schema nosuch
check "import --schema with an unknown schema exits 1 (SCHEMA_NOT_FOUND)" \
    '[ $rc -eq 1 ] && grep -q "(SCHEMA_NOT_FOUND)$" "$tmp/err"'

head -c 5000000 /dev/urandom >"$tmp/big"
ctl import frank "$tmp/big"
check "import of a file over --max-import exits 1 with BODY_TOO_LARGE" \
    '[ $rc -eq 1 ] &&
    grep -q "^tenantctl: request body is larger than the limit .*(BODY_TOO_LARGE)$" "$tmp/err" &&
    ! grep -qi "pipe\|reset\|closed" "$tmp/err"'
run --url "$TD_URL" import frank "$tmp/big"
check "the same over TCP: BODY_TOO_LARGE, not a broken connection" \
    '[ $rc -eq 1 ] && grep -q "(BODY_TOO_LARGE)$" "$tmp/err" &&
    ! grep -qi "pipe\|reset\|closed" "$tmp/err"'
ctl show frank
check "and no tenant was created" '[ $rc -eq 1 ] && grep -q "(TENANT_NOT_FOUND)$" "$tmp/err"'

run --socket "$tmp/none.sock" import frank "$tmp/nope.db"
check "import of a missing file exits 2 before contacting the daemon" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: cannot open $tmp/nope.db: No such file or directory$" "$tmp/err"'
run --socket "$tmp/none.sock" import frank "$tmp"
check "import of a directory exits 2: FILE must be a regular file" \
    '[ $rc -eq 2 ] && grep -q "is not a regular file" "$tmp/err"'
run --socket "$tmp/none.sock" import frank - <"$tmp/alice.db"
check "import of - (stdin) exits 2: FILE must be a regular file" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: import: FILE must be a regular file, not stdin" "$tmp/err"'
run --socket "$tmp/none.sock" import ../x "$tmp/alice.db"
check "import of a bad id exits 2" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: import: invalid tenant id" "$tmp/err"'
run --socket "$tmp/none.sock" import frank
check "import without FILE exits 2" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: import: missing argument$" "$tmp/err"'
run --socket "$tmp/none.sock" import frank "$tmp/alice.db"
check "import with no daemon exits 3" \
    '[ $rc -eq 3 ] && grep -q "cannot connect to unix socket $tmp/none.sock" "$tmp/err"'

# --- backup ----------------------------------------------------------------
ctl backup "$TD_TMP/bk"
check "backup to a new directory exits 0 and says what it copied" \
    '[ $rc -eq 0 ] && grep -q "^backup [0-9]* succeeded: 6 tenants, .* in $TD_TMP/bk$" "$tmp/out"'
check "MANIFEST.json exists and lists the tenants' files" \
    '[ -s "$TD_TMP/bk/MANIFEST.json" ] && grep -q "alice" "$TD_TMP/bk/MANIFEST.json" &&
    grep -q "victim" "$TD_TMP/bk/MANIFEST.json"'
check "without a terminal, no progress bar" '! grep -q "$CR" "$tmp/err"'

mkdir "$TD_TMP/full"
echo keep >"$TD_TMP/full/marker"
ctl backup "$TD_TMP/full"
check "backup into a non-empty directory exits 1 (BACKUP_DIR_NOT_EMPTY)" \
    '[ $rc -eq 1 ] && grep -q "(BACKUP_DIR_NOT_EMPTY)$" "$tmp/err" &&
    [ ! -e "$TD_TMP/full/MANIFEST.json" ] && [ "$(cat "$TD_TMP/full/marker")" = keep ]'

run_in "$TD_TMP" -D "$TD_DATA" backup rel/
check "a relative DIR is made absolute before it is sent" \
    '[ $rc -eq 0 ] && grep -q " in $TD_TMP/rel$" "$tmp/out" &&
    [ -s "$TD_TMP/rel/MANIFEST.json" ]'

run_in "$TD_TMP" -D "$TD_DATA" backup no/such/dir
check "a relative DIR whose parent does not exist exits 2" \
    '[ $rc -eq 2 ] && grep -q "cannot find the directory that holds no/such/dir" "$tmp/err"'

ctl --json backup "$TD_TMP/det" --detach
bid=$(sed -n 's/^ *"id": *\([0-9]*\).*/\1/p' "$tmp/out")
check "backup --detach --json prints the running job and exits 0" \
    '[ $rc -eq 0 ] && [ -n "$bid" ] && grep -q "\"dir\": \"$TD_TMP/det\"" "$tmp/out"'
check "and the detached backup finishes in the daemon" \
    '[ "$(wait_backup "$bid")" = succeeded ] && [ -s "$TD_TMP/det/MANIFEST.json" ]'

ctl backup
check "backup without DIR exits 2" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: backup: missing argument$" "$tmp/err"'

# --- restore ---------------------------------------------------------------
run restore "$TD_TMP/bk" --data-dir "$TD_TMP/restored"
check "restore into a new data dir exits 0 with tenantd's report" \
    '[ $rc -eq 0 ] && grep -q "^restored 6 tenants from $TD_TMP/bk into $TD_TMP/restored" "$tmp/out" &&
    [ -d "$TD_TMP/restored" ]'

mkdir "$TD_TMP/existing"
echo keep >"$TD_TMP/existing/marker"
run restore "$TD_TMP/bk" --data-dir "$TD_TMP/existing"
check "restore into an existing dir exits 1 and leaves it alone" \
    '[ $rc -eq 1 ] && grep -q "exists" "$tmp/err" &&
    [ "$(ls "$TD_TMP/existing")" = marker ] && [ "$(cat "$TD_TMP/existing/marker")" = keep ]'

run -D "$TD_TMP/restored2" restore "$TD_TMP/rel"
check "restore takes the data dir from a global -D too" \
    '[ $rc -eq 0 ] && grep -q "^restored 6 tenants from $TD_TMP/rel into $TD_TMP/restored2" "$tmp/out"'

run restore "$TD_TMP/bk"
check "restore without --data-dir exits 2" \
    '[ $rc -eq 2 ] && grep -q "^tenantctl: restore: --data-dir D is required" "$tmp/err"'

cat >"$tmp/fake-tenantd" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/fake-args"
exit 7
EOF
chmod +x "$tmp/fake-tenantd"
(
	unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
	TENANTD_BIN=$tmp/fake-tenantd exec "$TENANTCTL" restore "b k" -D "n d"
) >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
check "restore runs \$TENANTD_BIN with --restore DIR -D D, no shell, and passes its status" \
    '[ $rc -eq 7 ] && [ "$(cat "$tmp/fake-args")" = "--restore
b k
-D
n d" ]'

(
	unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
	TENANTD_BIN=$tmp/no-such-tenantd exec "$TENANTCTL" restore "$TD_TMP/bk" -D "$TD_TMP/r3"
) >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
check "a TENANTD_BIN that cannot run exits 3" \
    '[ $rc -eq 3 ] && grep -q "^tenantctl: cannot run $tmp/no-such-tenantd: No such file or directory$" "$tmp/err" &&
    [ ! -e "$TD_TMP/r3" ]'

if [ ! -e /usr/local/sbin/tenantd ] && [ ! -e /usr/sbin/tenantd ]; then
	mkdir "$tmp/bin"
	cp "$TENANTCTL" "$tmp/bin/tenantctl"
	(
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN \
		    TENANTD_BIN
		PATH=$tmp/no-bin exec "$tmp/bin/tenantctl" restore "$TD_TMP/bk" -D "$TD_TMP/r3"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	check "outside the build tree and PATH, tenantd is not found: exit 3" \
	    '[ $rc -eq 3 ] && grep -q "^tenantctl: cannot find tenantd" "$tmp/err" &&
	    [ ! -e "$TD_TMP/r3" ]'
else
	skip "outside the build tree and PATH, tenantd is not found" \
	    "tenantd is installed in an sbin directory"
fi

# A daemon on the restored dir serves the restored rows.  The first one
# stops; td_start's later -D wins, and TD_SOCK still names the old socket.
td_stop
if td_start -D "$TD_TMP/restored"; then
	check "a daemon started on the restored dir serves alice's rows" \
	    '[ "$(titles "$TD_TMP/restored" alice)" = "first,second,third" ]'
	check "and bob's, and carol's as they were at the backup" \
	    '[ "$(titles "$TD_TMP/restored" bob)" = "first,second,third" ] &&
	    [ "$(titles "$TD_TMP/restored" carol)" = "first,second,third,carol-only" ]'
	run -D "$TD_TMP/restored" check --all
	check "every restored tenant passes check" \
	    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "checked 6 tenants, 0 with problems" ]'
	td_stop
else
	for t in "alice's rows" "bob's and carol's" "check"; do
		skip "restored dir: $t" "tenantd did not start on it"
	done
fi

# --- check -----------------------------------------------------------------
# Damage victim's file while no daemon holds it, then start afresh: no
# request touches victim before the checks.
victim_db=$(find "$TD_DATA/tenants" -name victim.db)
check "setup: victim's database file is found" '[ -f "$victim_db" ]'
head -c 8192 /dev/urandom | tr -d '\000' >"$victim_db"
rm -f "$victim_db-wal" "$victim_db-shm"
# shellcheck disable=SC2086
if ! td_start $TD_START_ARGS; then
	echo "Bail out! cannot restart tenantd"
	exit 1
fi

ctl check victim
check "check of a tenant whose file was overwritten exits 1 and says why" \
    '[ $rc -eq 1 ] && [ "$(sed -n 1p "$tmp/out")" = "victim: 1 problem" ] &&
    grep -q "^  file is not a database$" "$tmp/out"'

ctl check alice
check "check of a healthy tenant exits 0" \
    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "alice: ok" ]'

ctl --json check alice
check "check --json prints the daemon's result" \
    '[ $rc -eq 0 ] && grep -q "\"ok\": true" "$tmp/out" &&
    grep -q "\"file_version\": 3" "$tmp/out"'

ctl check --all
check "check --all exits 1 and names the damaged tenant" \
    '[ $rc -eq 1 ] && grep -q "^victim: 1 problem$" "$tmp/out"'
check "and reports the others fine" \
    '[ "$(grep -c "^[a-z]*: " "$tmp/out")" = 1 ] &&
    [ "$(tail -n 1 "$tmp/out")" = "checked 6 tenants, 1 with problems" ]'

ctl --json check --all
check "check --all --json prints an array with every tenant's result" \
    '[ $rc -eq 1 ] &&
    [ "$(python3 -c "import json,sys; r=json.load(sys.stdin); print(len(r), \",\".join(x[\"id\"] for x in r if not x[\"ok\"]))" <"$tmp/out")" = "6 victim" ]'

ctl check nobody
check "check of an unknown tenant exits 1 (TENANT_NOT_FOUND)" \
    '[ $rc -eq 1 ] && grep -q "(TENANT_NOT_FOUND)$" "$tmp/err"'
ctl check alice --all
check "check ID --all exits 2" '[ $rc -eq 2 ] && grep -q "not both" "$tmp/err"'
ctl check
check "check without ID exits 2" '[ $rc -eq 2 ] && grep -q "missing argument" "$tmp/err"'

ctl delete victim --yes
ctl check --all
check "once the damaged tenant is gone, check --all exits 0" \
    '[ $rc -eq 0 ] && [ "$(cat "$tmp/out")" = "checked 5 tenants, 0 with problems" ]'

# --- terminals -------------------------------------------------------------
if have script && script -q -c true /dev/null >/dev/null 2>&1 </dev/null; then
	head -c 60000 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 60000 >"$tmp/hex"
	sqlite3 "$tmp/tty.db" "CREATE TABLE b (x); INSERT INTO b VALUES (readfile('$tmp/hex'))"
	script -q -c "'$TENANTCTL' -D '$TD_DATA' import ttyimp '$tmp/tty.db' --schema ''" \
	    "$tmp/typescript" >/dev/null 2>&1 </dev/null
	check "import on a terminal draws a progress bar to 100%" \
	    'grep -q "$CR\[=*\] 100%.*the daemon checks it" "$tmp/typescript" &&
	    grep -q "^imported ttyimp (schema none, version 0)" "$tmp/typescript"'
	script -q -c "'$TENANTCTL' -D '$TD_DATA' backup '$TD_TMP/ttybk'" \
	    "$tmp/typescript" >/dev/null 2>&1 </dev/null
	check "backup on a terminal draws a progress bar" \
	    'grep -q "${CR}backup [0-9]* \[=*\] 6/6 tenants" "$tmp/typescript" &&
	    [ -s "$TD_TMP/ttybk/MANIFEST.json" ]'
else
	skip "import on a terminal draws a progress bar" "no script(1)"
	skip "backup on a terminal draws a progress bar" "no script(1)"
fi

# --- a stub daemon, for what tenantd itself never does ---------------------
python3 - "$tmp/stub.sock" "$tmp/stub-log" <<'EOF' &
import socket, sys, threading, time
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen(16)
log = sys.argv[2]
TENANT = b'{"id":"%s","schema":null,"version":0,"state":"active"}'
def note(s):
    with open(log, "a") as f:
        f.write(s + "\n")
def reply(c, status, body):
    c.sendall(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % (status, len(body)) + body)
def read_head(c):
    data = b""
    while b"\r\n\r\n" not in data:
        got = c.recv(65536)
        if not got:
            break
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode(), rest
def length(head):
    for line in head.split("\r\n"):
        if line.lower().startswith("content-length:"):
            return int(line.split(":")[1])
    return 0
def drain(c, have, want):
    while have < want:
        got = c.recv(65536)
        if not got:
            break
        have += len(got)
    return have
def serve(c):
    try:
        answer(c)
    except OSError:
        pass
    c.close()
backup_polls = 0
def full_body(c, rest, head):
    # The body may arrive after the head, in a packet of its own.
    body = rest
    while len(body) < length(head):
        got = c.recv(65536)
        if not got:
            break
        body += got
    return body.decode()
def answer(c):
    global backup_polls
    head, rest = read_head(c)
    path = head.split(" ")[1]
    expect = "expect: 100-continue" in head.lower()
    if path.startswith("/v1/tenants/toolarge/"):
        note("toolarge expect=%s" % expect)
        reply(c, b"413 Payload Too Large",
              b'{"message":"the stub refuses from the head","code":"BODY_TOO_LARGE"}')
        time.sleep(1)            # anything sent now would arrive
        c.setblocking(False)
        n = len(rest)
        try:
            while True:
                got = c.recv(65536)
                if not got:
                    break
                n += len(got)
        except BlockingIOError:
            pass
        note("toolarge body=%d" % n)
    elif path.startswith("/v1/tenants/noexpect/"):
        # No 100 Continue: the client must send the body anyway.
        n = drain(c, len(rest), length(head))
        note("noexpect expect=%s body=%d" % (expect, n))
        reply(c, b"201 Created", TENANT % b"noexpect")
    elif path.startswith("/v1/tenants/midway/"):
        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        drain(c, len(rest), 100000)
        reply(c, b"507 Insufficient Storage",
              b'{"message":"cannot store the upload (disk full?)","code":"INSUFFICIENT_STORAGE"}')
    elif path == "/v1/backups" and "hang" in full_body(c, rest, head):
        reply(c, b"202 Accepted", b'{"id":6,"state":"running","total":4,"done":0,'
              b'"skipped":0,"bytes":0,"error":null}')
    elif path == "/v1/backups/6":
        reply(c, b"200 OK", b'{"id":6,"state":"running","total":4,"done":2,'
              b'"skipped":0,"bytes":4096,"error":null}')
    elif path == "/v1/backups":
        reply(c, b"202 Accepted", b'{"id":5,"state":"running","total":4,"done":0,'
              b'"skipped":0,"bytes":0,"error":null}')
    elif path == "/v1/backups/5":
        backup_polls += 1
        if backup_polls < 12:
            reply(c, b"200 OK", b'{"id":5,"state":"running","total":4,"done":1,'
                  b'"skipped":0,"bytes":2048,"error":null}')
        else:
            reply(c, b"200 OK", b'{"id":5,"state":"failed","total":4,"done":1,'
                  b'"skipped":0,"bytes":2048,"error":"tenant t2: disk I/O error"}')
    else:
        reply(c, b"404 Not Found", b'{"message":"no such route","code":"NOT_FOUND"}')
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

head -c 20000000 /dev/zero >"$tmp/20m"
run --socket "$tmp/stub.sock" import toolarge "$tmp/20m"
check "a 413 from the head is shown as the daemon's message" \
    '[ $rc -eq 1 ] && grep -q "^tenantctl: the stub refuses from the head (BODY_TOO_LARGE)$" "$tmp/err"'
check "the request said Expect: 100-continue, and no body byte was sent" \
    'grep -q "^toolarge expect=True$" "$tmp/stub-log" &&
    grep -q "^toolarge body=0$" "$tmp/stub-log"'

run --socket "$tmp/stub.sock" import noexpect "$tmp/20m"
check "a server that never sends 100 Continue still gets the whole file" \
    '[ $rc -eq 0 ] && grep -q "^noexpect expect=True body=20000000$" "$tmp/stub-log" &&
    [ "$(cat "$tmp/out")" = "imported noexpect (schema none, version 0)" ]'

run --socket "$tmp/stub.sock" import midway "$tmp/20m"
check "an answer in the middle of the upload stops it and is shown" \
    '[ $rc -eq 1 ] &&
    grep -q "^tenantctl: cannot store the upload (disk full?) (INSUFFICIENT_STORAGE)$" "$tmp/err"'

t0=$(date +%s)
run --socket "$tmp/stub.sock" backup "$tmp/stubbk"
secs=$(($(date +%s) - t0 + 1))
lines=$(grep -c "^backup 5: " "$tmp/err")
check "a failed backup exits 1 with its error" \
    '[ $rc -eq 1 ] && grep -q "^tenantctl: backup 5 failed: tenant t2: disk I/O error$" "$tmp/err"'
check "without a terminal it prints plain progress lines" \
    'grep -q "^backup 5: 1/4 tenants, 2.00 KiB$" "$tmp/err" && ! grep -q "$CR" "$tmp/err"'
check "at most one progress line a second ($lines in about $secs s)" \
    '[ "$lines" -ge 2 ] && [ "$lines" -le $((secs + 1)) ]'

"$TENANTCTL" --socket "$tmp/stub.sock" backup "$tmp/hang" \
    >"$tmp/out" 2>"$tmp/err" </dev/null &
ctl_pid=$!
i=0
while ! grep -q "^backup 6: 2/4 tenants" "$tmp/err" && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -TERM "$ctl_pid"
wait "$ctl_pid" 2>/dev/null
rc=$?
check "a signal while following a backup says it continues in the daemon" \
    '[ $rc -ne 0 ] && grep -q "^tenantctl: backup 6 continues in the daemon$" "$tmp/err"'

kill "$stub_pid" 2>/dev/null
wait "$stub_pid" 2>/dev/null

# --- help ------------------------------------------------------------------
for c in import backup restore check; do
	run "$c" --help
	check "$c --help shows its usage" \
	    '[ $rc -eq 0 ] && grep -q "^usage: tenantctl \[global options\] $c " "$tmp/out"'
	run help
	check "tenantctl help lists $c" '[ $rc -eq 0 ] && grep -q "^  $c " "$tmp/out"'
done

echo "1..$n"
[ "$failed" -eq 0 ]
