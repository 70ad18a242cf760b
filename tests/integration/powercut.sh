#!/bin/sh
# The power-cut simulator (tests/powercut/) keeps exactly what was synced:
# a file's bytes once it is fsynced (or written through O_DSYNC), a name
# once its folder is fsynced, everything at a sync(2); nothing else.  One
# process (python3, with powercut.so preloaded) writes in every way; the
# tree pcimage rebuilds from the record log is checked, name by name.
# powercut.test.mjs relies on this to say what a power cut keeps of tenantd.
. "$TOP_SRCDIR/tests/lib.sh"

SO=$TOP_BUILDDIR/tests/powercut/powercut.so
IMAGE=$TOP_BUILDDIR/tests/powercut/pcimage
R=$TD_TMP/root

mkdir -p "$R"
printf 'AAAAAAAAAA' >"$R/old"		# there at start: durable as it is
printf 'KEEP' >"$R/old2"
sync

cut() {	# cut NAME PYTHON: run PYTHON under the shim, rebuild into $TD_TMP/NAME
	rm -f "$TD_TMP/$1.log"
	PCUT_ROOT=$R PCUT_LOG=$TD_TMP/$1.log LD_PRELOAD=$SO python3 -c "$2" &&
	    "$IMAGE" "$TD_TMP/$1.log" "$TD_TMP/$1" >/dev/null
}

cut img '
import os
R = os.environ["PCUT_ROOT"]
def put(name, data, flags=0):
    fd = os.open(R + "/" + name, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    os.write(fd, data)
    return fd
d = os.open(R, os.O_RDONLY | os.O_DIRECTORY)
fd = put("a", b"synced"); os.fsync(fd); os.close(fd)
fd = put("c", b"never synced"); os.close(fd)
fd = put("ds", b""); os.close(fd)
os.fsync(d)                          # names a, c and ds, and old, old2
fd = put("b", b"no name"); os.fsync(fd); os.close(fd)
fd = os.open(R + "/old", os.O_WRONLY); os.write(fd, b"BB"); os.close(fd)
fd = os.open(R + "/old2", os.O_WRONLY | os.O_APPEND); os.write(fd, b"+MORE")
os.fdatasync(fd); os.close(fd)
fd = put("ds", b"dsync", os.O_DSYNC); os.close(fd)
fd = put("ds2", b"dsync", os.O_DSYNC); os.close(fd)
fd = os.open(R + "/a", os.O_WRONLY); os.ftruncate(fd, 2); os.fsync(fd); os.close(fd)
os.rename(R + "/a", R + "/a2")       # not synced: the name stays a
os.mkdir(R + "/sub")
fd = put("sub/e", b"in sub"); os.fsync(fd); os.close(fd)
s = os.open(R + "/sub", os.O_RDONLY | os.O_DIRECTORY); os.fsync(s); os.close(s)
'
tap_ok "pcimage rebuilds a tree from the record log" test -d "$TD_TMP/img"
tap_is "a file fsynced, then truncated and fsynced, its name synced: its last synced bytes" \
    "$(cat "$TD_TMP/img/a" 2>&1)" "sy"
tap_ok "a rename whose folder was not synced since: the old name only" \
    sh -c "[ ! -e '$TD_TMP/img/a2' ]"
tap_is "a file never synced, its name synced: there, empty" \
    "$(wc -c <"$TD_TMP/img/c" 2>&1 | tr -d ' ')" "0"
tap_ok "a file fsynced whose name was never synced: not there" \
    sh -c "[ ! -e '$TD_TMP/img/b' ]"
tap_is "bytes written over a file there at start, not synced: the old bytes" \
    "$(cat "$TD_TMP/img/old" 2>&1)" "AAAAAAAAAA"
tap_is "an append made durable by fdatasync: there" \
    "$(cat "$TD_TMP/img/old2" 2>&1)" "KEEP+MORE"
tap_ok "a folder made and synced inside, its own name never synced: not there" \
    sh -c "[ ! -e '$TD_TMP/img/sub' ]"
tap_is "a write through O_DSYNC: there" "$(cat "$TD_TMP/img/ds" 2>&1)" "dsync"
tap_ok "a write through O_DSYNC to a file whose name was not synced: not there" \
    sh -c "[ ! -e '$TD_TMP/img/ds2' ]"

# The same writes, then sync(2): everything as it is.
rm -rf "$R"/* && printf 'AAAAAAAAAA' >"$R/old" && printf 'KEEP' >"$R/old2" && sync
cut all '
import os
R = os.environ["PCUT_ROOT"]
fd = os.open(R + "/c", os.O_WRONLY | os.O_CREAT, 0o600); os.write(fd, b"never synced"); os.close(fd)
fd = os.open(R + "/old", os.O_WRONLY); os.write(fd, b"BB"); os.close(fd)
os.mkdir(R + "/sub")
fd = os.open(R + "/sub/e", os.O_WRONLY | os.O_CREAT, 0o600); os.write(fd, b"in sub"); os.close(fd)
os.rename(R + "/old2", R + "/renamed")
os.sync()
fd = os.open(R + "/late", os.O_WRONLY | os.O_CREAT, 0o600); os.write(fd, b"after"); os.close(fd)
'
tap_is "after sync(2): a file never fsynced has its bytes" "$(cat "$TD_TMP/all/c" 2>&1)" "never synced"
tap_is "after sync(2): an overwrite is there" "$(cat "$TD_TMP/all/old" 2>&1)" "BBAAAAAAAA"
tap_is "after sync(2): a new folder and its file" "$(cat "$TD_TMP/all/sub/e" 2>&1)" "in sub"
tap_is "after sync(2): a rename" "$(cat "$TD_TMP/all/renamed" 2>&1)" "KEEP"
tap_ok "a file made after the last sync: not there" sh -c "[ ! -e '$TD_TMP/all/late' ]"

# A record cut short (the kill came while it was written) ends the log.
head -c $(($(wc -c <"$TD_TMP/all.log") - 3)) "$TD_TMP/all.log" >"$TD_TMP/torn.log"
tap_is "a torn last record is dropped, and said" \
    "$("$IMAGE" "$TD_TMP/torn.log" "$TD_TMP/torn" 2>&1 | sed 's/[0-9]* records/N records/')" \
    "pcimage: N records, then a torn one"
tap_ok "pcimage will not build into a folder that exists" \
    sh -c "! '$IMAGE' '$TD_TMP/all.log' '$TD_TMP/all' 2>/dev/null"
tap_done
