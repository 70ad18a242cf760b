/*
 * config.c: command-line options.  The global cfg is written once at start
 * (main thread, before any other thread exists) and read-only afterwards,
 * so every thread may read it.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenantd.h"

struct config cfg;

void
config_defaults(void)
{
	const char	*env;

	memset(&cfg, 0, sizeof cfg);
	env = getenv("TENANTD_DATA");
	cfg.data_dir = xstrdup(env && *env ? env : "./tenantd-data");
	cfg.foreground = 1;
	cfg.max_open = 0;		/* from the fd limit */
	cfg.workers = 0;		/* from the core count */
	cfg.group_commit = 1;
	cfg.commit_log_mib = 256;
	cfg.flush_ms = 200;		/* PostgreSQL's wal_writer_delay */
	cfg.max_body = 8u << 20;
	cfg.max_import = (size_t)1 << 30;
	cfg.max_tenant_bytes = (uint64_t)1 << 30;
	cfg.stmt_timeout_ms = 5000;
	cfg.max_response = 16u << 20;
	cfg.stream_timeout_s = 10;
	cfg.handle_wait_ms = 5000;
	cfg.queue_wait_ms = 30000;
	cfg.busy_timeout_ms = 5000;
	cfg.cache_kib = 256;
	cfg.idle_release_s = 10;
	cfg.spin_us = 50;
	cfg.http_timeout_s = 30;
	cfg.max_conns = 10000;
}

void
config_usage(void)
{
	fprintf(stderr,
"usage: tenantd [options]\n"
"  -D, --data-dir DIR       data directory (default ./tenantd-data or $TENANTD_DATA)\n"
"  -s, --socket PATH        unix socket (default DIR/tenantd.sock)\n"
"      --socket-group NAME  group owning the unix socket\n"
"  -l, --listen HOST:PORT   also serve on TCP (e.g. 127.0.0.1:7070)\n"
"      --schemas DIR        migration sets (default: installed set, or ./schemas)\n"
"      --default-schema S   schema for tenants created without one\n"
"      --max-open N         open tenant handles at most (default from the fd limit)\n"
"      --loops N            event loops serving connections (default: 1 per core)\n"
"      --workers N          SQLite worker threads (default: 2 per core, at least 4;\n"
"                           with --synchronous full --no-group-commit 8 per\n"
"                           core, at least 16)\n"
"      --max-body BYTES     request body limit (default 8 MiB)\n"
"      --max-response BYTES result size limit per statement (default 16 MiB)\n"
"      --max-import BYTES   largest tenant file or dump to import (default 1 GiB)\n"
"      --max-tenant-size BYTES  size quota of one tenant database (default 1 GiB)\n"
"      --statement-timeout MS   longest a tenant statement may run (default 5000)\n"
"      --stream-timeout S   idle Hrana stream expiry (default 10)\n"
"      --handle-wait-ms MS  how long a request waits for a free handle (5000)\n"
"      --queue-wait-ms MS   how long a request waits behind its tenant's other\n"
"                           work, e.g. a migration on open (30000)\n"
"      --busy-timeout MS    SQLite busy timeout (default 5000)\n"
"      --synchronous MODE   normal (default) or full: a commit is answered once\n"
"                           it is on disk (commits share flushes of a commit log)\n"
"      --no-group-commit    with --synchronous full: SQLite's own fsync at every\n"
"                           commit instead of the shared commit log\n"
"      --commit-log-mib N   with --synchronous full: size of each of the two\n"
"                           commit logs in MiB (default 256; disk space about\n"
"                           twice that; a bigger log syncs the tenant files\n"
"                           less often, a crash replays more)\n"
"      --flush-ms N         with --synchronous normal: sync the data dir's file\n"
"                           system every N ms in which something was committed,\n"
"                           so a power cut takes back at most about the last N ms\n"
"                           (default 200; 0: only checkpoints sync a tenant's WAL)\n"
"      --flush-log          with --synchronous normal: make commits durable within\n"
"                           --flush-ms through the commit log (as --synchronous\n"
"                           full does, answers not held) instead of a syncfs\n"
"      --cache-kib N        page cache per handle in KiB (default 256)\n"
"      --idle-release S     a handle idle S seconds gives its page cache back\n"
"                           (default 10; 0: never)\n"
"      --spin-us N          an idle event loop polls up to N microseconds before\n"
"                           it sleeps, while a CPU is free and requests come back\n"
"                           that fast (default 50; 0: never)\n"
"      --shared-files       let other processes (Litestream, sqlite3) open tenant\n"
"                           files while tenantd has them open (costs a descriptor\n"
"                           per handle and two fcntl calls per transaction)\n"
"      --http-timeout S     idle and slow-client timeout (default 30)\n"
"      --max-conns N        client connections at most (default 10000)\n"
"      --no-auth            serve TCP without tokens (local development)\n"
"      --ready-file FILE    write the bound addresses here once serving\n"
"      --restore BACKUP     build the data dir (-D, must not exist) from a\n"
"                           backup made by POST /v1/backups, verify it, exit\n"
"  -d, --daemon             detach and log to syslog\n"
"  -v, --verbose            debug logging\n"
"  -V, --version            print the version\n"
"  -h, --help               this text\n");
}

/* An option given twice: the last one wins. */
static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int
parse_num(const char *opt, const char *s, long long min, long long max,
    long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "tenantd: %s: expected a number from %lld to "
		    "%lld, got \"%s\"\n", opt, min, max, s);
		return (-1);
	}
	*out = v;
	return (0);
}

/*
 * The default cap: what the fd limit allows at 2 fds per handle (the
 * database and its -wal; exclvfs.c keeps the WAL index in memory,
 * so there is no -shm descriptor), or 3 with --shared-files.
 */
int
config_default_max_open(void)
{
	struct rlimit	rl;
	long long	n;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (256);
	n = ((long long)rl.rlim_cur - 128) / (cfg.shared_files ? 3 : 2);
	if (n < 16)
		n = 16;
	if (n > 100000)
		n = 100000;
	return ((int)n);
}

static char *
find_schemas_dir(const char *argv0)
{
	struct stat	 sb;
	char		 path[PATH_MAX], *slash;

	/* Run from the source or build tree: tenantd/tenantd -> schemas/ */
	strlcpy_x(path, argv0, sizeof path);
	if ((slash = strrchr(path, '/')) != NULL) {
		*slash = '\0';
		strncat(path, "/../schemas", sizeof path - strlen(path) - 1);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return (xstrdup(path));
	}
	if (stat(TENANTD_SCHEMAS_DIR, &sb) == 0 && S_ISDIR(sb.st_mode))
		return (xstrdup(TENANTD_SCHEMAS_DIR));
	return (xstrdup("schemas"));
}

/* Returns 0, 1 to exit successfully (help, version), or -1 (usage). */
int
config_parse(int argc, char **argv)
{
	enum { O_SOCKGROUP = 256, O_SCHEMAS, O_DEFSCHEMA, O_MAXOPEN, O_WORKERS,
	    O_LOOPS, O_MAXBODY, O_MAXRESP, O_STREAMTO, O_HWAIT, O_BUSY, O_SYNC,
	    O_CACHE, O_IDLEREL, O_SPIN, O_SHARED, O_NOGROUP,
	    O_HTTPTO, O_MAXCONNS, O_NOAUTH, O_READY, O_MAXIMPORT, O_MAXTENANT,
	    O_STMTTO, O_RESTORE, O_QWAIT, O_CLOGMIB, O_FLUSH, O_FLUSHLOG };
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'D' },
		{ "socket", required_argument, NULL, 's' },
		{ "socket-group", required_argument, NULL, O_SOCKGROUP },
		{ "listen", required_argument, NULL, 'l' },
		{ "schemas", required_argument, NULL, O_SCHEMAS },
		{ "default-schema", required_argument, NULL, O_DEFSCHEMA },
		{ "max-open", required_argument, NULL, O_MAXOPEN },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "loops", required_argument, NULL, O_LOOPS },
		{ "max-body", required_argument, NULL, O_MAXBODY },
		{ "max-response", required_argument, NULL, O_MAXRESP },
		{ "max-import", required_argument, NULL, O_MAXIMPORT },
		{ "max-tenant-size", required_argument, NULL, O_MAXTENANT },
		{ "statement-timeout", required_argument, NULL, O_STMTTO },
		{ "stream-timeout", required_argument, NULL, O_STREAMTO },
		{ "handle-wait-ms", required_argument, NULL, O_HWAIT },
		{ "queue-wait-ms", required_argument, NULL, O_QWAIT },
		{ "busy-timeout", required_argument, NULL, O_BUSY },
		{ "synchronous", required_argument, NULL, O_SYNC },
		{ "cache-kib", required_argument, NULL, O_CACHE },
		{ "idle-release", required_argument, NULL, O_IDLEREL },
		{ "spin-us", required_argument, NULL, O_SPIN },
		{ "shared-files", no_argument, NULL, O_SHARED },
		{ "no-group-commit", no_argument, NULL, O_NOGROUP },
		{ "commit-log-mib", required_argument, NULL, O_CLOGMIB },
		{ "flush-ms", required_argument, NULL, O_FLUSH },
		{ "flush-log", no_argument, NULL, O_FLUSHLOG },
		{ "http-timeout", required_argument, NULL, O_HTTPTO },
		{ "max-conns", required_argument, NULL, O_MAXCONNS },
		{ "no-auth", no_argument, NULL, O_NOAUTH },
		{ "ready-file", required_argument, NULL, O_READY },
		{ "restore", required_argument, NULL, O_RESTORE },
		{ "daemon", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	long long	v;
	long		ncpu;
	int		ch;

	while ((ch = getopt_long(argc, argv, "D:s:l:dvVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'D':
			set_str(&cfg.data_dir, optarg);
			break;
		case 's':
			set_str(&cfg.socket_path, optarg);
			break;
		case O_SOCKGROUP:
			set_str(&cfg.socket_group, optarg);
			break;
		case 'l':
			set_str(&cfg.listen, optarg);
			break;
		case O_SCHEMAS:
			set_str(&cfg.schemas_dir, optarg);
			break;
		case O_DEFSCHEMA:
			set_str(&cfg.default_schema, optarg);
			break;
		case O_MAXOPEN:
			if (parse_num("--max-open", optarg, 1, 1000000, &v))
				return (-1);
			cfg.max_open = (int)v;
			break;
		case O_WORKERS:
			if (parse_num("--workers", optarg, 1, 256, &v))
				return (-1);
			cfg.workers = (int)v;
			break;
		case O_LOOPS:
			if (parse_num("--loops", optarg, 1, 64, &v))
				return (-1);
			cfg.loops = (int)v;
			break;
		case O_MAXBODY:
			if (parse_num("--max-body", optarg, 1024, 1LL << 36, &v))
				return (-1);
			cfg.max_body = (size_t)v;
			break;
		case O_MAXRESP:
			if (parse_num("--max-response", optarg, 1024, 1LL << 36,
			    &v))
				return (-1);
			cfg.max_response = (size_t)v;
			break;
		case O_MAXIMPORT:
			if (parse_num("--max-import", optarg, 1024, 1LL << 40,
			    &v))
				return (-1);
			cfg.max_import = (size_t)v;
			break;
		case O_MAXTENANT:
			if (parse_num("--max-tenant-size", optarg, 65536,
			    1LL << 44, &v))
				return (-1);
			cfg.max_tenant_bytes = (uint64_t)v;
			break;
		case O_STMTTO:
			if (parse_num("--statement-timeout", optarg, 10, 3600000,
			    &v))
				return (-1);
			cfg.stmt_timeout_ms = (int)v;
			break;
		case O_STREAMTO:
			if (parse_num("--stream-timeout", optarg, 1, 86400, &v))
				return (-1);
			cfg.stream_timeout_s = (int)v;
			break;
		case O_HWAIT:
			if (parse_num("--handle-wait-ms", optarg, 0, 3600000, &v))
				return (-1);
			cfg.handle_wait_ms = (int)v;
			break;
		case O_QWAIT:
			if (parse_num("--queue-wait-ms", optarg, 100, 3600000,
			    &v))
				return (-1);
			cfg.queue_wait_ms = (int)v;
			break;
		case O_BUSY:
			if (parse_num("--busy-timeout", optarg, 0, 3600000, &v))
				return (-1);
			cfg.busy_timeout_ms = (int)v;
			break;
		case O_SYNC:
			if (strcmp(optarg, "full") == 0 ||
			    strcmp(optarg, "FULL") == 0)
				cfg.synchronous_full = 1;
			else if (strcmp(optarg, "normal") == 0 ||
			    strcmp(optarg, "NORMAL") == 0)
				cfg.synchronous_full = 0;
			else {
				fprintf(stderr, "tenantd: --synchronous: expected "
				    "normal or full\n");
				return (-1);
			}
			break;
		case O_CACHE:
			if (parse_num("--cache-kib", optarg, 16, 1 << 20, &v))
				return (-1);
			cfg.cache_kib = (int)v;
			break;
		case O_IDLEREL:
			if (parse_num("--idle-release", optarg, 0, 86400, &v))
				return (-1);
			cfg.idle_release_s = (int)v;
			break;
		case O_SPIN:
			if (parse_num("--spin-us", optarg, 0, 1000, &v))
				return (-1);
			cfg.spin_us = (int)v;
			break;
		case O_NOGROUP:
			cfg.group_commit = 0;
			break;
		case O_CLOGMIB:
			if (parse_num("--commit-log-mib", optarg, 16, 65536, &v))
				return (-1);
			cfg.commit_log_mib = (int)v;
			break;
		case O_FLUSH:
			if (parse_num("--flush-ms", optarg, 0, 60000, &v))
				return (-1);
			cfg.flush_ms = (int)v;
			cfg.flush_ms_set = 1;
			break;
		case O_FLUSHLOG:
			cfg.flush_log = 1;
			break;
		case O_SHARED:
			cfg.shared_files = 1;
			break;
		case O_HTTPTO:
			if (parse_num("--http-timeout", optarg, 1, 3600, &v))
				return (-1);
			cfg.http_timeout_s = (int)v;
			break;
		case O_MAXCONNS:
			if (parse_num("--max-conns", optarg, 1, 1000000, &v))
				return (-1);
			cfg.max_conns = (int)v;
			break;
		case O_NOAUTH:
			cfg.no_auth = 1;
			break;
		case O_RESTORE:
			set_str(&cfg.restore_from, optarg);
			break;
		case O_READY:
			set_str(&cfg.ready_file, optarg);
			break;
		case 'd':
			cfg.foreground = 0;
			break;
		case 'v':
			cfg.verbose = 1;
			break;
		case 'V':
			printf("tenantd %s\n", TENANTD_VERSION);
			return (1);
		case 'h':
			config_usage();
			return (1);
		default:
			config_usage();
			return (-1);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "tenantd: unexpected argument \"%s\"\n",
		    argv[optind]);
		config_usage();
		return (-1);
	}
	if (cfg.socket_path == NULL)
		xasprintf(&cfg.socket_path, "%s/tenantd.sock", cfg.data_dir);
	if (cfg.schemas_dir == NULL)
		cfg.schemas_dir = find_schemas_dir(argv[0]);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (cfg.loops == 0)
		cfg.loops = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (int)ncpu;
	if (cfg.workers == 0) {
		long n = ncpu;
		cfg.workers = n < 2 ? 4 : n > 32 ? 64 : (int)n * 2;
		/*
		 * With synchronous=FULL every write holds its worker in
		 * fdatasync, and concurrent syncs share the file system's
		 * journal commits: more of them in flight, more commits per
		 * flush (bench: point updates over 10,000 tenants on 2
		 * cores, 4 workers 7.7k/s, 16 workers 15.5k/s, 64 13.3k/s).
		 */
		if (cfg.synchronous_full && !cfg.group_commit &&
		    cfg.workers < 16)
			cfg.workers = n < 2 ? 16 : n > 8 ? 64 : (int)n * 8;
	}
	return (0);
}
