#!/usr/bin/env bash
# Install what tenantd needs (Debian 12), build it, and start it in the
# foreground on an embedded default: data in ./tenantd-data, the example
# "notes" schema, the unix socket ./tenantd-data/tenantd.sock and TCP
# 127.0.0.1:7070.  Extra arguments go to tenantd.
set -eu
cd "$(dirname "$0")"
need=""
for p in build-essential autoconf automake pkg-config libsqlite3-dev \
    libevent-dev liblmdb-dev libjansson-dev libssl-dev sqlite3 curl; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)"
echo "tenantd: starting on ./tenantd-data (unix socket) and http://127.0.0.1:7070 (tokens: admin-cli/tenantctl -D tenantd-data token create ID); Ctrl-C stops it"
exec ./tenantd/tenantd -D ./tenantd-data --listen 127.0.0.1:7070 \
	--default-schema notes "$@"
