/*
 * migrate.h: versioned schema migrations for SQLite files.
 *
 * A migration set is one folder, schemas/<schema>/, holding
 * <NNNN>_<slug>.sql files (versions contiguous from 1) and optional
 * <NNNN>_<slug>.down.sql files.  The library loads and validates a set,
 * plans a path from one version to another, and applies a plan to an open
 * sqlite3 handle.  Each step runs in one BEGIN IMMEDIATE transaction that
 * also writes the step's record into the _tenantd_migrations table inside
 * the database and sets PRAGMA user_version, so a step is all or nothing
 * and no "dirty" state can exist.
 *
 * Library rules: functions return MIGRATE_OK (0) or a negative
 * MIGRATE_E* code and fill an optional struct migrate_error; they never
 * exit, never log and never print.  A loaded set is immutable and may be
 * shared read-only between threads.  A sqlite3 handle passed in must not
 * be used by another thread during the call.
 */
#ifndef MIGRATE_H
#define MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define MIGRATE_TABLE		"_tenantd_migrations"
#define MIGRATE_NAME_MAX	64	/* schema names: [A-Za-z0-9_-]{1,64} */

enum migrate_code {
	MIGRATE_OK = 0,
	MIGRATE_EIO = -1,	/* folder or file unreadable */
	MIGRATE_ENAME = -2,	/* bad file or schema name */
	MIGRATE_EGAP = -3,	/* versions not contiguous from 1 */
	MIGRATE_EDUP = -4,	/* two files for one version */
	MIGRATE_ETXN = -5,	/* file contains BEGIN/COMMIT/VACUUM... */
	MIGRATE_ESQL = -6,	/* SQLite refused a statement */
	MIGRATE_ECHECKSUM = -7,	/* an applied file was edited */
	MIGRATE_ENODOWN = -8,	/* a down step has no .down.sql */
	MIGRATE_ERANGE = -9,	/* target version out of range */
	MIGRATE_EDB = -10,	/* database state unusable (newer than set,
				   record and user_version disagree, ...) */
	MIGRATE_EEMPTY = -11,	/* set folder has no migrations */
	MIGRATE_ENOMEM = -12,
	MIGRATE_EINVAL = -13,	/* bad argument */
};

/* One problem: where it is and what is wrong. All strings NUL-terminated. */
struct migrate_error {
	int		code;		/* enum migrate_code */
	int		version;	/* migration version, 0 if none */
	int		line;		/* 1-based line in file, 0 if none */
	char		file[256];	/* file name relative to the set dir */
	char		stmt[256];	/* offending statement (truncated) */
	char		message[512];	/* human readable, complete sentence */
};

/* Every problem found while loading a set (the loader does not stop at
 * the first one). */
struct migrate_problems {
	size_t			 count;
	struct migrate_error	*items;		/* count entries */
};

struct migrate_set;	/* opaque, immutable once loaded */

/* One migration as loaded.  Borrowed from the set. */
struct migrate_step {
	int		 version;
	const char	*name;		/* e.g. "0002_tags" (no .sql) */
	const char	*file;		/* e.g. "0002_tags.sql" */
	const char	*up_sql;
	const char	*down_sql;	/* NULL if no .down.sql */
	const char	*checksum;	/* SHA-256 of up file, 64 hex chars */
	const char	*down_file;	/* e.g. "0002_tags.down.sql", NULL if
					   no .down.sql */
};

/* What one applied step in a database says about itself. */
struct migrate_record {
	int		version;
	char		name[128];
	char		checksum[65];
	char		applied_at[32];	/* RFC 3339 UTC */
	double		duration_ms;
};

/*
 * Load and validate the set in folder dir; its schema name is the folder's
 * base name.  On success *setp is a new set (free with migrate_set_free)
 * and returns MIGRATE_OK.  On failure returns the first problem's code,
 * *setp is NULL, and if probs is not NULL it receives every problem found
 * (free with migrate_problems_free).
 */
int	migrate_set_load(const char *dir, struct migrate_set **setp,
	    struct migrate_problems *probs);
void	migrate_set_free(struct migrate_set *);
void	migrate_problems_free(struct migrate_problems *);

const char *migrate_set_name(const struct migrate_set *);
int	migrate_set_latest(const struct migrate_set *);	/* 0 if empty */
/*
 * The page size the first migration sets (PRAGMA page_size = N), or 0.
 * It takes effect only on an empty database, before any table: whoever
 * makes a file for the set sets it first (migrate_apply does not, as it
 * also runs on files that already hold data).
 */
int	migrate_set_page_size(const struct migrate_set *);
/* Borrowed step for version v (1..latest), NULL if out of range. */
const struct migrate_step *migrate_set_step(const struct migrate_set *, int v);

/*
 * Read a database's migration state: its version (PRAGMA user_version,
 * cross-checked with the record table; 0 for a fresh file).  Returns
 * MIGRATE_EDB if the two disagree.
 */
int	migrate_db_version(sqlite3 *db, int *versionp,
	    struct migrate_error *err);

/* Read the applied records (ascending).  *recs is new (free()). */
int	migrate_db_records(sqlite3 *db, struct migrate_record **recs,
	    size_t *nrecs, struct migrate_error *err);

/*
 * Check every applied record against the set: same name and checksum.
 * MIGRATE_ECHECKSUM names the edited file in err.
 */
int	migrate_verify(sqlite3 *db, const struct migrate_set *set,
	    struct migrate_error *err);

#define MIGRATE_DRY_RUN		0x1	/* run each step, then roll back */

/*
 * Bring db from its current version to target (0..latest; up or down).
 * Verifies checksums first.  Steps run in order, each in its own
 * BEGIN IMMEDIATE transaction with its record and user_version; on the
 * first failure that step is rolled back and the function returns with
 * the database at the last good version (*reachedp).  A down plan whose
 * steps lack .down.sql files is refused before anything runs.  With
 * MIGRATE_DRY_RUN every step is rolled back and nothing changes; *reachedp
 * then reports the version the plan would have reached.
 * reachedp may be NULL.
 */
int	migrate_apply(sqlite3 *db, const struct migrate_set *set, int target,
	    int flags, int *reachedp, struct migrate_error *err);

/*
 * Common to every function above: err may be NULL; when given it is
 * cleared on entry and filled with the returned code and a message on
 * failure.  migrate_apply sets *reachedp on every return: the database's
 * version when it returns (the would-be version for MIGRATE_DRY_RUN), or
 * -1 if the version could not be read.  migrate_apply needs db in
 * autocommit mode (no transaction open), else MIGRATE_EINVAL.
 */

/* A static name for a code, e.g. "MIGRATE_ESQL". */
const char *migrate_strerror(int code);

#endif /* MIGRATE_H */
