#!/usr/bin/env bash
# bench/run.sh: tenantd against PostgreSQL and the bare-SQLite floor, in one
# run on one machine, printed as tables of numbers and ratios.
#
#   bench/run.sh [--smoke | --quick] [--tenants 1000,10000] [--seconds 10]
#                [--warmup 2] [--conns 64] [--threads 2] [--handles 5000]
#                [--rounds 2] [--transport unix|tcp] [--tenantd PATH]
#                [--no-postgres] [--out FILE] [--keep] [--workdir DIR]
#                [--page-size N] [--flush-ms N] [--flush-log]
#
# What it does (bench/README.md has the details):
#   1. makes a fresh private dir with mktemp and marks it; it never starts a
#      daemon on, or deletes, anything that does not carry this run's mark;
#   2. builds an optimised tenantd from the working tree into that dir
#      (unless --tenantd), bench/floor.c and bench/load.c;
#   3. loads max(--tenants) tenants of 100 rows kv(k INTEGER PRIMARY KEY,
#      v TEXT) through the API, and the same rows into a private
#      PostgreSQL (initdb + postgres on a private socket dir and port) in
#      one table kv(tenant_id, k, v);
#   4. for each N in --tenants, uniform and Zipf (s = 1.1) popularity over
#      the first N tenants: point select, point update, 90:10 mix
#      (bench/load.c against tenantd, pgbench with the same client count
#      against PostgreSQL, both over unix sockets or both over TCP:
#      --transport), writes at equal durability (tenantd
#      --synchronous normal vs synchronous_commit=off, full vs on); the
#      handle cache capped below the working set; cold tenants.  Each
#      workload that has a PostgreSQL twin runs --rounds times on each
#      server, in the order tenantd, PG, PG, tenantd, ... so that a machine
#      that speeds up or slows down meanwhile favours neither side; the
#      tables give the mean of the rounds and each round's ratio;
#   5. once: p99 at half of peak throughput, RSS per idle cached handle,
#      tenant creation rate (API vs CREATE SCHEMA + CREATE TABLE);
#   6. prints the tables and the issue's targets, met or missed.
# Everything it started (tenantd, postgres, load, pgbench) is stopped on
# exit, Ctrl-C or SIGTERM, and the private dir removed (unless --keep).
# Exit status: 0, or 1 if a run saw errors (bad responses, failed
# transactions), or 2 for bad usage.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
ARGV="$*"

usage() {	# exit-status
	sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "$1"
}

# --- options ---------------------------------------------------------------
MODE=full
TENANTS=1000,10000
SECS=10
WARMUP=2
CONNS=64
THREADS=2
HANDLES=5000
ROUNDS=
TENANTD_BIN=
USE_PG=auto
OUT=
KEEP=0
TRANSPORT=unix
PAGE_SIZE=
FLUSH_MS=200
FLUSH_LOG=0
WORKDIR=${TMPDIR:-/tmp}
set_tenants='' set_secs='' set_warmup='' set_conns='' set_handles=''

while [ $# -gt 0 ]; do
	case $1 in
	--smoke) MODE=smoke ;;
	--quick) MODE=quick ;;
	--tenants) set_tenants=${2:?}; shift ;;
	--seconds) set_secs=${2:?}; shift ;;
	--warmup) set_warmup=${2:?}; shift ;;
	--conns) set_conns=${2:?}; shift ;;
	--threads) THREADS=${2:?}; shift ;;
	--handles) set_handles=${2:?}; shift ;;
	--rounds) ROUNDS=${2:?}; shift ;;
	--tenantd) TENANTD_BIN=${2:?}; shift ;;
	--transport) TRANSPORT=${2:?}; shift ;;
	--no-postgres) USE_PG=no ;;
	--out) OUT=${2:?}; shift ;;
	--keep) KEEP=1 ;;
	--workdir) WORKDIR=${2:?}; shift ;;
	--page-size) PAGE_SIZE=${2:?}; shift ;;
	--flush-ms) FLUSH_MS=${2:?}; shift ;;
	--flush-log) FLUSH_LOG=1 ;;
	-h|--help) usage 0 ;;
	*) echo "run.sh: unknown option $1" >&2; usage 2 ;;
	esac
	shift
done
case $MODE in
smoke)	TENANTS=50 SECS=1 WARMUP=0 CONNS=8 HANDLES=50 ROUNDS=${ROUNDS:-1} ;;
quick)	TENANTS=1000 SECS=5 WARMUP=1 ROUNDS=${ROUNDS:-1} ;;
esac
ROUNDS=${ROUNDS:-2}
TENANTS=${set_tenants:-$TENANTS} SECS=${set_secs:-$SECS}
WARMUP=${set_warmup:-$WARMUP} CONNS=${set_conns:-$CONNS}
HANDLES=${set_handles:-$HANDLES}
case $TRANSPORT in
unix|tcp) ;;
*) echo "run.sh: --transport must be unix or tcp" >&2; exit 2 ;;
esac
# --page-size: the kv schema's first migration sets its files' page size
# (PRAGMA page_size; tenantd's default, and SQLite's, is 4096)
case $PAGE_SIZE in
''|512|1024|2048|4096|8192|16384|32768|65536) ;;
*) echo "run.sh: --page-size must be a power of two from 512 to 65536" >&2; exit 2 ;;
esac
for v in "$SECS" "$WARMUP" "$CONNS" "$THREADS" "$HANDLES" "$ROUNDS" "$FLUSH_MS" ${TENANTS//,/ }; do
	case $v in ''|*[!0-9]*) echo "run.sh: not a number: '$v'" >&2; exit 2 ;; esac
done
[ "$SECS" -ge 1 ] && [ "$CONNS" -ge "$THREADS" ] && [ "$THREADS" -ge 1 ] &&
    [ "$ROUNDS" -ge 1 ] ||
	{ echo "run.sh: need --seconds >= 1, --conns >= --threads >= 1 and --rounds >= 1" >&2; exit 2; }
IFS=, read -r -a NS <<<"$TENANTS"
NMAX=0
for n in "${NS[@]}"; do
	[ "$n" -ge 10 ] || { echo "run.sh: --tenants values must be >= 10" >&2; exit 2; }
	[ "$n" -gt "$NMAX" ] && NMAX=$n
done
# tenantd's commit logs at --synchronous full: two of 2 GiB, as PostgreSQL
# runs with max_wal_size=4GB here (bench/README.md, "Durability"); the
# smoke keeps the default (256 MiB each) and the disk space it takes.
CLOG_MIB=2048
[ $MODE = smoke ] && CLOG_MIB=
DISTS_W="uniform zipf"			# popularity for the write workloads
[ $MODE = smoke ] && DISTS_W="zipf"	# (smoke: enough to keep every path alive)

# --- private dir, its mark, cleanup --------------------------------------
for tool in curl gcc awk sort setsid; do
	command -v $tool >/dev/null || { echo "run.sh: $tool is missing" >&2; exit 1; }
done
[ -d "$WORKDIR" ] || { echo "run.sh: no such dir $WORKDIR" >&2; exit 2; }
tmp=$(mktemp -d "$WORKDIR/tenantd-bench.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
# unix socket paths ($tmp/create/tenantd.sock, $tmp/pgsock/.s.PGSQL.PORT)
# must fit in sun_path (107 bytes)
[ ${#tmp} -le 80 ] || { rmdir "$tmp"; echo "run.sh: $tmp is too long for a unix socket path; use a shorter --workdir" >&2; exit 2; }
token="tenantd-bench $$ $(date +%s%N) $RANDOM$RANDOM"
echo "$token" >"$tmp/.tenantd-bench"
mkdir "$tmp/logs" "$tmp/pglog"

TD_PID='' PG_PID='' PG_MASTER='' CHILD='' ERRORS=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A path is ours if it lies in our dir and the dir carries our mark.
ours() {
	case $1 in "$tmp"/*) ;; *) return 1 ;; esac
	[ -f "$tmp/.tenantd-bench" ] && [ "$(cat "$tmp/.tenantd-bench")" = "$token" ]
}

# Kill a process group we made with setsid (or the process alone).
kill_group() {	# pid signal
	kill -"$2" -- "-$1" 2>/dev/null || kill -"$2" "$1" 2>/dev/null || true
}

wait_gone() {	# pid seconds
	local i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "$CHILD" ] && kill_group "$CHILD" TERM
	td_stop 15
	pg_stop
	if [ $KEEP = 1 ]; then
		log "kept $tmp"
	elif ours "$tmp/logs"; then
		rm -rf "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# Run a command in its own process group, in the background, and wait:
# bash runs traps only between commands, and a wait is one.
run_child() {	# out-file cmd...
	local out=$1; shift
	setsid "$@" >"$out" 2>&1 &
	CHILD=$!
	local rc=0
	wait $CHILD || rc=$?
	CHILD=
	return $rc
}

# --- tenantd ---------------------------------------------------------------
DATADIRS=" "
new_datadir() {	# var name: sets var to a data dir that does not exist yet
	local d=$tmp/$2
	[ ! -e "$d" ] || die "$d exists"
	ours "$d" || die "refusing $d: not in this run's marked dir"
	DATADIRS="$DATADIRS$d "
	printf -v "$1" '%s' "$d"
}

td_start() {	# datadir tenantd-args...
	local dir=$1; shift
	case $DATADIRS in *" $dir "*) ;; *) die "refusing to run tenantd on $dir: this run did not create it" ;; esac
	ours "$dir" || die "refusing to run tenantd on $dir: the mark of this run is missing"
	rm -f "$tmp/td.ready"
	local tcp=()
	[ $TRANSPORT = tcp ] && tcp=(--listen 127.0.0.1:0 --no-auth)
	setsid "$TENANTD" -D "$dir" "${tcp[@]}" \
	    --schemas "$tmp/schemas" --ready-file "$tmp/td.ready" "$@" \
	    2>>"$tmp/logs/tenantd.log" &
	TD_PID=$!
	local i=0
	while [ ! -s "$tmp/td.ready" ]; do
		kill -0 $TD_PID 2>/dev/null || { tail -5 "$tmp/logs/tenantd.log" >&2; die "tenantd did not start"; }
		[ $i -lt 200 ] || die "tenantd not ready after 10 s"
		sleep 0.05; i=$((i + 1))
	done
	TD_SOCK=$(sed -n 's/^unix //p' "$tmp/td.ready")
	if [ $TRANSPORT = tcp ]; then
		TD_URL=http://$(sed -n 's/^tcp //p' "$tmp/td.ready")
		TD_TARGET=(--url "$TD_URL")
		TD_CURL=(curl -s)
	else
		TD_URL=http://localhost
		TD_TARGET=(--unix "$TD_SOCK")
		TD_CURL=(curl -s --unix-socket "$TD_SOCK")
	fi
}

# Wait (at most 300 s) until tenantd has written its two commit logs ahead
# to their full size (mib + 4 MiB each; it does so while no commit waits):
# else the first workload's rounds append to the logs and the writing
# ahead happens in the next idle time, inside PostgreSQL's runs.
td_logs_filled() {	# datadir mib
	local want=$(( ($2 + 4) * 1048576 )) i=0 a b
	while :; do
		a=$(stat -c %s "$1/commit-log-0" 2>/dev/null || echo 0)
		b=$(stat -c %s "$1/commit-log-1" 2>/dev/null || echo 0)
		[ "$a" -ge "$want" ] && [ "$b" -ge "$want" ] && break
		[ $i -lt 3000 ] || { log "warning: commit logs not written ahead after 300 s ($a, $b bytes)"; return 0; }
		sleep 0.1; i=$((i + 1))
	done
	log "commit logs written ahead to $2 MiB each in $((i / 10)) s"
}

# Stop the daemon and wait for it: a clean stop leaves every open tenant's
# file complete and its WAL empty, and the next daemon's cold opens (phase
# 3) depend on that; a daemon killed instead leaves WALs that each open
# reads back (twice the cold-open time).  So the wait is long, the longest
# stop is in the report, and a kill is said there.
TD_STOP_MAX=0
TD_KILLED=0
td_stop() {	# [seconds to wait before SIGKILL, default 120]
	local t0 s
	[ -n "$TD_PID" ] || return 0
	t0=$(date +%s.%N)
	kill_group $TD_PID TERM
	if ! wait_gone $TD_PID "${1:-120}"; then
		kill_group $TD_PID KILL
		TD_KILLED=$((TD_KILLED + 1))
		log "tenantd did not stop in ${1:-120} s: killed (its WALs are left for the next opens to read back)"
	fi
	wait $TD_PID 2>/dev/null || true
	s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	log "tenantd stopped in $s s"
	TD_STOP_MAX=$(awk -v a="$TD_STOP_MAX" -v b="$s" 'BEGIN { print (b > a ? b : a) }')
	TD_PID=
}

td_metric() {	# name -> value (0 if absent)
	"${TD_CURL[@]}" "$TD_URL/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# utime + stime (+ cutime + cstime) of a process, in clock ticks
proc_cpu() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || echo 0
}
TICK=$(getconf CLK_TCK)

# bench/load.c against tenantd; sets W[key] from its RESULT line
# (requests, rps, p50_us, p99_us, err_*, bad) and W[errors].  The rest of
# the arguments go to load: -d SECONDS or -n COUNT, --op, --dist, ...
declare -A W
load_run() {	# name conns load-args...
	local name=$1 c=$2 t=$THREADS
	shift 2
	[ "$c" -lt "$t" ] && t=$c
	run_child "$tmp/logs/$name.load" "$tmp/load" "${TD_TARGET[@]}" \
	    -c "$c" -t "$t" --timeout 10 "$@" ||
		die "load failed for $name (see $tmp/logs/$name.load)"
	local line
	line=$(grep '^RESULT ' "$tmp/logs/$name.load") || die "no result from load for $name"
	local kv
	W=()
	for kv in ${line#RESULT }; do
		W[${kv%%=*}]=${kv#*=}
	done
	local e=$((W[err_connect] + W[err_read] + W[err_write] + W[err_status] + W[err_timeout] + W[bad]))
	if [ $e -ne 0 ]; then
		log "warning: $name: $e errors ($line)"
		ERRORS=$((ERRORS + e))
	fi
	W[errors]=$e
}

# A measured tenantd run: key op dist n [conns] [rate]
declare -A R
# The share of the machine's CPU time the host stole since the /proc/stat
# "cpu" line $1, in percent (a VM's virtual CPUs wait while the host runs
# others: a wait of a few ms there is a slow answer here, whatever the
# server does).
steal_since() {	# stat-line
	printf '%s\n%s\n' "$1" "$(grep -m1 '^cpu ' /proc/stat)" | awk '
	    NR == 1 { for (i = 2; i <= 9; i++) a[i] = $i }
	    NR == 2 { for (i = 2; i <= 9; i++) t += $i - a[i]
		printf "%.1f", (t > 0 ? 100 * ($9 - a[9]) / t : 0) }'
}

td_case() {
	local key=$1 op=$2 dist=$3 n=$4 c=${5:-$CONNS} rate=${6:-0}
	local name=${key//\//_}
	local args=(--op "$op" --dist "$dist" --tenants "$n")
	[ "$rate" != 0 ] && args+=(-R "$rate" --trace)
	quiesce
	[ "$WARMUP" -gt 0 ] && load_run "$name.warm" "$c" -d "$WARMUP" "${args[@]}"
	local h0 m0 c0 c1 t0 t1 s0
	h0=$(td_metric tenantd_cache_hits_total)
	m0=$(td_metric tenantd_cache_misses_total)
	local io0 iw0
	io0=$(td_metric tenantd_inline_opens_total)
	iw0=$(td_metric tenantd_inline_open_waits_total)
	echo 5 >"/proc/$TD_PID/clear_refs" 2>/dev/null || true	# reset VmHWM
	c0=$(proc_cpu $TD_PID); t0=$(date +%s.%N); s0=$(grep -m1 '^cpu ' /proc/stat)
	load_run "$name" "$c" -d "$SECS" "${args[@]}"
	c1=$(proc_cpu $TD_PID); t1=$(date +%s.%N)
	R[$key.steal]=$(steal_since "$s0")
	local h1 m1
	h1=$(td_metric tenantd_cache_hits_total)
	m1=$(td_metric tenantd_cache_misses_total)
	R[$key.rps]=${W[rps]}
	R[$key.p50]=${W[p50_us]}
	R[$key.p99]=${W[p99_us]}
	R[$key.err]=${W[errors]}
	# Misses the loop opened itself, and of those the ones it handed to
	# a worker because a page or name was not in memory (on the bench
	# VM the guest's reclaim pages out files left idle for 30 s).
	R[$key.miss]=$((m1 - m0))
	R[$key.inl]=$(($(td_metric tenantd_inline_opens_total) - io0))
	R[$key.inlw]=$(($(td_metric tenantd_inline_open_waits_total) - iw0))
	R[$key.hit]=$(awk -v h=$((h1 - h0)) -v m=$((m1 - m0)) 'BEGIN { printf "%.1f", h + m ? 100 * h / (h + m) : 0 }')
	R[$key.cpu]=$(awk -v c=$((c1 - c0)) -v t0="$t0" -v t1="$t1" -v k="$TICK" 'BEGIN { printf "%.0f", 100 * c / k / (t1 - t0) }')
	R[$key.rss]=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$TD_PID/status")
	R[$key.conf]=$TD_CONF
	if [ "$rate" != 0 ]; then
		# --trace: how the slow answers spread over the run's seconds
		R[$key.slowsecs]=$(awk '/^SECOND / { n++; split($3, a, "="); split($5, b, "=");
		    if (b[2] > a[2] / 100) k++ } END { printf "%d of %d", k, n }' "$tmp/logs/$name.load")
	fi
	log "tenantd $key: $(printf '%.0f' "${W[rps]}") req/s, p50 $(us_ms "${W[p50_us]}") ms, p99 $(us_ms "${W[p99_us]}") ms, hit ${R[$key.hit]}%, cpu ${R[$key.cpu]}%"
}

# Visit tenants b0 .. b{count-1} once each (opens their handles).
td_touch() {	# count conns
	load_run "touch$1" "$2" -n "$1" --op select
}

# Before each measured workload (its warm-up included): the pages earlier
# workloads left dirty are written back first (sync), so that neither
# server's workload pays for the write-back of the one before it.
quiesce() {
	local t0
	t0=$(date +%s.%N)
	sync
	log "quiesce: sync $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
us_ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

# --- PostgreSQL --------------------------------------------------------------
PG_OK=0
pg_setup() {
	local bindir
	bindir=$(pg_config --bindir 2>/dev/null || true)
	for d in "$bindir" /usr/lib/postgresql/15/bin; do
		[ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { bindir=$d; break; }
	done
	if [ ! -x "$bindir/postgres" ] || ! command -v pgbench >/dev/null || ! command -v psql >/dev/null; then
		[ $USE_PG = auto ] && [ $MODE = smoke ] && { echo "postgres: skipped (not installed)"; return 0; }
		die "PostgreSQL not found (apt-get install postgresql postgresql-contrib), or use --no-postgres"
	fi
	PG_VERSION=$("$bindir/postgres" --version)
	local as=()
	mkdir "$tmp/pg" "$tmp/pgsock"
	if [ "$(id -u)" -eq 0 ]; then		# initdb refuses root
		chmod 711 "$tmp"
		chown postgres: "$tmp/pg" "$tmp/pgsock"
		as=(runuser -u postgres --)
	fi
	"${as[@]}" "$bindir/initdb" -D "$tmp/pg/data" -A trust -U bench -E UTF8 \
	    --locale=C --no-sync >"$tmp/logs/initdb.log" 2>&1 || die "initdb failed (see $tmp/logs/initdb.log)"
	PG_PORT=$(free_port)
	local listen=
	if [ $TRANSPORT = tcp ]; then
		listen=127.0.0.1
		PG_HOST=127.0.0.1
	else
		PG_HOST=$tmp/pgsock
	fi
	setsid "${as[@]}" "$bindir/postgres" -D "$tmp/pg/data" -p "$PG_PORT" \
	    -k "$tmp/pgsock" -c listen_addresses=$listen -c max_connections=$((CONNS + 20)) \
	    -c shared_buffers=256MB -c max_wal_size=4GB \
	    >"$tmp/logs/postgres.log" 2>&1 &
	PG_PID=$!
	local i=0
	while ! psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U bench -d postgres -c 'SELECT 1' >/dev/null 2>&1; do
		kill -0 $PG_PID 2>/dev/null || { tail -5 "$tmp/logs/postgres.log" >&2; die "postgres did not start"; }
		[ $i -lt 300 ] || die "postgres not ready after 30 s"
		sleep 0.1; i=$((i + 1))
	done
	PG_MASTER=$(head -1 "$tmp/pg/data/postmaster.pid")
	PG_OK=1
}

pg_stop() {
	[ -n "$PG_PID" ] || return 0
	[ -n "$PG_MASTER" ] && kill -INT "$PG_MASTER" 2>/dev/null	# fast shutdown
	wait_gone "${PG_MASTER:-$PG_PID}" 20 || { kill -KILL "${PG_MASTER:-0}" 2>/dev/null; kill_group $PG_PID KILL; }
	wait $PG_PID 2>/dev/null || true
	PG_PID=
}

free_port() {	# a TCP port nobody listens on
	local p hex
	for p in $(shuf -i 20000-60000 -n 100); do
		hex=$(printf ':%04X' "$p")
		if ! awk -v h="$hex" '$2 ~ h"$" { f = 1 } END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$p"; return
		fi
	done
	die "no free port"
}

psql_do() {	# db sql
	psql -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U bench -d "$1" -c "$2" >/dev/null
}

# CPU of the postmaster, its reaped children and its live children.
pg_cpu() {
	local sum pid
	sum=$(proc_cpu "$PG_MASTER")
	for pid in $(pgrep -P "$PG_MASTER" 2>/dev/null); do
		sum=$((sum + $(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)))
	done
	echo "$sum"
}

pg_script() {	# name op dist n -> file
	local f=$tmp/pg-$1.sql pick
	if [ "$3" = zipf ]; then
		pick="random_zipfian(0, $(($4 - 1)), 1.1)"
	else
		pick="random(0, $(($4 - 1)))"
	fi
	{
		echo "\\set t $pick"
		echo "\\set k random(1, 100)"
		if [ "$2" = update ]; then
			echo "\\set r random(1, 8)"
			echo "UPDATE kv SET v = 'updated-' || :k::text || '-' || :r::text WHERE tenant_id = :t AND k = :k;"
		else
			echo "SELECT v FROM kv WHERE tenant_id = :t AND k = :k;"
		fi
	} >"$f"
	echo "$f"
}

# pgbench; sets P_tps P_p50 P_p99 (microseconds) P_failed.
pgbench_run() {	# name seconds extra-args...
	local name=$1 s=$2; shift 2
	rm -f "$tmp/pglog/$name".*
	run_child "$tmp/logs/$name.pgbench" pgbench -h "$PG_HOST" -p "$PG_PORT" \
	    -U bench -n -c "$CONNS" -j "$THREADS" -T "$s" -l \
	    --log-prefix="$tmp/pglog/$name" "$@" ||
		die "pgbench failed for $name (see $tmp/logs/$name.pgbench)"
	P_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$tmp/logs/$name.pgbench" | tail -1)
	P_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$tmp/logs/$name.pgbench")
	P_failed=${P_failed:-0}
	[ -n "$P_tps" ] || die "no tps from pgbench for $name"
	# the third field of each log line is the latency in microseconds
	read -r P_p50 P_p99 < <(cat "$tmp/pglog/$name".* | awk '$3 ~ /^[0-9]+$/ { print $3 }' |
	    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print 0, 0; else print v[int((NR - 1) * 0.50) + 1], v[int((NR - 1) * 0.99) + 1] }')
	rm -f "$tmp/pglog/$name".*
	if [ "$P_failed" -ne 0 ]; then
		log "warning: $name: $P_failed failed transactions"
		ERRORS=$((ERRORS + P_failed))
	fi
}

pg_case() {	# key op dist n [rate]
	local key=$1 op=$2 dist=$3 n=$4 rate=${5:-0} files=() name
	name=pg_${key//\//_}
	case $op in
	select|update) files=(-f "$(pg_script "$name-$op" "$op" "$dist" "$n")") ;;
	mix) files=(-f "$(pg_script "$name-s" select "$dist" "$n")@9"
	    -f "$(pg_script "$name-u" update "$dist" "$n")@1") ;;
	esac
	local extra=(-M prepared)
	[ "$rate" != 0 ] && extra+=(-R "$rate")
	quiesce
	[ "$WARMUP" -gt 0 ] && pgbench_run "$name.warm" "$WARMUP" "${extra[@]}" "${files[@]}" bench
	local c0 c1 t0 t1 s0
	c0=$(pg_cpu); t0=$(date +%s.%N); s0=$(grep -m1 '^cpu ' /proc/stat)
	pgbench_run "$name" "$SECS" "${extra[@]}" "${files[@]}" bench
	R[pg/$key.steal]=$(steal_since "$s0")
	sleep 0.2		# let the postmaster reap the backends
	c1=$(pg_cpu); t1=$(date +%s.%N)
	R[pg/$key.rps]=$P_tps
	R[pg/$key.p50]=$P_p50
	R[pg/$key.p99]=$P_p99
	R[pg/$key.err]=$P_failed
	R[pg/$key.cpu]=$(awk -v c=$((c1 - c0)) -v t0="$t0" -v t1="$t1" -v k="$TICK" 'BEGIN { printf "%.0f", 100 * c / k / (t1 - t0 - 0.2) }')
	R[pg/$key.conf]=$PG_CONF
	log "postgres $key: $(printf '%.0f' "$P_tps") tx/s, p50 $(us_ms "$P_p50") ms, p99 $(us_ms "$P_p99") ms"
	# The dead rows of a write workload are vacuumed now, between
	# workloads, not by autovacuum inside the next one (which may be
	# tenantd's).  PostgreSQL's numbers leave this upkeep out.
	[ "$op" = select ] || psql_do bench "VACUUM ANALYZE kv"
}

# Keep a run's results as round r's (R[key.field#r]).
round_keep() {	# key round
	local f
	for f in rps p50 p99 cpu hit rss err slowsecs steal; do
		[ -n "${R[$1.$f]:-}" ] && R[$1.$f#$2]=${R[$1.$f]}
	done
	return 0
}

# The rounds' results into R[key.field]: the mean of each number (peak RSS:
# the highest; errors: the sum; slow seconds: each round's).
round_merge() {	# key
	local f i vals
	for f in rps p50 p99 cpu hit; do
		vals=
		for ((i = 1; i <= ROUNDS; i++)); do vals+=" ${R[$1.$f#$i]:-}"; done
		R[$1.$f]=$(echo "$vals" | awk -v f=$f '{ for (i = 1; i <= NF; i++) s += $i;
		    if (NF == 0) exit; printf(f == "hit" ? "%.1f" : "%.0f", s / NF) }')
	done
	vals=
	for ((i = 1; i <= ROUNDS; i++)); do vals+=" ${R[$1.rss#$i]:-}"; done
	R[$1.rss]=$(echo "$vals" | awk '{ m = $1; for (i = 2; i <= NF; i++) if ($i > m) m = $i; print m }')
	R[$1.err]=0
	for ((i = 1; i <= ROUNDS; i++)); do R[$1.err]=$((R[$1.err] + ${R[$1.err#$i]:-0})); done
	if [ -n "${R[$1.slowsecs#1]:-}" ]; then
		vals=${R[$1.slowsecs#1]}
		for ((i = 2; i <= ROUNDS; i++)); do vals+="; ${R[$1.slowsecs#$i]}"; done
		R[$1.slowsecs]=$vals
	fi
	if [ -n "${R[$1.steal#1]:-}" ]; then
		vals=${R[$1.steal#1]}%
		for ((i = 2; i <= ROUNDS; i++)); do vals+="; ${R[$1.steal#$i]}%"; done
		R[$1.steals]=$vals
	fi
}

# A workload on tenantd and on PostgreSQL, $ROUNDS times: tenantd first in
# odd rounds, PostgreSQL first in even ones (A B B A ...), so that a slow
# drift of the machine's speed weighs on both sides alike.  R[tkey.*] and
# R[pg/pkey.*] get the means; R[tkey.rounds] each round's ratio.
pair_case() {	# tkey pkey op dist n tenantd-rate pg-rate
	local tk=$1 pk=$2 op=$3 dist=$4 n=$5 trate=$6 prate=$7 r ratios=
	for ((r = 1; r <= ROUNDS; r++)); do
		[ $ROUNDS -gt 1 ] && log "round $r of $ROUNDS: $op, $dist, $n tenants"
		if [ $((r % 2)) = 0 ] && [ $PG_OK = 1 ]; then
			pg_case "$pk" "$op" "$dist" "$n" "$prate"; round_keep "pg/$pk" $r
		fi
		td_case "$tk" "$op" "$dist" "$n" "$CONNS" "$trate"; round_keep "$tk" $r
		if [ $((r % 2)) = 1 ] && [ $PG_OK = 1 ]; then
			pg_case "$pk" "$op" "$dist" "$n" "$prate"; round_keep "pg/$pk" $r
		fi
		[ $PG_OK = 1 ] && ratios+="${ratios:+, }$(ratio "${R[$tk.rps#$r]}" "${R[pg/$pk.rps#$r]}")"
	done
	round_merge "$tk"
	[ $PG_OK = 1 ] && round_merge "pg/$pk"
	R[$tk.rounds]=$ratios
	return 0
}

# ==========================================================================
log "private dir $tmp"
# The machine's CPU time at the start (/proc/stat "cpu" line), for the
# share the host stole over the run (report): on a VM that share says
# whether a run's numbers are the machine's or the servers'.
STAT0=$(grep -m1 '^cpu ' /proc/stat)
# The guest kernel's own proactive reclaim, which competes for the same
# cores: DAMON's kdamond threads page out page cache left idle for a while
# (on the bench VM: pages idle 30 s, up to 800 ms of CPU per second), and
# what they paged out is read back from disk when used again.  Their CPU
# ticks and the kernel's file refault and read counters at the start.
kdamond_ticks() {
	local p t=0 v
	for p in $(pgrep -x 'kdamond\.[0-9]+' 2>/dev/null); do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) && t=$((t + v))
	done
	echo "$t"
}
vmstat_get() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' /proc/vmstat; }
KD0=$(kdamond_ticks); KDT0=$(date +%s.%N)
RF0=$(vmstat_get workingset_refault_file); PGIN0=$(vmstat_get pgpgin)
{
	echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "command:  bench/run.sh $ARGV"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at the start (1, 5, 15 min load average; the machine may be shared)"
	echo "machine:  $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM (free -g), $(uname -sr)"
} >"$tmp/header"

# --- build ---------------------------------------------------------------------
gcc -O2 -I"$bench/../tenantd" -o "$tmp/floor" "$bench/floor.c" "$bench/../tenantd/exclvfs.c" \
    -lsqlite3 -lpthread || die "cannot build bench/floor.c"
gcc -O2 -Wall -Wextra -o "$tmp/load" "$bench/load.c" -lpthread -lm || die "cannot build bench/load.c"
if [ -n "$TENANTD_BIN" ]; then
	TENANTD=$(cd "$(dirname "$TENANTD_BIN")" && pwd)/$(basename "$TENANTD_BIN")
	BUILD="given: $TENANTD_BIN"
elif [ $MODE = smoke ] && [ -x "$top/tenantd/tenantd" ]; then
	TENANTD=$top/tenantd/tenantd
	BUILD="in-tree tenantd/tenantd"
	grep -q -- '-O0' "$top/Makefile" 2>/dev/null && BUILD="$BUILD (debug build, -O0)"
elif git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	log "building an optimised tenantd from the working tree"
	mkdir "$tmp/src"
	(cd "$top" && git ls-files -z | tar --null -T - -cf - 2>/dev/null) | tar -C "$tmp/src" -xf -
	if (cd "$tmp/src" && autoreconf -fi && ./configure -q && make -s -j"$(nproc)" tenantd/tenantd) \
	    >"$tmp/logs/build.log" 2>&1; then
		TENANTD=$tmp/src/tenantd/tenantd
		BUILD="working tree at $(git -C "$top" describe --always --dirty 2>/dev/null), ./configure (-O2)"
	else
		tail -20 "$tmp/logs/build.log" >&2
		die "build failed; pass --tenantd PATH to use a built binary"
	fi
else
	TENANTD=$top/tenantd/tenantd
	BUILD="in-tree tenantd/tenantd"
fi
[ -x "$TENANTD" ] || die "no tenantd binary at $TENANTD"
echo "tenantd:  $BUILD" >>"$tmp/header"
if [ -n "$PAGE_SIZE" ]; then
	echo "pages:    $PAGE_SIZE bytes in the kv tenant files (--page-size: PRAGMA page_size in the first migration) and in the floor's" >>"$tmp/header"
else
	echo "pages:    4096 bytes in the kv tenant files and in the floor's (the default)" >>"$tmp/header"
fi

mkdir -p "$tmp/schemas/kv" "$tmp/schemas/kvtable"
[ -n "$PAGE_SIZE" ] && echo "PRAGMA page_size = $PAGE_SIZE;" >"$tmp/schemas/kv/0001_kv.sql"
cat >>"$tmp/schemas/kv/0001_kv.sql" <<'EOF'
CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100)
INSERT INTO kv SELECT i, 'value-' || i FROM c;
EOF
echo 'CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT);' >"$tmp/schemas/kvtable/0001_kv.sql"

# --- the floor (nothing else running) ----------------------------------------
if [ $MODE = smoke ]; then floor_args=(0.2 50); else floor_args=(2 1000); fi
floor() {	# prefix tests [held]: run bench/floor.c, results into R[prefix.key]
	FLOOR_PAGE_SIZE=$PAGE_SIZE "$tmp/floor" "$tmp/floor-data" "${floor_args[@]}" "$2" ${3:+"$3"} >"$tmp/logs/floor.out" || die "floor failed"
	while read -r _ k v; do R[$1.$k]=$v; done <"$tmp/logs/floor.out"
	# Its files have the tenants' page size (FLOOR_PAGE_SIZE), or the
	# cold and update floors would not be the daemon's work.
	[ "${R[$1.page_size]}" = "${PAGE_SIZE:-4096}" ] ||
	    die "the floor's files have ${R[$1.page_size]}-byte pages, not ${PAGE_SIZE:-4096}"
}
log "floor: bare SQLite, ${floor_args[0]} s per test"
floor floor hot,cold,update,mem,wake
floor floor memnobulk

# --- load ----------------------------------------------------------------------
if [ $USE_PG = no ]; then
	echo "postgres: skipped (--no-postgres)"
else
	pg_setup
fi
if [ $PG_OK = 1 ]; then
	echo "postgres: $PG_VERSION (shared_buffers=256MB, max_wal_size=4GB)" >>"$tmp/header"
else
	echo "postgres: skipped" >>"$tmp/header"
fi
echo "sqlite:   ${R[floor.sqlite_version]} (floor and tenantd link the system libsqlite3)" >>"$tmp/header"
echo "durability: tenantd --synchronous normal --flush-ms $FLUSH_MS$([ "$FLUSH_MS" = 0 ] && echo " (no flush: a power cut takes back every commit since a tenant's last checkpoint)" || { [ "$FLUSH_LOG" = 1 ] && echo " --flush-log${CLOG_MIB:+ --commit-log-mib $CLOG_MIB} (through the commit log every $FLUSH_MS ms; PostgreSQL's wal_writer_delay is 200 ms)" || echo " (a syncfs every $FLUSH_MS ms with commits; PostgreSQL's wal_writer_delay is 200 ms)"; })" >>"$tmp/header"
echo "durability: tenantd --synchronous full with group commit, --commit-log-mib ${CLOG_MIB:-256 (default)}$([ -n "$CLOG_MIB" ] && echo " (two logs, $((CLOG_MIB * 2 / 1024)) GiB, as max_wal_size)")" >>"$tmp/header"
echo "clients:  bench/load.c, $CONNS connections, $THREADS threads; pgbench -c $CONNS -j $THREADS -M prepared" >>"$tmp/header"
if [ $TRANSPORT = tcp ]; then
	echo "transport: tcp: tenantd on 127.0.0.1 (--listen), PostgreSQL on 127.0.0.1 (pgbench -h 127.0.0.1)" >>"$tmp/header"
else
	echo "transport: unix: tenantd on its unix socket (DATA/tenantd.sock), PostgreSQL on its private socket dir" >>"$tmp/header"
fi

data='' cdata=''
new_datadir data data
TD_CONF=load
td_start "$data"
log "loading $NMAX tenants x 100 rows through POST /v1/tenants (schema kv, $TRANSPORT)"
t0=$(date +%s.%N)
load_run load "$CONNS" -n "$NMAX" --op create --schema kv
t1=$(date +%s.%N)
[ "${W[errors]}" -eq 0 ] || die "loading failed"
LOAD_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
log "loaded in $LOAD_S s"
# A create writes only the catalog record; each file is made on its
# tenant's first open.  Open every tenant once now, so that the workloads
# measure serving, not making files (the time is reported).
t0=$(date +%s.%N)
load_run firstopen "$CONNS" -n "$NMAX" --op select --dist seq --tenants "$NMAX"
t1=$(date +%s.%N)
[ "${W[errors]}" -eq 0 ] || die "first open failed"
FIRST_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
log "first opens (files made) in $FIRST_S s"
R[firstopen.rate]=${W[rps]}
echo "data:     $NMAX tenants x 100 rows created through the API in $LOAD_S s, then each opened once (its file made) in $FIRST_S s ($CONNS connections, $TRANSPORT)" >>"$tmp/header"
td_stop
if [ $PG_OK = 1 ]; then
	t0=$(date +%s.%N)
	psql_do postgres "CREATE DATABASE bench"
	psql_do bench "CREATE TABLE kv (tenant_id int, k int, v text, PRIMARY KEY (tenant_id, k));
	    INSERT INTO kv SELECT t, k, 'value-' || k FROM generate_series(0, $((NMAX - 1))) t, generate_series(1, 100) k;"
	psql_do bench "VACUUM ANALYZE kv"
	psql_do bench "CHECKPOINT"
	t1=$(date +%s.%N)
	log "postgres loaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
fi

pg_sync() {	# on|off
	psql_do postgres "ALTER DATABASE bench SET synchronous_commit = $1"
	PG_CONF="synchronous_commit=$1"
}

ROWS=()
row() { ROWS+=("$*"); }	# workload|n|dist|tenantd key|postgres key

# --- the workloads, per N --------------------------------------------------------
for n in "${NS[@]}"; do
	# 1. synchronous=NORMAL, the default cap, against synchronous_commit=off;
	# with --flush-ms (200 by default, PostgreSQL's wal_writer_delay) a
	# power cut takes back the last ~200 ms on both sides
	flush=()
	[ "$FLUSH_MS" != 0 ] && flush=(--flush-ms "$FLUSH_MS")
	# --flush-log: through the commit log, as big as the FULL phase's
	[ "$FLUSH_LOG" = 1 ] && flush+=(--flush-log ${CLOG_MIB:+--commit-log-mib $CLOG_MIB})
	td_start "$data" --synchronous normal "${flush[@]}"
	default_cap=$(td_metric tenantd_max_open_handles)
	TD_CONF="normal, cap $default_cap"
	td_touch $(( n < default_cap ? n : default_cap )) "$CONNS"
	[ $PG_OK = 1 ] && pg_sync off
	for op in select update mix; do
		dists=$DISTS_W
		[ $op = select ] && dists="uniform zipf"
		for dist in $dists; do
			pair_case "$n/$op/$dist/normal" "$n/$op/$dist/off" $op $dist "$n" 0 0
			row "$op|$n|$dist|$n/$op/$dist/normal|$n/$op/$dist/off"
		done
		if [ $op = select ] && [ "$n" = "$NMAX" ]; then
			# p99 at half of peak, right after the peak (the Zipf
			# point select) was measured, on the same daemon and
			# before any write phase: a read workload's latency, not
			# that of the write-back the update phases leave behind
			# (for tenantd and PostgreSQL alike)
			half=$(awk -v r="${R[$n/select/zipf/normal.rps]}" 'BEGIN { printf "%d", r / 2 }')
			R[half.target]=$half
			pghalf=0
			if [ $PG_OK = 1 ]; then
				pghalf=$(awk -v r="${R[pg/$n/select/zipf/off.rps]}" 'BEGIN { printf "%d", r / 2 }')
				R[pg/half.target]=$pghalf
			fi
			pair_case "half/select" "half/select" select zipf "$n" "$half" "$pghalf"
		fi
	done
	td_stop

	# 2. synchronous=FULL against synchronous_commit=on
	TD_CONF="full, cap $default_cap"
	td_start "$data" --synchronous full ${CLOG_MIB:+--commit-log-mib $CLOG_MIB}
	td_touch $(( n < default_cap ? n : default_cap )) "$CONNS"
	[ -n "$CLOG_MIB" ] && td_logs_filled "$data" "$CLOG_MIB"
	[ $PG_OK = 1 ] && pg_sync on
	for op in update mix; do
		for dist in $DISTS_W; do
			pair_case "$n/$op/$dist/full" "$n/$op/$dist/on" $op $dist "$n" 0 0
			row "$op|$n|$dist|$n/$op/$dist/full|$n/$op/$dist/on"
		done
	done
	td_stop

	# 3. the cache capped below the working set; cold tenants
	cap=$((n / 10)); [ $cap -lt $((2 * CONNS)) ] && cap=$((2 * CONNS))
	[ $cap -ge "$n" ] && cap=$((n / 2))
	TD_CONF="normal, cap $cap"
	td_start "$data" --synchronous normal --max-open $cap
	for dist in uniform zipf; do
		td_case "$n/select/$dist/cap" select $dist "$n"
		row "select, cache cap $cap|$n|$dist|$n/select/$dist/cap|$n/select/$dist/off"
	done
	# Round robin over n tenants with an LRU of cap < n: every request
	# misses.  One connection gives the latency, $CONNS the throughput.
	# The floor's cold open is measured again right before (file system
	# costs move with whatever else the machine does): alone, and with
	# $cap other files held open as the daemon's cache holds them
	# (SQLite's unix VFS walks its list of open files on every open).
	floor "floor.$n" cold,coldidle,wake
	floor "floor.$n" cold "$cap"
	td_case "$n/cold/seq/cold1" select seq "$n" 1
	row "cold tenant, 1 connection|$n|round robin|$n/cold/seq/cold1|"
	td_case "$n/cold/seq/cold" select seq "$n"
	row "cold tenant|$n|round robin|$n/cold/seq/cold|"
	td_stop
done

# --- memory per idle cached handle -----------------------------------------------
H=$(( HANDLES < NMAX ? HANDLES : NMAX ))
TD_CONF="normal, cap $((H + CONNS))"
td_start "$data" --synchronous normal --max-open $((H + CONNS))
td_touch 1 "$CONNS"
sleep 0.5
rss0=$(awk '/^VmRSS/ { print $2 }' "/proc/$TD_PID/status")
td_touch "$H" "$CONNS"
sleep 1
rss1=$(awk '/^VmRSS/ { print $2 }' "/proc/$TD_PID/status")
R[mem.handles]=$(td_metric tenantd_open_handles)
R[mem.base]=$rss0
R[mem.rss]=$rss1
R[mem.per]=$(awk -v a="$rss0" -v b="$rss1" -v h="$H" 'BEGIN { printf "%.1f", (b - a) / (h - 1) }')
log "memory: $H handles, RSS $rss0 -> $rss1 KiB, ${R[mem.per]} KiB per handle"
td_stop

# --- tenant creation -------------------------------------------------------------
new_datadir cdata create
TD_CONF="normal"
td_start "$cdata" --synchronous normal
load_run create-null "$CONNS" -d "$SECS" --op create --prefix n
R[create.null]=${W[rps]}
load_run create-kv "$CONNS" -d "$SECS" --op create --schema kvtable --prefix t
R[create.kv]=${W[rps]}
log "tenantd creation: ${R[create.null]}/s (schema null), ${R[create.kv]}/s (CREATE TABLE kv)"
td_stop
if [ $PG_OK = 1 ]; then
	psql_do postgres "CREATE DATABASE creates"
	cat >"$tmp/pg-create.sql" <<'EOF'
\set n :n + 1
\set id :client_id * 100000000 + :n
BEGIN;
CREATE SCHEMA s:id;
CREATE TABLE s:id.kv (k int PRIMARY KEY, v text);
COMMIT;
EOF
	pgbench_run pg-create "$SECS" -M simple -D n=0 -f "$tmp/pg-create.sql" creates
	R[pg/create]=$P_tps
	log "postgres creation: $P_tps/s"
fi

# ==========================================================================
# Report
num() { [ -n "$1" ] && printf '%.0f' "$1" || printf -- '-'; }
ms() { [ -n "$1" ] && us_ms "$1" || printf -- '-'; }
xr() { if [ "$1" = - ]; then printf -- '-'; else printf '%sx' "$1"; fi; }	# a ratio, "1.23x"
each() { [ -n "${R[$1.rounds]:-}" ] && [ $ROUNDS -gt 1 ] && printf ' (each round: %s)' "${R[$1.rounds]}"; return 0; }	# key
rounds_ms() {	# key: each round's p99 in ms, "1.23, 2.34"
	local i out=
	for ((i = 1; i <= ROUNDS; i++)); do
		[ -n "${R[$1.p99#$i]:-}" ] && out+="${out:+, }$(us_ms "${R[$1.p99#$i]}")"
	done
	printf '%s' "${out:--}"
}
meets() { awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { if (v == "-" || v == "") print "n/a"; else if ((d == "ge" && v + 0 >= t) || (d == "le" && v + 0 <= t) || (d == "lt" && v + 0 < t)) print "met"; else print "**missed**" }'; }

report() {
	cat "$tmp/header"
	echo "end:      $(date -u '+%H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%s\n%s\n' "$STAT0" "$(grep -m1 '^cpu ' /proc/stat)" | awk '
	    NR == 1 { for (i = 2; i <= 9; i++) a[i] = $i }
	    NR == 2 { for (i = 2; i <= 9; i++) { d[i] = $i - a[i]; t += d[i] }
		if (t > 0) printf "cpu:      over the run (/proc/stat, both cores): busy %.0f%%, idle %.0f%%, iowait %.0f%%, stolen by the host %.1f%%\n", 100 * (t - d[5] - d[6] - d[9]) / t, 100 * d[5] / t, 100 * d[6] / t, 100 * d[9] / t }'
	if [ -n "$(pgrep -x 'kdamond\.[0-9]+' 2>/dev/null)" ]; then
		awk -v k=$(($(kdamond_ticks) - KD0)) -v hz="$TICK" -v t0="$KDT0" -v t1="$(date +%s.%N)" \
		    -v pg="$(getconf PAGESIZE)" -v rf=$(($(vmstat_get workingset_refault_file) - RF0)) -v pi=$(($(vmstat_get pgpgin) - PGIN0)) 'BEGIN {
			printf "reclaim:  the kernel'"'"'s proactive reclaim (DAMON, kdamond) used %.1f%% of one core over the run; file pages read back after reclaim %d (%.0f MiB, workingset_refault_file), disk reads %.0f MiB (pgpgin)\n",
			    (t1 > t0 ? 100 * k / hz / (t1 - t0) : 0), rf, rf * pg / 1048576, pi / 1024 }'
	else
		echo "reclaim:  no proactive reclaim thread (kdamond) on this kernel"
	fi
	echo "stops:    the slowest tenantd stop (SIGTERM to exit, every open tenant's WAL put into its file) took $TD_STOP_MAX s$([ "$TD_KILLED" -gt 0 ] && echo "; **$TD_KILLED stop(s) timed out and were killed**: the daemon after it read WALs back on its opens")"
	echo
	echo "| workload | tenants | popularity | tenantd (sync, cache cap) | tenantd req/s | p50 ms | p99 ms | cache hits | tenantd CPU | peak RSS MiB | PostgreSQL | PG tx/s | PG p50 ms | PG p99 ms | PG CPU | tenantd/PG | each round |"
	echo "|---|---|---|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|"
	local r op n dist tk pk
	for r in "${ROWS[@]}"; do
		IFS='|' read -r op n dist tk pk <<<"$r"
		local pgc="-" pr="" p50="" p99="" pcpu="-" rat="-"
		if [ -n "$pk" ] && [ -n "${R[pg/$pk.rps]:-}" ]; then
			pgc=${R[pg/$pk.conf]}; pr=${R[pg/$pk.rps]}; p50=${R[pg/$pk.p50]}; p99=${R[pg/$pk.p99]}
			pcpu="${R[pg/$pk.cpu]}%"; rat=$(ratio "${R[$tk.rps]}" "$pr")
			case $tk in */cap) pgc="$pgc (uncapped row above)" ;; esac
		fi
		local flag=""
		[ "${R[$tk.err]:-0}" != 0 ] && flag=" (${R[$tk.err]} errors)"
		echo "| $op | $n | $dist | ${R[$tk.conf]} | $(num "${R[$tk.rps]}")$flag | $(ms "${R[$tk.p50]}") | $(ms "${R[$tk.p99]}") | ${R[$tk.hit]}% | ${R[$tk.cpu]}% | ${R[$tk.rss]} | $pgc | $(num "$pr") | $(ms "$p50") | $(ms "$p99") | $pcpu | $rat | ${R[$tk.rounds]:--} |"
	done
	echo
	echo "CPU is percent of one core (2 cores = 200%); PostgreSQL CPU counts the postmaster and its backends. bench/load.c and pgbench run on the same cores, over $TRANSPORT sockets. Rows with a PostgreSQL twin ran $ROUNDS round(s) on each server (tenantd, PG, PG, tenantd, ...): the numbers are the means of the rounds (peak RSS the highest), tenantd/PG the ratio of the means, *each round* the ratio within each round."
	echo
	echo "Floor (bench/floor.c, one thread, in process, before the load): hot point select $(num "${R[floor.hot_select_ops]}")/s (${R[floor.hot_select_us]} us); cold open + query + close p50 ${R[floor.cold_p50_us]} us, p99 ${R[floor.cold_p99_us]} us ($(num "${R[floor.cold_ops]}")/s); point update $(num "${R[floor.update_normal_ops]}")/s (synchronous=NORMAL), $(num "${R[floor.update_full_ops]}")/s (FULL). Thread wake-up round trip (two threads waking each other through eventfds, no SQLite: what the machine charges per hand-off, which a request to the daemon pays at least twice and the floors never) p50 ${R[floor.wake_rtt_p50_us]} us, p99 ${R[floor.wake_rtt_p99_us]} us."
	echo
	local hk="half/select"
	echo "| other | tenantd | PostgreSQL | tenantd/PG |"
	echo "|---|--:|--:|--:|"
	echo "| p99 at half of peak (Zipf select, $NMAX tenants; target rate tenantd ${R[half.target]}/s, PG ${R[pg/half.target]:--}/s): achieved req/s | $(num "${R[$hk.rps]}") | $(num "${R[pg/$hk.rps]:-}") | |"
	echo "| p50 / p99 ms at half of peak (mean of the rounds) | $(ms "${R[$hk.p50]}") / $(ms "${R[$hk.p99]}") | $(ms "${R[pg/$hk.p50]:-}") / $(ms "${R[pg/$hk.p99]:-}") | |"
	echo "| p99 ms at half of peak, each round | $(rounds_ms "$hk") | $(rounds_ms "pg/$hk") | |"
	echo "| seconds of each round in which more than 1% of answers took over 2 ms (\`load --trace\`) | ${R[$hk.slowsecs]:--} | | |"
	echo "| CPU time stolen by the host during each round (/proc/stat, both cores) | ${R[$hk.steals]:-${R[$hk.steal]:+${R[$hk.steal]}%}} | ${R[pg/$hk.steals]:-${R[pg/$hk.steal]:+${R[pg/$hk.steal]}%}} | |"
	echo "| tenant creation /s, schema null (PG: CREATE SCHEMA + CREATE TABLE, synchronous_commit=on) | $(num "${R[create.null]}") | $(num "${R[pg/create]:-}") | $(ratio "${R[create.null]}" "${R[pg/create]:-}") |"
	echo "| tenant creation /s, with CREATE TABLE kv (a one-step schema) | $(num "${R[create.kv]}") | $(num "${R[pg/create]:-}") | $(ratio "${R[create.kv]}" "${R[pg/create]:-}") |"
	echo "| first open of a tenant never opened before, /s (its file made: the kv schema with 100 rows; part of the cost a create used to pay) | $(num "${R[firstopen.rate]}") | | |"
	echo "| RSS per idle cached handle, ${R[mem.handles]} handles open (RSS ${R[mem.base]} -> ${R[mem.rss]} KiB) | ${R[mem.per]} KiB | | |"
	echo "| floor: RSS per open handle in one process, ${floor_args[1]} files (default SQLite; with page-cache bulk preallocation off) | ${R[floor.mem_kib]} KiB; ${R[floor.memnobulk_kib]} KiB | | |"
	echo
	local cold_ratio
	cold_ratio=$(ratio "${R[$NMAX/cold/seq/cold1.p50]}" "${R[floor.$NMAX.cold_held_p50_us]}")
	echo "Daemon over bare SQLite:"
	echo
	for n in "${NS[@]}"; do
		echo "- $n tenants: cold-tenant request p50 at 1 connection $(ms "${R[$n/cold/seq/cold1.p50]}") ms / floor open+query+close p50 with the same ${R[floor.$n.cold_held_files]} files held open as the daemon's cache $(ms "${R[floor.$n.cold_held_p50_us]}") ms = **$(xr "$(ratio "${R[$n/cold/seq/cold1.p50]}" "${R[floor.$n.cold_held_p50_us]}")")** (against the floor with no other file open, $(ms "${R[floor.$n.cold_p50_us]}") ms: $(xr "$(ratio "${R[$n/cold/seq/cold1.p50]}" "${R[floor.$n.cold_p50_us]}")"); against the same open begun from idle, the thread asleep 100 us before each, $(ms "${R[floor.$n.cold_idle_p50_us]}") ms: $(xr "$(ratio "${R[$n/cold/seq/cold1.p50]}" "${R[floor.$n.cold_idle_p50_us]}")"); all measured just before, with a thread wake-up round trip p50 of ${R[floor.$n.wake_rtt_p50_us]} us; of the run's ${R[$n/cold/seq/cold1.miss]:-0} misses the loop tried ${R[$n/cold/seq/cold1.inl]:-0} itself and handed ${R[$n/cold/seq/cold1.inlw]:-0} of those on to a worker, as they would have waited for the disk); point-select throughput (Zipf, $CONNS connections) / floor hot select (1 thread) = **$(xr "$(ratio "${R[$n/select/zipf/normal.rps]}" "${R[floor.hot_select_ops]}")")**"
	done
	echo
	echo "| target (issue 6) | measured | |"
	echo "|---|---|---|"
	local k v
	k=$NMAX/select/zipf
	v=$(ratio "${R[$k/normal.rps]}" "${R[pg/$k/off.rps]:-}")
	echo "| point select, $NMAX tenants, Zipf, $CONNS conns: >= 1.0x PostgreSQL | $(xr "$v")$(each "$k/normal") | $(meets "$v" 1.0 ge) |"
	for op in update mix; do
		for dist in $DISTS_W; do
			k=$NMAX/$op/$dist
			v=$(ratio "${R[$k/normal.rps]}" "${R[pg/$k/off.rps]:-}")
			echo "| $op, $NMAX tenants, $dist, NORMAL vs synchronous_commit=off: >= 1.5x | $(xr "$v")$(each "$k/normal") | $(meets "$v" 1.5 ge) |"
			v=$(ratio "${R[$k/full.rps]}" "${R[pg/$k/on.rps]:-}")
			echo "| $op, $NMAX tenants, $dist, FULL vs synchronous_commit=on: >= 1.5x | $(xr "$v")$(each "$k/full") | $(meets "$v" 1.5 ge) |"
		done
	done
	echo "| cold-tenant latency <= 3x the open + query + close floor (with as many files open as the daemon's cache) | $(xr "$cold_ratio") | $(meets "$cold_ratio" 3 le) |"
	v=${R[mem.per]}
	echo "| <= 64 KiB RSS per idle handle at ${R[mem.handles]} handles | $v KiB | $(meets "$v" 64 le) |"
	v=$(us_ms "${R[$hk.p99]}")
	echo "| p99 at half of peak < 2 ms | $v ms$([ $ROUNDS -gt 1 ] && echo " (each round: $(rounds_ms "$hk") ms)") | $(meets "$v" 2 lt) |"
	v=$(ratio "${R[create.null]}" "${R[pg/create]:-}")
	echo "| tenant creation >= 10x PostgreSQL schema-per-tenant | $(xr "$v") (schema null), $(xr "$(ratio "${R[create.kv]}" "${R[pg/create]:-}")") (with table) | $(meets "$v" 10 ge) |"
	[ $ERRORS -eq 0 ] || { echo; echo "**$ERRORS errors during the runs: see the warnings above; the numbers are suspect.**"; }
}

report | tee "$tmp/report.md"
[ -z "$OUT" ] || cp "$tmp/report.md" "$OUT"
[ $ERRORS -eq 0 ] || exit 1
