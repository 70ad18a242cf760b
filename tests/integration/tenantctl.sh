#!/bin/sh
# tests/integration/tenantctl.sh: tenantctl against a private tenantd.
#
# Covers what a user of tenantctl notices: create and show (schema,
# version), a duplicate create (exit 1, "exists"), bad tenant ids refused
# before any contact (exit 2), show of an unknown tenant (exit 1, the
# daemon's code), list order, --limit paging with its hint on stderr,
# --all, --json output that parses, delete --yes, delete refusing without a
# terminal (exit 2), status and its tenant count, schemas, health, unknown
# commands and options (exit 2), --help of every command, each way to
# name the daemon (--socket, -D, --url, TENANTD_SOCKET, TENANTD_DATA,
# TENANTD_URL, ./tenantd-data), and exit 3 for a missing socket, a refused
# port, a daemon that does not answer, a malformed answer and a stopped
# daemon.
#
# Prints TAP.  Needs tests/lib.sh (td_start, td_stop, TD_* variables).
#
# Each check's condition is a single-quoted string that check() evaluates
# after the run, hence:
# shellcheck disable=SC2016,SC2034

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
. "$TOP_SRCDIR/tests/lib.sh"
TENANTCTL=${TENANTCTL:-$TOP_BUILDDIR/admin-cli/tenantctl}

# lib.sh removes $TD_TMP when the script exits.
tmp=$TD_TMP/tenantctl
mkdir "$tmp" || exit 1
n=0
failed=0
rc=0

# check DESC EXPR: one TAP line; EXPR is evaluated by the shell.  On
# failure, show what the last run printed.
check() {
	n=$((n + 1))
	if eval "$2"; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=$((failed + 1))
		echo "#   exit status $rc"
		sed -n '1,10s/^/#   stdout: /p' "$tmp/out" 2>/dev/null
		sed -n '1,10s/^/#   stderr: /p' "$tmp/err" 2>/dev/null
	fi
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

# run ARGS...: tenantctl with no TENANTD_* variables and no terminal;
# rc, $tmp/out and $tmp/err hold the result.
run() {
	(
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
		exec "$TENANTCTL" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

# run_env VAR=VALUE ARGS...: the same with one variable set.
run_env() {
	(
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
		# shellcheck disable=SC2163
		export "$1"
		shift
		exec "$TENANTCTL" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

# run_in DIR ARGS...: the same, from another working directory.
run_in() {
	dir=$1
	shift
	(
		cd "$dir" || exit 99
		unset TENANTD_URL TENANTD_SOCKET TENANTD_DATA TENANTD_TOKEN
		exec "$TENANTCTL" "$@"
	) >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
}

# ctl ARGS...: run on the daemon's unix socket.
ctl() {
	run --socket "$TD_SOCK" "$@"
}

# The first column of a table, without its header, on one line.
ids() {
	awk 'NR > 1 { printf "%s%s", sep, $1; sep = " " }' "$tmp/out"
}

# Does the file hold valid JSON?
json_ok() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json, sys; json.load(sys.stdin)' <"$1" \
		    >/dev/null 2>&1
	else
		node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' \
		    <"$1" >/dev/null 2>&1
	fi
}

if ! td_start; then
	echo "Bail out! cannot start tenantd"
	exit 1
fi

# --- create, show ----------------------------------------------------------
ctl schemas
latest=$(awk '$1 == "notes" { print $2 }' "$tmp/out")
check "schemas lists the notes schema with its latest version" \
    '[ $rc -eq 0 ] && [ -n "$latest" ] &&
    head -n 1 "$tmp/out" | grep -q "^NAME  *LATEST  *EDITED$" &&
    grep -q "^notes  *$latest  *-$" "$tmp/out"'

ctl create alice --schema notes
check "create alice --schema notes exits 0 and prints the tenant" \
    '[ $rc -eq 0 ] && grep -q "^id: *alice$" "$tmp/out"'

ctl show alice
check "show prints the schema, the latest version and the state" \
    '[ $rc -eq 0 ] && grep -q "^schema: *notes$" "$tmp/out" &&
    grep -q "^version: *$latest$" "$tmp/out" &&
    grep -q "^state: *active$" "$tmp/out" && grep -q "^created: " "$tmp/out"'
check "show hides last_error when it is null" \
    '! grep -q "^last_error:" "$tmp/out"'

ctl create alice --schema notes
check "create of an existing tenant exits 1 and says it exists" \
    '[ $rc -eq 1 ] && grep -qi "^tenantctl: .*exists" "$tmp/err"'

# A bad id must be refused before any contact: on a socket that does not
# exist, contact would mean exit 3.
long=$(printf '%065d' 0)
for id in ../x .hidden a/b "a b" "" "$long"; do
	run --socket "$tmp/none.sock" create "$id"
	check "create '$id' exits 2 without contacting the daemon" \
	    '[ $rc -eq 2 ] && grep -q "invalid tenant id" "$tmp/err"'
done
run --socket "$tmp/none.sock" show ../x
check "show ../x exits 2 without contacting the daemon" '[ $rc -eq 2 ]'
run --socket "$tmp/none.sock" delete --yes ../x
check "delete ../x exits 2 without contacting the daemon" '[ $rc -eq 2 ]'

ctl show nobody
check "show of an unknown tenant exits 1 with TENANT_NOT_FOUND" \
    '[ $rc -eq 1 ] && [ ! -s "$tmp/out" ] &&
    grep -q "^tenantctl: .* (TENANT_NOT_FOUND)$" "$tmp/err"'

# --- list ------------------------------------------------------------------
ctl create carol
ctl create bob
ctl list
check "list prints a header and the tenants in id order" \
    '[ $rc -eq 0 ] && [ "$(ids)" = "alice bob carol" ] &&
    head -n 1 "$tmp/out" | grep -q "^ID  *SCHEMA  *VERSION  *STATE  *UPDATED$"'

for i in 5 3 1 4 2; do
	ctl create "pg-$i"
done
ctl list --prefix pg- --limit 2
check "list --limit 2 prints the first page" \
    '[ $rc -eq 0 ] && [ "$(ids)" = "pg-1 pg-2" ]'
check "list --limit 2 tells on stderr how to get the next page" \
    'grep -q -- "--after pg-2" "$tmp/err"'
ctl list --prefix pg- --limit 2 --after pg-2
check "list --after pg-2 prints the second page" \
    '[ $rc -eq 0 ] && [ "$(ids)" = "pg-3 pg-4" ]'
ctl list --prefix pg- --limit 2 --all
check "list --limit 2 --all prints every page, without a hint" \
    '[ $rc -eq 0 ] && [ "$(ids)" = "pg-1 pg-2 pg-3 pg-4 pg-5" ] &&
    [ ! -s "$tmp/err" ]'

ctl --json list --prefix pg-
check "list --json prints valid JSON" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" && grep -q "\"id\": \"pg-3\"" "$tmp/out"'
ctl list --prefix pg- --limit 2 --all --json
check "list --all --json prints valid JSON holding every page" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" && [ $(grep -c "\"id\":" "$tmp/out") -eq 5 ]'
ctl --json show alice
check "show --json prints valid JSON, indented by two spaces" \
    '[ $rc -eq 0 ] && json_ok "$tmp/out" && grep -q "^  \"id\": \"alice\"" "$tmp/out"'

ctl create ghost --schema no-such-schema
check "create with an unknown schema exits 1 with SCHEMA_NOT_FOUND" \
    '[ $rc -eq 1 ] && grep -q "(SCHEMA_NOT_FOUND)$" "$tmp/err"'

ctl show ghost
check "no tenant is left behind by the failed create" '[ $rc -eq 1 ]'

ctl list --limit zero
check "list --limit zero exits 2" '[ $rc -eq 2 ]'

# --- delete ----------------------------------------------------------------
ctl delete bob --yes
check "delete --yes exits 0" '[ $rc -eq 0 ]'
ctl show bob
check "show after delete exits 1" '[ $rc -eq 1 ]'
ctl delete bob --yes
check "delete of an unknown tenant exits 1" \
    '[ $rc -eq 1 ] && grep -q "(TENANT_NOT_FOUND)$" "$tmp/err"'
ctl delete carol
check "delete without --yes and without a terminal exits 2" \
    '[ $rc -eq 2 ] && grep -q -- "--yes" "$tmp/err"'
ctl show carol
check "the tenant is still there after the refused delete" '[ $rc -eq 0 ]'

# --- status, health --------------------------------------------------------
ctl list --all
count=$(awk 'END { print NR - 1 }' "$tmp/out")
ctl status
check "status exits 0 and gives the number of tenants ($count)" \
    '[ $rc -eq 0 ] && grep -q "^tenants: *$count$" "$tmp/out"'
check "status lists the schemas, with no edited file" \
    'grep -q "^notes  *$latest  *-$" "$tmp/out"'
ctl --json status
check "status --json prints valid JSON" '[ $rc -eq 0 ] && json_ok "$tmp/out"'
ctl health
check "health exits 0" '[ $rc -eq 0 ] && grep -q "^status: *ok$" "$tmp/out"'

# --- usage -----------------------------------------------------------------
ctl frobnicate
check "an unknown command exits 2" \
    '[ $rc -eq 2 ] && grep -q "unknown command" "$tmp/err"'
ctl list --frobnicate
check "an unknown option exits 2" '[ $rc -eq 2 ]'
ctl show
check "a missing argument exits 2" '[ $rc -eq 2 ]'
ctl show alice bob
check "an extra argument exits 2" '[ $rc -eq 2 ]'
run
check "no command exits 2 and prints the usage on stderr" \
    '[ $rc -eq 2 ] && grep -q "^usage: tenantctl" "$tmp/err"'
run --socket "$tmp/none.sock" --help
check "--help exits 0 and prints the usage on stdout" \
    '[ $rc -eq 0 ] && grep -q "^usage: tenantctl" "$tmp/out"'
for c in create show list delete status schemas health help; do
	run --socket "$tmp/none.sock" "$c" --help
	check "$c --help exits 0" \
	    '[ $rc -eq 0 ] && grep -q "^usage: tenantctl.* $c" "$tmp/out"'
	run --socket "$tmp/none.sock" help "$c"
	check "help $c exits 0" \
	    '[ $rc -eq 0 ] && grep -q "^usage: tenantctl.* $c" "$tmp/out"'
done
run help frobnicate
check "help of an unknown command exits 2" '[ $rc -eq 2 ]'
run --url ftp://127.0.0.1:1 health
check "a URL that is not http:// exits 2" '[ $rc -eq 2 ]'
run -D "$TD_DATA" --url "$TD_URL" health
check "two endpoint options exit 2" '[ $rc -eq 2 ]'
run --timeout soon health
check "a bad --timeout exits 2" '[ $rc -eq 2 ]'

# --- endpoints -------------------------------------------------------------
run --socket "$tmp/none.sock" health
check "a socket that does not exist exits 3, naming it" \
    '[ $rc -eq 3 ] && grep -q "cannot connect to unix socket $tmp/none.sock" "$tmp/err"'
run --url http://127.0.0.1:1 health
check "a refused TCP port exits 3, naming it" \
    '[ $rc -eq 3 ] && grep -q "cannot connect to http://127.0.0.1:1" "$tmp/err"'

run --url "$TD_URL" show alice
check "--url \$TD_URL works" \
    '[ $rc -eq 0 ] && grep -q "^schema: *notes$" "$tmp/out"'
run --url "$TD_URL/" list --prefix pg- --all
check "--url with a trailing slash works" \
    '[ $rc -eq 0 ] && [ "$(ids)" = "pg-1 pg-2 pg-3 pg-4 pg-5" ]'
run_env TENANTD_URL="$TD_URL" show alice
check "TENANTD_URL works" '[ $rc -eq 0 ]'
run_env TENANTD_SOCKET="$TD_SOCK" show alice
check "TENANTD_SOCKET works" '[ $rc -eq 0 ]'
run_env TENANTD_SOCKET="$tmp/none.sock" --url "$TD_URL" health
check "--url wins over TENANTD_SOCKET" '[ $rc -eq 0 ]'

if [ "$TD_SOCK" = "$TD_DATA/tenantd.sock" ]; then
	run -D "$TD_DATA" show alice
	check "-D \$TD_DATA works" '[ $rc -eq 0 ]'
	run_env TENANTD_DATA="$TD_DATA" show alice
	check "TENANTD_DATA works" '[ $rc -eq 0 ]'
else
	skip "-D \$TD_DATA works" "the daemon's socket is not in its data dir"
	skip "TENANTD_DATA works" "the daemon's socket is not in its data dir"
fi

# The default is ./tenantd-data/tenantd.sock (a symlink works for it).
mkdir "$tmp/cwd" "$tmp/cwd/tenantd-data" "$tmp/empty"
ln -s "$TD_SOCK" "$tmp/cwd/tenantd-data/tenantd.sock"
run_in "$tmp/cwd" health
check "the default socket is ./tenantd-data/tenantd.sock" '[ $rc -eq 0 ]'
run_in "$tmp/empty" health
check "without a daemon, the default socket exits 3, naming it" \
    '[ $rc -eq 3 ] &&
    grep -q "cannot connect to unix socket ./tenantd-data/tenantd.sock" "$tmp/err"'

# A daemon that accepts but never answers, and one that answers garbage.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tmp/hang.sock" "$tmp/bad.sock" <<'EOF' &
import socket, sys, threading, time
hang = socket.socket(socket.AF_UNIX)
hang.bind(sys.argv[1])
hang.listen(8)
bad = socket.socket(socket.AF_UNIX)
bad.bind(sys.argv[2])
bad.listen(8)
def serve():
    while True:
        c, _ = bad.accept()
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!")
        c.close()
threading.Thread(target=serve, daemon=True).start()
time.sleep(120)
EOF
	stub_pid=$!
	i=0
	while [ ! -S "$tmp/bad.sock" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	run --socket "$tmp/hang.sock" --timeout 1 health
	check "a daemon that does not answer exits 3 after --timeout" \
	    '[ $rc -eq 3 ] && grep -q "timed out" "$tmp/err"'
	run --socket "$tmp/bad.sock" health
	check "a response that is not JSON exits 3" \
	    '[ $rc -eq 3 ] && grep -q "malformed response from unix socket" "$tmp/err"'
	kill "$stub_pid" 2>/dev/null
	wait "$stub_pid" 2>/dev/null
else
	skip "a daemon that does not answer exits 3" "no python3"
	skip "a response that is not JSON exits 3" "no python3"
fi

# --- a stopped daemon ------------------------------------------------------
td_stop
ctl health
check "a stopped daemon exits 3" '[ $rc -eq 3 ]'

echo "1..$n"
[ "$failed" -eq 0 ]
