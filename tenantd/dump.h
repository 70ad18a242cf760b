/*
 * dump.h: an SQL text dump of one SQLite database, like the sqlite3
 * shell's .dump: "sqlite3 new.db < dump.sql" recreates the database with
 * the same schema, rows (with their rowids) and user_version.
 *
 * No global state: any thread may call dump_sql(), on a connection that
 * no other thread uses during the call.  Library rules: no exit, no
 * logging; errors are SQLite result codes plus a message.
 */
#ifndef DUMP_H
#define DUMP_H

#include <stddef.h>

#include <sqlite3.h>

/*
 * Receives the dump in order, in chunks of up to 64 KiB (a single value
 * longer than that comes in one larger chunk).  p is borrowed for the
 * call only.  Returns 0 to go on, non-zero to abort the dump.
 */
typedef int (*dump_write_cb)(void *arg, const char *p, size_t n);

/*
 * Dump every table, index, trigger and view of the "main" schema of db
 * through write(arg, ...).  Runs inside one read transaction of its own
 * (BEGIN ... COMMIT), so the dump is a consistent snapshot; db must be in
 * autocommit mode on entry and is again on return.
 *
 * Returns SQLITE_OK, the SQLite error code of a failed call,
 * SQLITE_MISUSE if a transaction was open or an argument is NULL,
 * SQLITE_NOMEM, or SQLITE_ABORT if write returned non-zero.  On error
 * errbuf (if not NULL, errlen bytes) gets a NUL-terminated message; what
 * was written before the error is an incomplete dump.
 */
int	dump_sql(sqlite3 *db, dump_write_cb write, void *arg, char *errbuf,
	    size_t errlen);

#endif /* DUMP_H */
