/*
 * bench/floor.c: the bare-SQLite floor of bench/run.sh.  Does in one
 * process and one thread what tenantd does per request, with no HTTP, no
 * JSON and no thread hand-off, so the daemon's overhead is a ratio:
 *
 *   hot     a prepared point select on an open handle (bind, step, copy the
 *           text, reset), as a cached tenant is served;
 *   cold    open + the per-handle PRAGMAs + prepare + step + finalize +
 *           close of a file that is not open, round robin over many files,
 *           as a request to a tenant that is not in the handle cache is
 *           served (the daemon also closes an evicted handle per miss);
 *   coldidle  the same with the thread asleep for COLD_IDLE_US before each
 *           open (not timed): what that work costs a thread that starts it
 *           from idle, as a daemon serving one request at a time does.  On
 *           a VM whose idle virtual CPU halts (no guest halt polling) the
 *           caches and TLB it comes back to are colder: not the daemon's
 *           work, but what the machine charges for it at low load;
 *   update  a prepared point update on an open handle, autocommit, with
 *           synchronous=NORMAL and with synchronous=FULL (WAL mode);
 *   mem     RSS per open idle handle: every file opened like the daemon
 *           does, one prepared point select kept, the process's VmRSS
 *           growth divided by the number of files;
 *   memnobulk  the same with SQLite's page-cache bulk preallocation off
 *           (sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0)): what a
 *           daemon that did so could reach (run it alone: it changes a
 *           process-wide setting before SQLite initialises);
 *   wake    no SQLite: two threads wake each other in turn through two
 *           eventfds, the round trip's p50 and p99.  Not a floor of the
 *           daemon's work but of what the machine charges for handing a
 *           request from one thread to another (a client and the daemon's
 *           loop, a loop and a worker), which the in-process floors never
 *           pay: on a VM it moves with the host (a sleeping virtual CPU is
 *           woken by the hypervisor), and with it every latency the daemon
 *           reports at low load.
 *
 * Usage: floor DIR [seconds-per-test] [files] [tests]
 * If DIR does not exist, floor creates it with FILES databases of 100 rows
 * kv(k INTEGER PRIMARY KEY, v TEXT) in WAL mode; otherwise it uses the
 * files there.  TESTS is a comma-separated subset of
 * hot,cold,coldidle,update,mem,memnobulk,wake (default
 * hot,cold,update,mem).  Prints "floor key value" lines for run.sh.
 * FLOOR_PAGE_SIZE=N in the environment makes the files it creates with
 * N-byte pages (run.sh --page-size: the floor's files then have the
 * tenants' page size); the page size of the files used is printed.
 * Build: gcc -O2 floor.c -lsqlite3 -o floor.
 */

#include <sys/eventfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "exclvfs.h"

#define NROWS	100

static const char *pragmas_normal = "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;PRAGMA cache_size=-256;PRAGMA journal_mode=WAL;"
    "PRAGMA journal_size_limit=0";
static const char *pragmas_full = "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;PRAGMA cache_size=-256;PRAGMA journal_mode=WAL;"
    "PRAGMA journal_size_limit=0";

static uint64_t	rng = 0x9e3779b97f4a7c15ull;
static int	page_size;	/* of the files made; 0: SQLite's default */

static int
rand_key(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((int)(rng % NROWS) + 1);
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
die(const char *what, sqlite3 *db)
{
	fprintf(stderr, "floor: %s: %s\n", what, db ? sqlite3_errmsg(db) :
	    strerror(errno));
	exit(1);
}

/*
 * The daemon's VFS (tenantd/vfs.c): tenantd/exclvfs.c (unix-excl's
 * locking without its list of open files, built in by run.sh), with
 * absolute names taken as their own full path instead of lstat()ing every
 * component.
 */
static sqlite3_vfs	 floor_vfs;
static sqlite3_vfs	*excl_vfs;

static int
floor_vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
    int flags, int *out_flags)
{
	(void)vfs;
	return (excl_vfs->xOpen(excl_vfs, name, file, flags, out_flags));
}

static int
floor_vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int nout,
    char *out)
{
	size_t	n = strlen(name);

	(void)vfs;
	if (name[0] != '/')
		return (excl_vfs->xFullPathname(excl_vfs, name, nout, out));
	if (nout < 0 || n >= (size_t)nout)
		return (SQLITE_CANTOPEN);
	memcpy(out, name, n + 1);
	return (SQLITE_OK);
}

static void
floor_vfs_init(void)
{
	if (exclvfs_init() != 0 ||
	    (excl_vfs = sqlite3_vfs_find(EXCL_VFS)) == NULL)
		die("cannot register " EXCL_VFS, NULL);
	floor_vfs = *excl_vfs;
	floor_vfs.pNext = NULL;
	floor_vfs.zName = "floor";
	floor_vfs.xOpen = floor_vfs_open;
	floor_vfs.xFullPathname = floor_vfs_full_pathname;
	if (sqlite3_vfs_register(&floor_vfs, 0) != SQLITE_OK)
		die("sqlite3_vfs_register", NULL);
}

/*
 * Open like tenantd's exec_open(): VFS, flags, options and PRAGMAs, and
 * the -wal file kept across close (SQLITE_FCNTL_PERSIST_WAL, emptied by
 * journal_size_limit=0), so a cold open does the same file system work.
 * (The daemon's authorizer, limits, quota and progress handler are its own
 * overhead and stay out of the floor.)
 */
static sqlite3 *
open_like_daemon(const char *path, const char *pragmas)
{
	sqlite3	*db = NULL;
	int	 one = 1;

	/* The daemon's VFS: unix-excl without path resolution (vfs.c). */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE, "floor") !=
	    SQLITE_OK)
		die("open", db);
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
		die("pragmas", db);
	return (db);
}

/* FLOOR_PAGE_SIZE: 0 (SQLite's default) or a power of two 512-65536. */
static int
page_size_env(void)
{
	const char	*s = getenv("FLOOR_PAGE_SIZE");
	char		*end;
	long		 n;

	if (s == NULL || *s == '\0')
		return (0);
	n = strtol(s, &end, 10);
	if (*end != '\0' || n < 512 || n > 65536 || (n & (n - 1)) != 0) {
		fprintf(stderr, "floor: FLOOR_PAGE_SIZE must be a power of two "
		    "from 512 to 65536\n");
		exit(2);
	}
	return ((int)n);
}

static void
make_file(const char *path)
{
	sqlite3		*db = NULL;
	int		 one = 1;
	char		 pragma[64];
	const char	*sql = "PRAGMA journal_mode=WAL;PRAGMA journal_size_limit=0;"
	    "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT);"
	    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
	    "WHERE i < 100) INSERT INTO kv SELECT i, 'value-' || i FROM c;";

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		die("create", db);
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
	/* On the empty file, before WAL mode: SQLite ignores it after. */
	snprintf(pragma, sizeof pragma, "PRAGMA page_size=%d", page_size);
	if (page_size != 0 &&
	    sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK)
		die("page_size", db);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		die("fill", db);
	if (sqlite3_close(db) != SQLITE_OK)
		die("close", db);
}

/* The page size of the file at path. */
static int
file_page_size(const char *path)
{
	sqlite3		*db = open_like_daemon(path, pragmas_normal);
	sqlite3_stmt	*st = NULL;
	int		 n = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) !=
	    SQLITE_OK)
		die("page_size", db);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (n);
}

/* One point select on a prepared statement; copies the value out. */
static void
point_select(sqlite3 *db, sqlite3_stmt *st, char *out, size_t outlen)
{
	const unsigned char	*v;

	sqlite3_bind_int(st, 1, rand_key());
	if (sqlite3_step(st) != SQLITE_ROW)
		die("select", db);
	v = sqlite3_column_text(st, 0);
	snprintf(out, outlen, "%s", v ? (const char *)v : "");
	if (sqlite3_step(st) != SQLITE_DONE)
		die("select end", db);
	sqlite3_reset(st);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return ((x > y) - (x < y));
}

static void
test_hot(const char *path, double secs)
{
	sqlite3		*db = open_like_daemon(path, pragmas_normal);
	sqlite3_stmt	*st;
	char		 out[64];
	double		 t0, t;
	long		 n = 0, i;

	if (sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1, &st,
	    NULL) != SQLITE_OK)
		die("prepare", db);
	t0 = now_s();
	do {
		for (i = 0; i < 4096; i++)
			point_select(db, st, out, sizeof out);
		n += i;
		t = now_s();
	} while (t - t0 < secs);
	printf("floor hot_select_ops %.0f\n", n / (t - t0));
	printf("floor hot_select_us %.3f\n", (t - t0) / n * 1e6);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * Cold opens round robin over files 0 .. files-1.  held > 0: meanwhile
 * hold that many other files open, each after one point select, as the
 * daemon's cache holds its handles while it opens a cold tenant (SQLite's
 * unix VFS keeps every open file on a list that each open walks).
 */
#define COLD_IDLE_US	100

static void
test_cold(const char *dir, int files, double secs, int held, int idle)
{
	sqlite3		*db, **hold = NULL;
	sqlite3_stmt	*st;
	char		 path[4096], out[64];
	const char	*key = idle ? "cold_idle" : held > 0 ? "cold_held" :
			    "cold";
	double		*lat, t0, t1, t, sum = 0;
	long		 n = 0, cap = 1 << 20;
	struct stat	 sb;
	int		 i;

	if ((lat = malloc(cap * sizeof *lat)) == NULL)
		die("malloc", NULL);
	if (held > 0 && (hold = calloc(held, sizeof *hold)) == NULL)
		die("calloc", NULL);
	for (i = 0; i < held; i++) {
		snprintf(path, sizeof path, "%s/f%d.db", dir, files + i);
		if (stat(path, &sb) == -1)
			make_file(path);
		hold[i] = open_like_daemon(path, pragmas_normal);
		if (sqlite3_prepare_v2(hold[i], "SELECT v FROM kv WHERE k = ?",
		    -1, &st, NULL) != SQLITE_OK)
			die("prepare", hold[i]);
		point_select(hold[i], st, out, sizeof out);
		sqlite3_finalize(st);
	}
	t = t0 = now_s();
	while (t - t0 < secs && n < cap) {
		snprintf(path, sizeof path, "%s/f%ld.db", dir, n % files);
		if (idle)
			usleep(COLD_IDLE_US);
		t1 = now_s();
		db = open_like_daemon(path, pragmas_normal);
		if (sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?", -1,
		    &st, NULL) != SQLITE_OK)
			die("prepare", db);
		point_select(db, st, out, sizeof out);
		sqlite3_finalize(st);
		if (sqlite3_close(db) != SQLITE_OK)
			die("close", db);
		t = now_s();
		lat[n++] = t - t1;
		sum += t - t1;
	}
	qsort(lat, n, sizeof *lat, cmp_double);
	printf("floor %s_ops %.0f\n", key, n / (t - t0));
	printf("floor %s_mean_us %.1f\n", key, sum / n * 1e6);
	printf("floor %s_p50_us %.1f\n", key, lat[n / 2] * 1e6);
	printf("floor %s_p99_us %.1f\n", key, lat[n * 99 / 100] * 1e6);
	if (held > 0)
		printf("floor cold_held_files %d\n", held);
	for (i = 0; i < held; i++)
		sqlite3_close(hold[i]);
	free(hold);
	free(lat);
}

static void
test_update(const char *path, const char *pragmas, const char *name,
    double secs)
{
	sqlite3		*db = open_like_daemon(path, pragmas);
	sqlite3_stmt	*st;
	double		 t0, t;
	long		 n = 0;
	char		 v[32];

	if (sqlite3_prepare_v2(db, "UPDATE kv SET v = ? WHERE k = ?", -1, &st,
	    NULL) != SQLITE_OK)
		die("prepare", db);
	t = t0 = now_s();
	while (t - t0 < secs) {
		snprintf(v, sizeof v, "updated-%ld", n);
		sqlite3_bind_text(st, 1, v, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, rand_key());
		if (sqlite3_step(st) != SQLITE_DONE)
			die("update", db);
		sqlite3_reset(st);
		n++;
		t = now_s();
	}
	printf("floor update_%s_ops %.0f\n", name, n / (t - t0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static long
vm_rss_kib(void)
{
	FILE	*f;
	char	 line[256];
	long	 v = -1;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	fclose(f);
	return (v);
}

/* Open every file and keep it open with one prepared, stepped statement. */
static void
test_mem(const char *dir, int files, const char *name)
{
	sqlite3		**dbs;
	sqlite3_stmt	**sts;
	char		  path[4096], out[64];
	long		  r0, r1;
	int		  i;

	if ((dbs = calloc(files, sizeof *dbs)) == NULL ||
	    (sts = calloc(files, sizeof *sts)) == NULL)
		die("calloc", NULL);
	r0 = vm_rss_kib();
	for (i = 0; i < files; i++) {
		snprintf(path, sizeof path, "%s/f%d.db", dir, i);
		dbs[i] = open_like_daemon(path, pragmas_normal);
		if (sqlite3_prepare_v2(dbs[i], "SELECT v FROM kv WHERE k = ?",
		    -1, &sts[i], NULL) != SQLITE_OK)
			die("prepare", dbs[i]);
		point_select(dbs[i], sts[i], out, sizeof out);
	}
	r1 = vm_rss_kib();
	printf("floor %s_kib %.1f\n", name, (double)(r1 - r0) / files);
	for (i = 0; i < files; i++) {
		sqlite3_finalize(sts[i]);
		sqlite3_close(dbs[i]);
	}
	free(sts);
	free(dbs);
}

/* The other side of test_wake: answer each ping until told to stop. */
struct wake_pair {
	int	ping, pong;
};

static void *
wake_peer(void *arg)
{
	struct wake_pair	*w = arg;
	uint64_t		 v;

	for (;;) {
		if (read(w->ping, &v, sizeof v) != (ssize_t)sizeof v)
			die("wake read", NULL);
		if (write(w->pong, &v, sizeof v) != (ssize_t)sizeof v)
			die("wake write", NULL);
		if (v == 2)
			return (NULL);
	}
}

/*
 * Round trips between two threads, each asleep in read(2) on an eventfd
 * until the other writes it: two wake-ups each.  Not pinned, as the
 * daemon's threads are not.
 */
static void
test_wake(double secs)
{
	struct wake_pair	 w;
	pthread_t		 peer;
	uint64_t		 v = 1;
	double			*lat, t0, t1, t, sum = 0;
	long			 n = 0, cap = 1 << 20;

	if ((lat = malloc(cap * sizeof *lat)) == NULL)
		die("malloc", NULL);
	if ((w.ping = eventfd(0, EFD_CLOEXEC)) == -1 ||
	    (w.pong = eventfd(0, EFD_CLOEXEC)) == -1)
		die("eventfd", NULL);
	if (pthread_create(&peer, NULL, wake_peer, &w) != 0)
		die("pthread_create", NULL);
	t = t0 = now_s();
	while (t - t0 < secs && n < cap) {
		t1 = now_s();
		if (write(w.ping, &v, sizeof v) != (ssize_t)sizeof v ||
		    read(w.pong, &v, sizeof v) != (ssize_t)sizeof v)
			die("wake", NULL);
		t = now_s();
		lat[n++] = t - t1;
		sum += t - t1;
	}
	v = 2;
	if (write(w.ping, &v, sizeof v) != (ssize_t)sizeof v ||
	    read(w.pong, &v, sizeof v) != (ssize_t)sizeof v)
		die("wake stop", NULL);
	pthread_join(peer, NULL);
	close(w.ping);
	close(w.pong);
	qsort(lat, n, sizeof *lat, cmp_double);
	printf("floor wake_rtt_mean_us %.1f\n", sum / n * 1e6);
	printf("floor wake_rtt_p50_us %.1f\n", lat[n / 2] * 1e6);
	printf("floor wake_rtt_p99_us %.1f\n", lat[n * 99 / 100] * 1e6);
	free(lat);
}

static int
wanted(const char *tests, const char *name)
{
	size_t	n = strlen(name);
	const char *p;

	for (p = tests; (p = strstr(p, name)) != NULL; p += n)
		if ((p == tests || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return (1);
	return (0);
}

int
main(int argc, char **argv)
{
	char		 path[4096];
	double		 secs = argc > 2 ? atof(argv[2]) : 2.0;
	int		 files = argc > 3 ? atoi(argv[3]) : 1000, i;
	const char	*tests = argc > 4 ? argv[4] : "hot,cold,update,mem";
	int		 held = argc > 5 ? atoi(argv[5]) : 0;
	struct stat	 sb;

	/* An option ("--help") is not a data dir: refuse, create nothing. */
	if (argc < 2 || argc > 6 || argv[1][0] == '-' || argv[1][0] == '\0' ||
	    secs <= 0 || files < 1 || held < 0) {
		fprintf(stderr, "usage: floor DIR [seconds-per-test] [files] "
		    "[hot,cold,coldidle,update,mem,memnobulk,wake] [files held open "
		    "during cold]\n");
		return (2);
	}
	page_size = page_size_env();
	if (wanted(tests, "memnobulk") &&
	    sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0) != SQLITE_OK)
		die("sqlite3_config", NULL);
	if (stat(argv[1], &sb) == -1) {
		if (errno != ENOENT || mkdir(argv[1], 0700) == -1)
			die(argv[1], NULL);
		for (i = 0; i < files; i++) {
			snprintf(path, sizeof path, "%s/f%d.db", argv[1], i);
			make_file(path);
		}
	}
	floor_vfs_init();
	printf("floor sqlite_version %s\n", sqlite3_libversion());
	snprintf(path, sizeof path, "%s/f0.db", argv[1]);
	printf("floor page_size %d\n", file_page_size(path));
	if (wanted(tests, "hot"))
		test_hot(path, secs);
	if (wanted(tests, "cold"))
		test_cold(argv[1], files, secs, held, 0);
	if (wanted(tests, "coldidle"))
		test_cold(argv[1], files, secs, 0, 1);
	if (wanted(tests, "update")) {
		test_update(path, pragmas_normal, "normal", secs);
		test_update(path, pragmas_full, "full", secs);
	}
	if (wanted(tests, "mem"))
		test_mem(argv[1], files, "mem");
	if (wanted(tests, "memnobulk"))
		test_mem(argv[1], files, "memnobulk");
	if (wanted(tests, "wake"))
		test_wake(secs);
	return (0);
}
