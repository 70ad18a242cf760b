# tests/lib.sh: helpers for integration tests (POSIX sh).
#
#   . "$TOP_SRCDIR/tests/lib.sh"
#   td_start [tenantd args]   private daemon: temp data dir, free TCP port
#   td_stop / td_kill9 / td_restart
#   tap_ok "desc" cmd...      one TAP line from a command's exit status
#   tap_is "desc" got want    one TAP line comparing two strings
#   tap_done                  the plan; exits 1 if anything failed
#
# Sets TD_DATA, TD_SOCK, TD_URL, TD_PID, TENANTD, TENANTCTL.  A trap kills
# the daemon and removes the temp dir whenever the script exits.  Waiting
# for the daemon polls its ready file (bounded by TD_WAIT_S), so no test
# depends on how fast the machine is.

TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TOP_BUILDDIR=${TOP_BUILDDIR:-$TOP_SRCDIR}
TENANTD=${TENANTD:-$TOP_BUILDDIR/tenantd/tenantd}
TENANTCTL=${TENANTCTL:-$TOP_BUILDDIR/admin-cli/tenantctl}
TD_WAIT_S=${TD_WAIT_S:-60}
TD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tenantd-it.XXXXXX")
TD_DATA=$TD_TMP/data
TD_SOCK=$TD_DATA/tenantd.sock
TD_PID=
TD_URL=
TD_ARGS=
_tap_n=0
_tap_failed=0

_td_cleanup() {
	if [ -n "$TD_PID" ]; then
		kill -9 "$TD_PID" 2>/dev/null
		wait "$TD_PID" 2>/dev/null
	fi
	if [ "$_tap_failed" -ne 0 ] && [ -f "$TD_TMP/tenantd.log" ]; then
		echo "# tenantd log (last 30 lines):"
		tail -n 30 "$TD_TMP/tenantd.log" | sed 's/^/#   /'
	fi
	rm -rf "$TD_TMP"
}
trap _td_cleanup EXIT
trap 'exit 1' INT TERM

# Start tenantd with --listen 127.0.0.1:0 plus "$@"; wait until it serves.
td_start() {
	TD_ARGS="$*"
	rm -f "$TD_TMP/ready"
	"$TENANTD" -D "$TD_DATA" --listen 127.0.0.1:0 --no-auth \
	    --schemas "$TOP_SRCDIR/schemas" --ready-file "$TD_TMP/ready" \
	    "$@" >>"$TD_TMP/tenantd.log" 2>&1 &
	TD_PID=$!
	i=0
	while [ ! -f "$TD_TMP/ready" ]; do
		if ! kill -0 "$TD_PID" 2>/dev/null; then
			echo "# tenantd exited during start:"
			sed 's/^/#   /' "$TD_TMP/tenantd.log" | tail -n 20
			TD_PID=
			return 1
		fi
		i=$((i + 1))
		if [ "$i" -gt $((TD_WAIT_S * 20)) ]; then
			echo "# tenantd did not become ready"
			return 1
		fi
		sleep 0.05
	done
	TD_URL="http://$(sed -n 's/^tcp //p' "$TD_TMP/ready")"
	return 0
}

# SIGTERM and wait for a clean exit; returns tenantd's exit status.
td_stop() {
	[ -n "$TD_PID" ] || return 0
	kill -TERM "$TD_PID"
	wait "$TD_PID"
	rc=$?
	TD_PID=
	return $rc
}

td_kill9() {
	[ -n "$TD_PID" ] || return 0
	kill -9 "$TD_PID"
	wait "$TD_PID" 2>/dev/null
	TD_PID=
	return 0
}

td_restart() {
	td_stop
	# shellcheck disable=SC2086
	td_start $TD_ARGS
}

# curl over the unix socket: td_curl METHOD PATH [BODY]; prints
# "STATUS BODY" on one line.
td_curl() {
	if [ -n "${3+x}" ]; then
		curl -sS --unix-socket "$TD_SOCK" -X "$1" -w ' %{http_code}' \
		    -H 'Content-Type: application/json' --data-binary "$3" \
		    "http://localhost$2"
	else
		curl -sS --unix-socket "$TD_SOCK" -X "$1" -w ' %{http_code}' \
		    "http://localhost$2"
	fi
}

tap_ok() {
	_desc=$1
	shift
	_tap_n=$((_tap_n + 1))
	if "$@" >/dev/null 2>&1; then
		echo "ok $_tap_n - $_desc"
	else
		echo "not ok $_tap_n - $_desc"
		_tap_failed=$((_tap_failed + 1))
	fi
}

tap_is() {
	_tap_n=$((_tap_n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $_tap_n - $1"
	else
		echo "not ok $_tap_n - $1"
		echo "#   got:  $2"
		echo "#   want: $3"
		_tap_failed=$((_tap_failed + 1))
	fi
}

tap_done() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
	exit $?
}
