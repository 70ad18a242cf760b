/*
 * tenantctl.c: main, option parsing and the commands of tenantctl.
 *
 * tenantctl is a client of the daemon's admin API (docs/API.md) and holds
 * no logic the daemon lacks.  A run goes: global options (getopt_long with
 * "+", so parsing stops at the command), then the command's own options
 * (getopt_long again, reinitialised), then a check of every argument:
 * tenant ids go through tid_error() so that a usage error exits 2 before
 * anything is sent.  Only then is the endpoint chosen and one blocking
 * request made through client.c (list --all makes one per page), and the
 * answer printed through output.c.
 *
 * Some commands are two words ("schema show", "migrations list"): the
 * first word names a group, and the lookup tries both words first.  Some
 * commands run longer than one request: export streams the body to a
 * temporary file next to the target (client_download), syncs it and
 * renames it into place, so the target is either the whole export or
 * untouched; import streams a regular file up (client_upload, after
 * "Expect: 100-continue", so a refusal from the head arrives before the
 * body); migrate and backup start a job in the daemon and poll it until
 * it ends; check --all lists every tenant, then checks each.  They draw a
 * progress line when stderr is a terminal (tenantctl_warnx ends it first,
 * so messages start on a line of their own).  export, migrate and backup
 * catch SIGINT, SIGTERM and SIGHUP to leave things tidy: export removes
 * its temporary file, migrate and backup say that the job goes on in the
 * daemon.  The handler only uses unlink(2), write(2) and raise(3) on
 * data set up before it is installed, then dies of the signal.  The
 * handler's data and the current progress line are the only global state
 * here.  restore sends nothing: it runs "tenantd --restore" with fork(2)
 * and execv(2), no shell, and passes its exit status through.
 *
 * Exit statuses are a contract with scripts (CTL_EXIT_* in tenantctl.h):
 * 0 done, 1 the daemon refused (HTTP status >= 400) or the work failed (a
 * rollout with failures, an edited schema, an export that could not be
 * written, a check that found problems, a failed backup), 2 usage error
 * (also an import file that cannot be opened), 3 no usable answer (cannot
 * connect, timeout, malformed response; restore: no tenantd to run).
 * Messages go to stderr as "tenantctl: ...".  The bearer token from
 * TENANTD_TOKEN is never printed.  Single-threaded.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"
#include "tenantctl.h"

#define CTL_DEFAULT_DATA	"./tenantd-data"
#define CTL_SOCKET_NAME		"tenantd.sock"
#define CTL_DEFAULT_TIMEOUT_MS	30000
#define CTL_MAX_TIMEOUT_S	86400.0
#define CTL_CONTINUE		-1	/* option parsing: keep going */
#define CTL_POLL_MS		200	/* migrate: between job polls */
#define CTL_BAR_MS		100	/* progress bar: between redraws */
#define CTL_LINE_MS		1000	/* plain progress: between lines */
#define CTL_BAR_WIDTH		24
#define CTL_MAX_TTL		(10LL * 365 * 86400)	/* the daemon's cap */
#define CTL_IMPORT_WAIT_MS	600000	/* import: the least wait for the
					   answer once the upload is sent */
#define CTL_QUIET		-2	/* tenantctl_call_unless: the status
					   it was told to keep quiet about */

/* Long-only options: values outside the char range. */
enum {
	OPT_SOCKET = 256,
	OPT_URL,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_VERSION,
	OPT_SCHEMA,
	OPT_PREFIX,
	OPT_AFTER,
	OPT_LIMIT,
	OPT_ALL,
	OPT_FORMAT,
	OPT_TO,
	OPT_TENANTS,
	OPT_CANARY,
	OPT_PARALLEL,
	OPT_CONTINUE,
	OPT_DRY_RUN,
	OPT_DETACH,
	OPT_RO,
	OPT_TTL,
	OPT_ADMIN,
	OPT_REPLACE
};

/* What the global options and the environment chose. */
struct tenantctl {
	const char		*data;		/* -D */
	const char		*socket;	/* --socket */
	const char		*url;		/* --url */
	int			 json;		/* --json */
	int			 timeout_ms;	/* --timeout */
	const char		*token;		/* TENANTD_TOKEN, borrowed */
	const char		*argv0;		/* how we were run */
	int			 ready;		/* ep is set */
	struct client_endpoint	 ep;
};

struct tenantctl_cmd {
	const char	*name;
	const char	*args;		/* after the name, for usage lines */
	const char	*summary;	/* one line for the command list */
	const char	*help;		/* the rest of "help COMMAND" */
	int		(*exec)(struct tenantctl *,
			    const struct tenantctl_cmd *, int, char **);
};

static int	tenantctl_cmd_create(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_show(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_list(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_delete(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_status(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_schemas(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_health(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_export(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_import(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_check(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_backup(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_restore(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_migrate(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_migrations_list(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_migrations_show(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_schema_show(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_schema_verify(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_token_create(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);
static int	tenantctl_cmd_help(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);

static const struct tenantctl_cmd tenantctl_cmds[] = {
	{ "create", "ID [--schema S]", "create a tenant",
	  "Create tenant ID at the schema's latest version.  The daemon\n"
	  "records it durably and answers; the database file is made on\n"
	  "the first open (\"materialized: false\" until then).\n"
	  "Without --schema the daemon's default schema is used, or none.\n"
	  "Prints the tenant.\n"
	  "\n"
	  "  --schema S    the schema the tenant follows\n",
	  tenantctl_cmd_create },
	{ "show", "ID", "show one tenant",
	  "Show tenant ID: schema, version, state, times, and the last error\n"
	  "when there is one.\n",
	  tenantctl_cmd_show },
	{ "list", "[--prefix P] [--after A] [--limit N] [--all]",
	  "list tenants in id order",
	  "List tenants in id order, one page at a time.  When more follow, a\n"
	  "hint on stderr says how to get the next page.\n"
	  "\n"
	  "  --prefix P    only ids that start with P\n"
	  "  --after A     only ids after A (the previous page's \"next\")\n"
	  "  --limit N     at most N tenants per page (the daemon's\n"
	  "                default is 100, its maximum 1000)\n"
	  "  --all         follow the pages to the end\n",
	  tenantctl_cmd_list },
	{ "delete", "ID [--yes]", "delete a tenant and its data",
	  "Delete tenant ID: the daemon closes its handle and removes its\n"
	  "files and catalog entry.  Without --yes, asks for confirmation\n"
	  "when stdin is a terminal, and refuses (exit 2) when it is not.\n"
	  "\n"
	  "  -y, --yes     do not ask\n",
	  tenantctl_cmd_delete },
	{ "export", "ID -o FILE [--format sqlite|sql]",
	  "download a tenant's database",
	  "Download tenant ID's database to FILE: a consistent snapshot the\n"
	  "daemon takes while the tenant keeps serving.  The body is streamed\n"
	  "to a temporary file next to FILE, synced, and renamed to FILE only\n"
	  "when it is complete; on any failure FILE is left as it was.  On a\n"
	  "terminal a progress bar shows on stderr.  --timeout limits how\n"
	  "long the download may go without receiving data.\n"
	  "\n"
	  "  -o, --output FILE   where to write; - for stdout\n"
	  "  --format sqlite     a SQLite database file (the default)\n"
	  "  --format sql        a text dump that 'sqlite3 new.db < FILE' loads\n",
	  tenantctl_cmd_export },
	{ "import", "ID FILE [--schema S] [--replace]",
	  "load a tenant's data from a file",
	  "Upload FILE, a SQLite database or a SQL dump (what export writes),\n"
	  "as tenant ID's data.  The daemon checks it before anything changes\n"
	  "(PRAGMA integrity_check, the schema and version recorded inside),\n"
	  "migrates it to the schema's latest version and moves it into place\n"
	  "in one step: a failed import leaves the tenant as it was.  FILE must\n"
	  "be a regular file; it is streamed, never held in memory, and on a\n"
	  "terminal a progress bar shows on stderr.  A file over the daemon's\n"
	  "--max-import is refused before it is sent.  --timeout limits how\n"
	  "long the upload may stall; the wait for the daemon's answer after\n"
	  "it is at least ten minutes.  Prints the schema and version.\n"
	  "\n"
	  "  --schema S    the schema the data follows, '' for none (default:\n"
	  "                the tenant's, else the daemon's default schema)\n"
	  "  --replace     replace the data of an existing tenant\n",
	  tenantctl_cmd_import },
	{ "check", "ID | --all", "check tenants' database files",
	  "Have the daemon check tenant ID's database file on a connection of\n"
	  "its own: PRAGMA integrity_check, and whether the version recorded\n"
	  "in the file agrees with the catalog.  Prints \"ID: ok\", or the\n"
	  "number of problems and each one.  With --all, checks every tenant\n"
	  "and prints the ones with problems, then a summary.  Exits 0 if\n"
	  "every tenant checked is fine, 1 if any has problems.  --json prints\n"
	  "the daemon's result, or with --all an array of them.\n"
	  "\n"
	  "  --all         check every tenant\n",
	  tenantctl_cmd_check },
	{ "backup", "DIR [--detach]", "back up every tenant into a new directory",
	  "Have the daemon copy its catalog and every tenant into DIR, a new\n"
	  "or empty directory on the daemon's machine (a relative DIR is made\n"
	  "absolute here), with MANIFEST.json listing each file's size and\n"
	  "SHA-256.  The daemon keeps serving; each tenant's copy is a\n"
	  "consistent snapshot.  Then follow the backup until it ends: a\n"
	  "progress bar on a terminal, else a line on stderr at most once a\n"
	  "second.  Exits 0 if it succeeded, 1 if it failed.  The backup runs\n"
	  "in the daemon: interrupting tenantctl does not stop it.\n"
	  "\n"
	  "  --detach      print the backup's id and exit at once\n",
	  tenantctl_cmd_backup },
	{ "restore", "DIR --data-dir D",
	  "build a data directory from a backup, offline",
	  "Run 'tenantd --restore DIR -D D' on this machine, with the daemon\n"
	  "stopped: tenantd builds the new data directory D (it must not\n"
	  "exist) from backup DIR, checking every file's SHA-256 and PRAGMA\n"
	  "integrity_check, and leaves nothing behind if anything does not\n"
	  "verify.  Start tenantd on D afterwards.  Exits with tenantd's\n"
	  "status (0 restored, 1 failed), or 3 if tenantd cannot be found or\n"
	  "run.  tenantd is $TENANTD_BIN, else the one in the build tree next\n"
	  "to tenantctl, else the first on $PATH, /usr/local/sbin/tenantd or\n"
	  "/usr/sbin/tenantd.\n"
	  "\n"
	  "  -D, --data-dir D  the data directory to create (-D before the\n"
	  "                    command works too)\n",
	  tenantctl_cmd_restore },
	{ "migrate", "--schema S [--to N] [--tenants a,b,c] [--canary K] "
	  "[--parallel N] [--continue-on-error] [--dry-run] [--detach]",
	  "migrate the tenants of a schema (a rollout)",
	  "Start a rollout that brings the tenants of schema S to version N\n"
	  "(default: the latest), then follow it until it ends: a progress\n"
	  "bar on a terminal, else a line on stderr at most once a second.\n"
	  "At the end, print a summary and every failure.  Exits 0 if the\n"
	  "rollout succeeded, 1 if it failed or completed with errors.  The\n"
	  "rollout runs in the daemon: interrupting tenantctl does not stop\n"
	  "it (follow it with 'tenantctl migrations show ID').\n"
	  "\n"
	  "  --schema S           the schema to migrate (required)\n"
	  "  --to N               the target version, 0 to latest; below a\n"
	  "                       tenant's version runs the .down.sql files\n"
	  "  --tenants a,b,c      only these tenants\n"
	  "  --canary K           migrate K tenants first, stop if one fails\n"
	  "  --parallel N         tenants at once, 1 to 256 (default: the\n"
	  "                       daemon's workers)\n"
	  "  --continue-on-error  go on past failures\n"
	  "  --dry-run            run every plan and roll it back\n"
	  "  --detach             print the rollout's id and exit at once\n",
	  tenantctl_cmd_migrate },
	{ "migrations list", "", "list rollouts, newest first",
	  "List the rollouts the daemon remembers, newest first.\n",
	  tenantctl_cmd_migrations_list },
	{ "migrations show", "ID", "show one rollout and its failures",
	  "Show rollout ID: its settings, state and counters, then a table\n"
	  "of the tenants that failed, with the version each stayed at, the\n"
	  "file that failed and the error.\n",
	  tenantctl_cmd_migrations_show },
	{ "schema list", "", "list the schemas the daemon knows",
	  "List the schemas the daemon knows with their latest version and,\n"
	  "when an applied file was edited, what changed.\n",
	  tenantctl_cmd_schemas },
	{ "schema show", "NAME", "show a schema's files and tenants",
	  "Show schema NAME: its migration files (version, file, SHA-256,\n"
	  "down file) and how many tenants sit at each version.\n",
	  tenantctl_cmd_schema_show },
	{ "schema verify", "NAME", "check that no applied file was edited",
	  "Check that none of schema NAME's files changed after tenants\n"
	  "applied them.  Exits 0 if none did; otherwise prints which file\n"
	  "changed and exits 1 (rollouts and creates of the schema are then\n"
	  "refused).  The daemon reads the files again on SIGHUP and when a\n"
	  "rollout starts.\n",
	  tenantctl_cmd_schema_verify },
	{ "schemas", "", "the same as schema list",
	  "List the schemas the daemon knows: the same as 'schema list'.\n",
	  tenantctl_cmd_schemas },
	{ "token create", "ID [--ro] [--ttl SECS] | --admin [--ttl SECS]",
	  "create an access token",
	  "Create a signed token for tenant ID (read-write, or read-only\n"
	  "with --ro), or with --admin one that reaches everything.  Prints\n"
	  "only the token, so that TOKEN=$(tenantctl token create ID) works.\n"
	  "\n"
	  "  --ro          read-only access to the tenant's data\n"
	  "  --ttl SECS    expire after SECS seconds (default: never)\n"
	  "  --admin       an admin token instead of a tenant's\n",
	  tenantctl_cmd_token_create },
	{ "status", "", "show the daemon's status",
	  "Show the daemon's version, uptime, data directory, tenant count,\n"
	  "handles, workers, streams, and its schemas.\n",
	  tenantctl_cmd_status },
	{ "health", "", "check that the daemon answers",
	  "Ask the daemon whether it is healthy: exit 0 if it is, 1 if it\n"
	  "answers but is not (shutting down), 3 if it does not answer.\n",
	  tenantctl_cmd_health },
	{ "help", "[COMMAND]", "show help for tenantctl or a command",
	  "Show the list of commands, or the help of COMMAND.\n",
	  tenantctl_cmd_help },
};
#define CTL_NCMDS	(sizeof tenantctl_cmds / sizeof tenantctl_cmds[0])

/* The progress line on stderr now, ended before any message is printed. */
static struct output_progress	*tenantctl_progress;

static void	tenantctl_warnx(const char *, ...) printflike(1, 2);

static void
tenantctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	output_progress_end(tenantctl_progress);
	fflush(stdout);
	fputs("tenantctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Print the words of text (split at spaces; a [bracketed group] is one
 * word) after col columns already used on the line, wrapping before
 * width columns to lines indented by indent.  Returns the column reached.
 */
static int
tenantctl_wrap(FILE *fp, const char *text, int col, int indent, int width)
{
	const char	*p = text, *start;
	int		 depth, len;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		start = p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '[')
				depth++;
			else if (*p == ']' && depth > 0)
				depth--;
			else if (*p == ' ' && depth == 0)
				break;
		}
		len = (int)(p - start);
		if (col > indent && col + 1 + len > width) {
			fprintf(fp, "\n%*s", indent, "");
			col = indent;
		} else {
			fputc(' ', fp);
			col++;
		}
		fprintf(fp, "%.*s", len, start);
		col += len;
	}
	return (col);
}

/* One line (or a few) of the command list: usage, then the summary. */
static void
tenantctl_usage_line(FILE *fp, const struct tenantctl_cmd *cmd)
{
	int	col;

	col = fprintf(fp, "  %s", cmd->name);
	col = tenantctl_wrap(fp, cmd->args, col, 6, 78);
	if (col > 29)
		fprintf(fp, "\n%31s", "");
	else
		fprintf(fp, "%*s", 31 - col, "");
	fprintf(fp, "%s\n", cmd->summary);
}

static void
tenantctl_usage(FILE *fp)
{
	size_t	i;

	fprintf(fp,
	    "usage: tenantctl [-D DIR | --socket PATH | --url URL] [--json]\n"
	    "                 [--timeout SECS] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n");
	for (i = 0; i < CTL_NCMDS; i++)
		tenantctl_usage_line(fp, &tenantctl_cmds[i]);
	fprintf(fp,
	    "\n"
	    "options:\n"
	    "  -D, --data-dir DIR\n"
	    "                 the daemon's data directory: socket DIR/"
	    CTL_SOCKET_NAME "\n"
	    "  --socket PATH  the daemon's unix socket\n"
	    "  --url URL      the daemon's TCP address, http://HOST:PORT\n"
	    "  --json         print the daemon's JSON responses\n"
	    "  --timeout SECS give up after SECS seconds (default %d)\n"
	    "  -h, --help     show this help\n"
	    "  --version      show the version\n"
	    "\n"
	    "Without -D, --socket or --url: TENANTD_URL, TENANTD_SOCKET,\n"
	    "TENANTD_DATA, else " CTL_DEFAULT_DATA "/" CTL_SOCKET_NAME ".\n"
	    "TENANTD_TOKEN, if set, is sent as a bearer token.\n"
	    "\n"
	    "Exit status: 0 done, 1 refused by the daemon, 2 usage error,\n"
	    "3 cannot reach the daemon.  See tenantctl(8).\n",
	    CTL_DEFAULT_TIMEOUT_MS / 1000);
}

static void
tenantctl_cmd_usage(FILE *fp, const struct tenantctl_cmd *cmd, int full)
{
	const char	*opt, *end, *nl;
	int		 col, width = 16;

	col = fprintf(fp, "usage: tenantctl [global options] %s", cmd->name);
	tenantctl_wrap(fp, cmd->args, col, 8, 78);
	fputc('\n', fp);
	if (!full)
		return;
	fprintf(fp, "\n%s", cmd->help);
	if (cmd->exec == tenantctl_cmd_help)
		return;
	if ((opt = strstr(cmd->help, "\n  -")) == NULL)
		fputc('\n', fp);
	else {
		/* Line the common options up with the command's own. */
		end = strstr(opt + 3, "  ");
		nl = strchr(opt + 1, '\n');
		if (end != NULL && (nl == NULL || end < nl)) {
			end += strspn(end, " ");
			width = (int)(end - opt - 1);
		}
	}
	if (cmd->exec != tenantctl_cmd_restore)
		fprintf(fp, "  %-*s%s\n", width - 2, "--json",
		    "print the daemon's JSON response");
	fprintf(fp, "  %-*s%s\n", width - 2, "-h, --help", "show this help");
}

/* A usage error: say why, show the command's usage, return exit 2. */
static int	tenantctl_usage_error(const struct tenantctl_cmd *,
		    const char *, ...) printflike(2, 3);

static int
tenantctl_usage_error(const struct tenantctl_cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("tenantctl: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		tenantctl_cmd_usage(stderr, cmd, 0);
	else
		fputs("Run 'tenantctl --help' for usage.\n", stderr);
	return (CTL_EXIT_USAGE);
}

/* Report a getopt error ('?' or ':') for cmd (NULL: global options). */
static int
tenantctl_opt_error(const struct tenantctl_cmd *cmd, int ch, char **argv)
{
	const char	*arg = argv[optind - 1];

	if (ch == ':')
		return (tenantctl_usage_error(cmd, "option %s needs an "
		    "argument", arg));
	if (optopt > 0 && optopt < 256 && isprint(optopt))
		return (tenantctl_usage_error(cmd, "unknown option -%c",
		    optopt));
	if (optopt >= 256)
		return (tenantctl_usage_error(cmd, "option %s takes no "
		    "argument", arg));
	return (tenantctl_usage_error(cmd, "unknown option %s", arg));
}

/* Make the next getopt_long call start again on a new argv. */
static void
tenantctl_getopt_reset(void)
{
#if defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__APPLE__)
	optreset = 1;
	optind = 1;
#else
	optind = 0;	/* glibc and musl: reinitialise */
#endif
	opterr = 0;
}

/*
 * Options every command takes.  Returns CTL_CONTINUE to keep parsing, or an
 * exit status to return now.
 */
static int
tenantctl_common_opt(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int ch, char **argv)
{
	switch (ch) {
	case OPT_JSON:
		ctl->json = 1;
		return (CTL_CONTINUE);
	case 'h':
		tenantctl_cmd_usage(stdout, cmd, 1);
		return (CTL_EXIT_OK);
	default:
		return (tenantctl_opt_error(cmd, ch, argv));
	}
}

#define CTL_COMMON_LONGOPTS \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "help", no_argument, NULL, 'h' }

/* Check the number of arguments left after the options. */
static int
tenantctl_nargs(const struct tenantctl_cmd *cmd, int argc, char **argv,
    int min, int max)
{
	char	*clean;
	int	 n = argc - optind;

	if (n < min)
		return (tenantctl_usage_error(cmd, "missing argument"));
	if (n > max) {
		clean = output_clean(argv[optind + max]);
		tenantctl_usage_error(cmd, "unexpected argument '%s'", clean);
		free(clean);
		return (CTL_EXIT_USAGE);
	}
	return (CTL_EXIT_OK);
}

/* Tenant ids are checked here so a bad one never reaches the daemon. */
static int
tenantctl_check_id(const struct tenantctl_cmd *cmd, const char *id)
{
	const char	*why;
	char		*clean;

	if ((why = tid_error(id, strlen(id))) == NULL)
		return (CTL_EXIT_OK);
	clean = output_clean(id);
	tenantctl_usage_error(cmd, "invalid tenant id '%s': %s", clean, why);
	free(clean);
	return (CTL_EXIT_USAGE);
}

static const char *
tenantctl_getenv(const char *name)
{
	const char	*v = getenv(name);

	return (v != NULL && *v != '\0' ? v : NULL);
}

/*
 * Choose the endpoint, once: the command line, then TENANTD_URL,
 * TENANTD_SOCKET, TENANTD_DATA, then the default data directory.  Returns
 * an exit status.
 */
static int
tenantctl_prepare(struct tenantctl *ctl)
{
	const char	*url, *sock, *data, *p;
	char		*path, err[512];
	size_t		 len;

	if (ctl->ready)
		return (CTL_EXIT_OK);

	/* The token goes into a header: printable ASCII only. */
	if ((ctl->token = tenantctl_getenv("TENANTD_TOKEN")) != NULL) {
		for (p = ctl->token; *p != '\0'; p++) {
			if ((unsigned char)*p <= 0x20 ||
			    (unsigned char)*p >= 0x7f) {
				tenantctl_warnx("TENANTD_TOKEN contains "
				    "characters that cannot be sent in a "
				    "header");
				return (CTL_EXIT_USAGE);
			}
		}
	}

	/* main() let at most one of the three options through. */
	url = ctl->url;
	sock = ctl->socket;
	data = ctl->data;
	if (url == NULL && sock == NULL && data == NULL &&
	    (url = tenantctl_getenv("TENANTD_URL")) == NULL &&
	    (sock = tenantctl_getenv("TENANTD_SOCKET")) == NULL &&
	    (data = tenantctl_getenv("TENANTD_DATA")) == NULL)
		data = CTL_DEFAULT_DATA;

	if (url != NULL) {
		if (client_endpoint_url(&ctl->ep, url, err, sizeof err) != 0) {
			tenantctl_warnx("%s", err);
			return (CTL_EXIT_USAGE);
		}
	} else if (sock != NULL)
		client_endpoint_unix(&ctl->ep, sock);
	else {
		len = strlen(data);
		while (len > 1 && data[len - 1] == '/')
			len--;
		xasprintf(&path, "%.*s/%s", (int)len, data, CTL_SOCKET_NAME);
		client_endpoint_unix(&ctl->ep, path);
		free(path);
	}
	ctl->ready = 1;
	return (CTL_EXIT_OK);
}

/* Print the daemon's refusal: "message (code)" from its JSON error body. */
static void
tenantctl_refused(struct tenantctl *ctl, const struct client_response *resp)
{
	json_t		*root, *msg, *code;
	char		*m, *c;

	root = json_loadb(resp->body, resp->bodylen, 0, NULL);
	msg = json_object_get(root, "message");
	code = json_object_get(root, "code");
	if (json_is_string(msg)) {
		m = output_clean(json_string_value(msg));
		if (json_is_string(code)) {
			c = output_clean(json_string_value(code));
			tenantctl_warnx("%s (%s)", m, c);
			free(c);
		} else
			tenantctl_warnx("%s", m);
		free(m);
	} else {
		m = output_clean(resp->reason);
		tenantctl_warnx("%s refused the request: HTTP %d%s%s",
		    ctl->ep.name, resp->status, *m != '\0' ? " " : "", m);
		free(m);
	}
	json_decref(root);
}

/*
 * Exit status for a response's HTTP status: CTL_EXIT_OK for 2xx, else
 * after printing why, CTL_EXIT_REFUSED for >= 400 and CTL_EXIT_CONNECT for
 * anything else.
 */
static int
tenantctl_status(struct tenantctl *ctl, const struct client_response *resp)
{
	if (resp->status >= 400) {
		tenantctl_refused(ctl, resp);
		return (CTL_EXIT_REFUSED);
	}
	if (resp->status < 200 || resp->status > 299) {
		tenantctl_warnx("unexpected response from %s: HTTP %d",
		    ctl->ep.name, resp->status);
		return (CTL_EXIT_CONNECT);
	}
	return (CTL_EXIT_OK);
}

/*
 * The body of a 2xx response as a JSON object.  Returns CTL_EXIT_OK with
 * *out set (new reference), or CTL_EXIT_CONNECT after saying why.
 */
static int
tenantctl_parse_json(struct tenantctl *ctl,
    const struct client_response *resp, json_t **out)
{
	json_error_t	 jerr;
	json_t		*root;

	*out = NULL;
	root = json_loadb(resp->body, resp->bodylen, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		tenantctl_warnx("malformed response from %s: %s", ctl->ep.name,
		    root == NULL ? "the body is not valid JSON" :
		    "the body is not a JSON object");
		json_decref(root);
		return (CTL_EXIT_CONNECT);
	}
	*out = root;
	return (CTL_EXIT_OK);
}

/*
 * Send one request (body borrowed, may be NULL) and parse the JSON object
 * the daemon answers.  Returns CTL_EXIT_OK with *out set (new reference),
 * CTL_QUIET without a word when the HTTP status is quiet (0: none), or an
 * exit status after printing why.
 */
static int
tenantctl_call_unless(struct tenantctl *ctl, const char *method,
    const char *path, const json_t *body, int quiet, json_t **out)
{
	struct client_request	 req;
	struct client_response	 resp;
	char			*text = NULL, err[1024];
	int			 r;

	*out = NULL;
	if ((r = tenantctl_prepare(ctl)) != CTL_EXIT_OK)
		return (r);

	memset(&req, 0, sizeof req);
	req.method = method;
	req.path = path;
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			fatalx("%s: json_dumps failed", __func__);
		req.body = text;
		req.bodylen = strlen(text);
	}
	req.token = ctl->token;
	req.timeout_ms = ctl->timeout_ms;

	r = client_request(&ctl->ep, &req, &resp, err, sizeof err);
	free(text);
	if (r != 0) {
		tenantctl_warnx("%s", err);
		return (CTL_EXIT_CONNECT);
	}

	if (quiet != 0 && resp.status == quiet)
		r = CTL_QUIET;
	else if ((r = tenantctl_status(ctl, &resp)) == CTL_EXIT_OK)
		r = tenantctl_parse_json(ctl, &resp, out);
	client_response_clear(&resp);
	return (r);
}

/* tenantctl_call_unless without a quiet status. */
static int
tenantctl_call(struct tenantctl *ctl, const char *method, const char *path,
    const json_t *body, json_t **out)
{
	return (tenantctl_call_unless(ctl, method, path, body, 0, out));
}

/* A response without the members the API promises. */
static int
tenantctl_malformed(struct tenantctl *ctl, const char *why)
{
	tenantctl_warnx("malformed response from %s: %s", ctl->ep.name, why);
	return (CTL_EXIT_CONNECT);
}

/* Print a tenant object as key: value lines. */
static void
tenantctl_print_tenant(const json_t *t)
{
	static const char	*keys[] = { "id", "schema", "version", "state",
				    "materialized", "created", "updated" };
	struct output_table	*kv;
	const json_t		*v;
	size_t			 i;

	kv = output_kv_new();
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if ((v = json_object_get(t, keys[i])) != NULL)
			output_kv_json(kv, keys[i], v);
	}
	v = json_object_get(t, "last_error");
	if (v != NULL && !json_is_null(v))
		output_kv_json(kv, "last_error", v);
	output_table_print(kv, stdout);
	output_table_free(kv);
}

/* Print the object's members as key: value lines, arrays of objects aside. */
static void
tenantctl_print_object(const json_t *obj, const char *skip)
{
	struct output_table	*kv;
	const char		*key;
	json_t			*v;

	kv = output_kv_new();
	json_object_foreach((json_t *)obj, key, v) {
		if (skip != NULL && strcmp(key, skip) == 0)
			continue;
		output_kv_json(kv, key, v);
	}
	output_table_print(kv, stdout);
	output_table_free(kv);
}

/*
 * Print a schemas array as a NAME LATEST EDITED table; EDITED is "-", or
 * the daemon's message naming the applied file that changed.
 */
static void
tenantctl_print_schemas(const json_t *schemas)
{
	struct output_table	*t;
	json_t			*s;
	size_t			 i;

	t = output_table_new(3, "NAME", "LATEST", "EDITED");
	json_array_foreach(schemas, i, s) {
		output_table_cell_json(t, json_object_get(s, "name"));
		output_table_cell_json(t, json_object_get(s, "latest"));
		output_table_cell_json(t, json_object_get(s, "edited"));
	}
	output_table_print(t, stdout);
	output_table_free(t);
}

/* create ID [--schema S] */
static int
tenantctl_cmd_create(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "schema", required_argument, NULL, OPT_SCHEMA },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char			*schema = NULL, *id;
	json_t				*body, *resp = NULL, *s;
	int				 ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch == OPT_SCHEMA)
			schema = optarg;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	id = argv[optind];
	if ((r = tenantctl_check_id(cmd, id)) != CTL_EXIT_OK)
		return (r);

	body = json_object();
	json_object_set_new(body, "id", json_string(id));
	if (schema != NULL) {
		if ((s = json_string(schema)) == NULL) {
			json_decref(body);
			return (tenantctl_usage_error(cmd, "the schema name "
			    "is not valid UTF-8"));
		}
		json_object_set_new(body, "schema", s);
	}
	r = tenantctl_call(ctl, "POST", "/v1/tenants", body, &resp);
	json_decref(body);
	if (r != CTL_EXIT_OK)
		return (r);
	if (ctl->json)
		output_json(stdout, resp);
	else
		tenantctl_print_tenant(resp);
	json_decref(resp);
	return (CTL_EXIT_OK);
}

/* show ID */
static int
tenantctl_cmd_show(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	json_t				*resp;
	char				*path;
	int				 ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = tenantctl_common_opt(ctl, cmd, ch, argv);
		if (r != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	if ((r = tenantctl_check_id(cmd, argv[optind])) != CTL_EXIT_OK)
		return (r);

	xasprintf(&path, "/v1/tenants/%s", argv[optind]);
	r = tenantctl_call(ctl, "GET", path, NULL, &resp);
	free(path);
	if (r != CTL_EXIT_OK)
		return (r);
	if (ctl->json)
		output_json(stdout, resp);
	else
		tenantctl_print_tenant(resp);
	json_decref(resp);
	return (CTL_EXIT_OK);
}

/* Quote s for a shell command line, if it needs it.  Returns new. */
static char *
tenantctl_shell_quote(const char *s)
{
	const char	*p;
	char		*clean, *out, *o;

	clean = output_clean(s);
	if (*clean != '\0' && strspn(clean, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.,:/=+@%-") ==
	    strlen(clean))
		return (clean);
	out = o = xmalloc(strlen(clean) * 4 + 3);
	*o++ = '\'';
	for (p = clean; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	free(clean);
	return (out);
}

static char *
tenantctl_list_path(const char *prefix, const char *after, const char *limit)
{
	char	*path, *tmp, *enc;
	char	 sep = '?';

	path = xstrdup("/v1/tenants");
	if (prefix != NULL) {
		enc = client_urlencode(prefix);
		xasprintf(&tmp, "%s%cprefix=%s", path, sep, enc);
		free(enc);
		free(path);
		path = tmp;
		sep = '&';
	}
	if (after != NULL) {
		enc = client_urlencode(after);
		xasprintf(&tmp, "%s%cafter=%s", path, sep, enc);
		free(enc);
		free(path);
		path = tmp;
		sep = '&';
	}
	if (limit != NULL) {
		xasprintf(&tmp, "%s%climit=%s", path, sep, limit);
		free(path);
		path = tmp;
	}
	return (path);
}

/* Tell the user, on stderr, how to ask for the next page. */
static void
tenantctl_list_hint(const char *prefix, const char *limit, const char *next)
{
	char	*qn, *qp = NULL;

	qn = tenantctl_shell_quote(next);
	if (prefix != NULL)
		qp = tenantctl_shell_quote(prefix);
	tenantctl_warnx("more tenants follow: use --all, or 'tenantctl "
	    "list%s%s%s%s --after %s' for the next page",
	    qp != NULL ? " --prefix " : "",
	    qp != NULL ? qp : "", limit != NULL ? " --limit " : "",
	    limit != NULL ? limit : "", qn);
	free(qp);
	free(qn);
}

/* list [--prefix P] [--after A] [--limit N] [--all] */
static int
tenantctl_cmd_list(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "all", no_argument, NULL, OPT_ALL },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char			*prefix = NULL, *limit = NULL;
	const char			*next;
	char				*after = NULL, *path, *end;
	struct output_table		*table = NULL;
	json_t				*resp = NULL, *all = NULL;
	json_t				*tenants, *jnext, *t;
	size_t				 i;
	long				 n;
	int				 ch, r, follow = 0;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_AFTER:
			free(after);
			after = xstrdup(optarg);
			break;
		case OPT_LIMIT:
			limit = optarg;
			break;
		case OPT_ALL:
			follow = 1;
			break;
		default:
			r = tenantctl_common_opt(ctl, cmd, ch, argv);
			if (r != CTL_CONTINUE)
				goto out;
			break;
		}
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 0, 0)) != CTL_EXIT_OK)
		goto out;
	if (limit != NULL) {
		errno = 0;
		n = strtol(limit, &end, 10);
		if (!isdigit((unsigned char)*limit) || *end != '\0' ||
		    errno != 0 || n < 1 || n > 1000000) {
			r = tenantctl_usage_error(cmd, "--limit needs a "
			    "positive number");
			goto out;
		}
	}

	if (ctl->json)
		all = json_array();
	else
		table = output_table_new(5, "ID", "SCHEMA", "VERSION",
		    "STATE", "UPDATED");
	for (;;) {
		path = tenantctl_list_path(prefix, after, limit);
		r = tenantctl_call(ctl, "GET", path, NULL, &resp);
		free(path);
		if (r != CTL_EXIT_OK)
			goto out;
		tenants = json_object_get(resp, "tenants");
		jnext = json_object_get(resp, "next");
		if (!json_is_array(tenants)) {
			r = tenantctl_malformed(ctl, "no \"tenants\" array");
			goto out;
		}
		if (jnext != NULL && !json_is_null(jnext) &&
		    !json_is_string(jnext)) {
			r = tenantctl_malformed(ctl, "\"next\" is not a "
			    "string");
			goto out;
		}
		next = json_string_value(jnext);

		if (ctl->json && !follow)
			output_json(stdout, resp);
		else if (ctl->json)
			json_array_extend(all, tenants);
		else {
			json_array_foreach(tenants, i, t) {
				output_table_cell_json(table,
				    json_object_get(t, "id"));
				output_table_cell_json(table,
				    json_object_get(t, "schema"));
				output_table_cell_json(table,
				    json_object_get(t, "version"));
				output_table_cell_json(table,
				    json_object_get(t, "state"));
				output_table_cell_json(table,
				    json_object_get(t, "updated"));
			}
		}

		if (next == NULL)
			break;
		if (!follow) {
			tenantctl_list_hint(prefix, limit, next);
			break;
		}
		/* A cursor that does not move would loop forever. */
		if (json_array_size(tenants) == 0 ||
		    (after != NULL && strcmp(after, next) == 0)) {
			r = tenantctl_malformed(ctl, "the \"next\" cursor "
			    "does not advance");
			goto out;
		}
		free(after);
		after = xstrdup(next);
		json_decref(resp);
		resp = NULL;
	}

	if (ctl->json && follow) {
		json_decref(resp);
		resp = json_pack("{s:O,s:n}", "tenants", all, "next");
		if (resp == NULL)
			fatalx("%s: json_pack failed", __func__);
		output_json(stdout, resp);
	} else if (!ctl->json)
		output_table_print(table, stdout);
	r = CTL_EXIT_OK;

out:
	output_table_free(table);
	json_decref(all);
	json_decref(resp);
	free(after);
	return (r);
}

/* Ask on the terminal.  Returns 1 for yes. */
static int
tenantctl_confirm(const char *id)
{
	char	*line = NULL;
	size_t	 size = 0;
	ssize_t	 len;
	int	 yes = 0;

	fflush(stdout);
	fprintf(stderr, "delete tenant %s and its data? [y/N] ", id);
	fflush(stderr);
	if ((len = getline(&line, &size, stdin)) == -1) {
		fputc('\n', stderr);
		free(line);
		return (0);
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
	    line[len - 1] == ' '))
		line[--len] = '\0';
	if (strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0)
		yes = 1;
	free(line);
	return (yes);
}

/* delete ID [--yes] */
static int
tenantctl_cmd_delete(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "yes", no_argument, NULL, 'y' },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char			*id;
	json_t				*resp;
	char				*path;
	int				 ch, r, yes = 0;

	while ((ch = getopt_long(argc, argv, ":hy", opts, NULL)) != -1) {
		if (ch == 'y')
			yes = 1;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	id = argv[optind];
	if ((r = tenantctl_check_id(cmd, id)) != CTL_EXIT_OK)
		return (r);
	if ((r = tenantctl_prepare(ctl)) != CTL_EXIT_OK)
		return (r);

	if (!yes) {
		if (!isatty(STDIN_FILENO))
			return (tenantctl_usage_error(cmd, "not deleting "
			    "tenant %s: stdin is not a terminal, use --yes",
			    id));
		if (!tenantctl_confirm(id)) {
			tenantctl_warnx("tenant %s not deleted", id);
			return (CTL_EXIT_REFUSED);
		}
	}

	xasprintf(&path, "/v1/tenants/%s", id);
	r = tenantctl_call(ctl, "DELETE", path, NULL, &resp);
	free(path);
	if (r != CTL_EXIT_OK)
		return (r);
	if (ctl->json)
		output_json(stdout, resp);
	else
		printf("tenant %s deleted\n", id);
	json_decref(resp);
	return (CTL_EXIT_OK);
}

/*
 * Commands that take no arguments: parse the options, check argc.  Returns
 * CTL_CONTINUE to run the command, or an exit status to return now.
 */
static int
tenantctl_noargs(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	int				 ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = tenantctl_common_opt(ctl, cmd, ch, argv);
		if (r != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 0, 0)) != CTL_EXIT_OK)
		return (r);
	return (CTL_CONTINUE);
}

/* status */
static int
tenantctl_cmd_status(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	json_t	*resp, *schemas;
	int	 r;

	if ((r = tenantctl_noargs(ctl, cmd, argc, argv)) != CTL_CONTINUE)
		return (r);
	if ((r = tenantctl_call(ctl, "GET", "/v1/status", NULL, &resp)) !=
	    CTL_EXIT_OK)
		return (r);
	if (ctl->json)
		output_json(stdout, resp);
	else {
		schemas = json_object_get(resp, "schemas");
		if (json_is_array(schemas)) {
			tenantctl_print_object(resp, "schemas");
			if (json_array_size(schemas) > 0) {
				printf("\n");
				tenantctl_print_schemas(schemas);
			}
		} else
			tenantctl_print_object(resp, NULL);
	}
	json_decref(resp);
	return (CTL_EXIT_OK);
}

/* schemas */
static int
tenantctl_cmd_schemas(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	json_t	*resp, *schemas;
	int	 r;

	if ((r = tenantctl_noargs(ctl, cmd, argc, argv)) != CTL_CONTINUE)
		return (r);
	if ((r = tenantctl_call(ctl, "GET", "/v1/schemas", NULL, &resp)) !=
	    CTL_EXIT_OK)
		return (r);
	schemas = json_object_get(resp, "schemas");
	if (!json_is_array(schemas))
		r = tenantctl_malformed(ctl, "no \"schemas\" array");
	else if (ctl->json)
		output_json(stdout, resp);
	else
		tenantctl_print_schemas(schemas);
	json_decref(resp);
	return (r);
}

/* health */
static int
tenantctl_cmd_health(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	json_t	*resp;
	int	 r;

	if ((r = tenantctl_noargs(ctl, cmd, argc, argv)) != CTL_CONTINUE)
		return (r);
	r = tenantctl_call(ctl, "GET", "/health", NULL, &resp);
	if (r != CTL_EXIT_OK)
		return (r);
	if (ctl->json)
		output_json(stdout, resp);
	else
		tenantctl_print_object(resp, NULL);
	json_decref(resp);
	return (CTL_EXIT_OK);
}

/* --- signals, numbers, names -------------------------------------------- */

/*
 * What the signal handler may touch, set by tenantctl_sig_arm before the
 * handler is installed and cleared after it is removed.
 */
static volatile sig_atomic_t	 tenantctl_sig_armed;
static const char		*tenantctl_sig_unlink;	/* a temporary file */
static const char		*tenantctl_sig_msg;	/* for stderr */
static size_t			 tenantctl_sig_msglen;
static const int		 tenantctl_sigs[] = { SIGINT, SIGTERM, SIGHUP };

/* Tidy up, then die of the signal as if it had not been caught. */
static void
tenantctl_on_signal(int sig)
{
	ssize_t	n;

	if (tenantctl_sig_armed) {
		if (tenantctl_sig_unlink != NULL)
			(void)unlink(tenantctl_sig_unlink);
		if (tenantctl_sig_msg != NULL) {
			n = write(STDERR_FILENO, tenantctl_sig_msg,
			    tenantctl_sig_msglen);
			(void)n;
		}
	}
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

/*
 * On SIGINT, SIGTERM or SIGHUP: remove path and print msg (either may be
 * NULL; both borrowed until tenantctl_sig_disarm).  A signal that was
 * ignored when tenantctl started stays ignored.
 */
static void
tenantctl_sig_arm(const char *path, const char *msg)
{
	struct sigaction	sa, old;
	size_t			i;

	tenantctl_sig_unlink = path;
	tenantctl_sig_msg = msg;
	tenantctl_sig_msglen = msg != NULL ? strlen(msg) : 0;
	tenantctl_sig_armed = 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tenantctl_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof tenantctl_sigs / sizeof tenantctl_sigs[0];
	    i++) {
		if (sigaction(tenantctl_sigs[i], NULL, &old) == -1)
			fatal("sigaction");
		if (old.sa_handler == SIG_IGN)
			continue;
		if (sigaction(tenantctl_sigs[i], &sa, NULL) == -1)
			fatal("sigaction");
	}
}

static void
tenantctl_sig_disarm(void)
{
	struct sigaction	sa, old;
	size_t			i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof tenantctl_sigs / sizeof tenantctl_sigs[0];
	    i++) {
		if (sigaction(tenantctl_sigs[i], NULL, &old) == -1)
			fatal("sigaction");
		if (old.sa_handler != tenantctl_on_signal)
			continue;
		if (sigaction(tenantctl_sigs[i], &sa, NULL) == -1)
			fatal("sigaction");
	}
	tenantctl_sig_armed = 0;
	tenantctl_sig_unlink = NULL;
	tenantctl_sig_msg = NULL;
}

/* A decimal number from min to max into *out.  Returns 0, or -1. */
static int
tenantctl_parse_num(const char *s, long long min, long long max,
    long long *out)
{
	char		*end;
	long long	 v;

	if (!isdigit((unsigned char)*s))
		return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

/* Schema names are checked like tenant ids: [A-Za-z0-9_-]{1,64}. */
static int
tenantctl_check_schema(const struct tenantctl_cmd *cmd, const char *name)
{
	size_t	 len = strlen(name);
	char	*clean;

	if (len >= 1 && len <= 64 && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == len)
		return (CTL_EXIT_OK);
	clean = output_clean(name);
	tenantctl_usage_error(cmd, "invalid schema name '%s': expected 1 to "
	    "64 characters from A-Z, a-z, 0-9, '_' and '-'", clean);
	free(clean);
	return (CTL_EXIT_USAGE);
}

/* A member as a number (integer or real; 0 when missing). */
static double
tenantctl_jnum(const json_t *obj, const char *key)
{
	return (json_number_value(json_object_get(obj, key)));
}

static long long
tenantctl_jint(const json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (json_is_integer(v))
		return ((long long)json_integer_value(v));
	return ((long long)json_number_value(v));
}

/* --- export ------------------------------------------------------------- */

/* One download: where it goes and how far it got. */
struct tenantctl_export {
	const char		*id;
	const char		*file;		/* NULL: stdout */
	char			*tmp;		/* next to file, until renamed */
	int			 fd;
	int64_t			 length;	/* -1: not known */
	uint64_t		 got;
	uint64_t		 t0_us;
	struct output_progress	*progress;	/* NULL: stderr is no tty */
};

/*
 * Redraw a transfer's progress line (bar may be NULL: nothing to do), if
 * it is time or final says the transfer ended: got of length bytes (-1:
 * not known) since t0_us, then the suffix.
 */
static void
tenantctl_bytes_draw(struct output_progress *bar, uint64_t got,
    int64_t length, uint64_t t0_us, int final, const char *suffix)
{
	char	 done[32], total[32], rate[32], eta[32], *b;
	double	 secs, bps = 0;

	if (bar == NULL || (!final && !output_progress_due(bar)))
		return;
	secs = (double)(time_mono_us() - t0_us) / 1e6;
	if (secs > 0)
		bps = (double)got / secs;
	output_size(done, sizeof done, (double)got);
	output_size(rate, sizeof rate, bps);
	if (length <= 0) {
		output_progress_draw(bar, "%s  %s/s%s", done, rate, suffix);
		return;
	}
	output_size(total, sizeof total, (double)length);
	if (final)
		output_duration(eta, sizeof eta, secs);
	else if (bps > 0)
		output_duration(eta, sizeof eta,
		    (double)(length - (int64_t)got) / bps);
	else
		output_duration(eta, sizeof eta, -1);
	b = output_bar((double)got / length, CTL_BAR_WIDTH);
	output_progress_draw(bar, "%s %3d%%  %s / %s  %s/s  %s %s%s", b,
	    (int)(100.0 * got / length), done, total, rate,
	    final ? "in" : "ETA", eta, suffix);
	free(b);
}

/* Redraw the progress line, if it is time (or the download ended). */
static void
tenantctl_export_draw(struct tenantctl_export *ex, int final)
{
	tenantctl_bytes_draw(ex->progress, ex->got, ex->length, ex->t0_us,
	    final, "");
}

/* The sink's start: the daemon said 200 and how long the body is. */
static int
tenantctl_export_start(void *arg, const struct client_response *resp,
    int64_t length, char *err, size_t errlen)
{
	struct tenantctl_export	*ex = arg;

	(void)resp;
	(void)err;
	(void)errlen;
	ex->length = length;
	ex->t0_us = time_mono_us();
	tenantctl_export_draw(ex, 0);
	return (0);
}

/* The sink's write: the next piece of the body. */
static int
tenantctl_export_write(void *arg, const char *data, size_t len, char *err,
    size_t errlen)
{
	struct tenantctl_export	*ex = arg;
	ssize_t			 n;
	char			*clean;

	while (len > 0) {
		if ((n = write(ex->fd, data, len)) == -1) {
			if (errno == EINTR)
				continue;
			clean = output_clean(ex->file != NULL ? ex->tmp :
			    "stdout");
			snprintf(err, errlen, "cannot write %s: %s", clean,
			    strerror(errno));
			free(clean);
			return (-1);
		}
		data += n;
		len -= (size_t)n;
		ex->got += (uint64_t)n;
	}
	tenantctl_export_draw(ex, 0);
	return (0);
}

/*
 * Create the temporary file next to ex->file, with the mode a new file
 * would get.  Returns 0, or -1 after saying why.
 */
static int
tenantctl_export_open(struct tenantctl_export *ex)
{
	struct stat	 st;
	mode_t		 mask;
	char		*clean;

	clean = output_clean(ex->file);
	if (stat(ex->file, &st) == 0 && S_ISDIR(st.st_mode)) {
		tenantctl_warnx("cannot export to %s: it is a directory",
		    clean);
		goto fail;
	}
	xasprintf(&ex->tmp, "%s.tmp.XXXXXX", ex->file);
	if ((ex->fd = mkstemp(ex->tmp)) == -1) {
		tenantctl_warnx("cannot create a temporary file next to %s: "
		    "%s", clean, strerror(errno));
		free(ex->tmp);
		ex->tmp = NULL;
		goto fail;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(ex->fd, 0666 & ~mask) == -1) {
		tenantctl_warnx("cannot set the mode of a temporary file next "
		    "to %s: %s", clean, strerror(errno));
		goto fail;
	}
	free(clean);
	return (0);

fail:
	free(clean);
	return (-1);
}

/* Sync the directory that holds path, so that a rename in it lasts. */
static int
tenantctl_sync_dir(const char *path)
{
	const char	*slash = strrchr(path, '/');
	char		*dir;
	int		 fd, r = 0;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, slash - path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		r = -1;
	else {
		if (fsync(fd) == -1 && errno != EINVAL)
			r = -1;
		close(fd);
	}
	free(dir);
	return (r);
}

/*
 * The body is complete: sync the temporary file and rename it to the
 * target.  Returns 0, or -1 after saying why (the temporary file is left
 * for tenantctl_export_abort).
 */
static int
tenantctl_export_commit(struct tenantctl_export *ex)
{
	char	*clean;
	int	 fd = ex->fd;

	clean = output_clean(ex->file);
	ex->fd = -1;
	if (fsync(fd) == -1) {
		tenantctl_warnx("cannot sync the export of %s: %s", clean,
		    strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		tenantctl_warnx("cannot write the export of %s: %s", clean,
		    strerror(errno));
		goto fail;
	}
	if (rename(ex->tmp, ex->file) == -1) {
		tenantctl_warnx("cannot rename the export to %s: %s", clean,
		    strerror(errno));
		goto fail;
	}
	tenantctl_sig_disarm();
	free(ex->tmp);
	ex->tmp = NULL;
	if (tenantctl_sync_dir(ex->file) != 0) {
		tenantctl_warnx("%s is complete, but its directory could not "
		    "be synced: %s", clean, strerror(errno));
		goto fail;
	}
	free(clean);
	return (0);

fail:
	free(clean);
	return (-1);
}

/* Remove what a failed export left: never a partial target. */
static void
tenantctl_export_abort(struct tenantctl_export *ex)
{
	tenantctl_sig_disarm();
	if (ex->fd != -1 && ex->file != NULL)
		close(ex->fd);
	ex->fd = -1;
	if (ex->tmp != NULL) {
		if (unlink(ex->tmp) == -1 && errno != ENOENT)
			tenantctl_warnx("cannot remove %s: %s", ex->tmp,
			    strerror(errno));
		free(ex->tmp);
		ex->tmp = NULL;
	}
}

/* export ID -o FILE [--format sqlite|sql] */
static int
tenantctl_cmd_export(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct tenantctl_export		 ex;
	struct client_sink		 sink;
	struct client_request		 req;
	struct client_response		 resp;
	const char			*out = NULL, *format = "sqlite";
	char				*path = NULL, err[1024], *clean;
	json_t				*j;
	int				 ch, r, sql;

	memset(&ex, 0, sizeof ex);
	ex.fd = -1;
	memset(&resp, 0, sizeof resp);
	while ((ch = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		if (ch == 'o')
			out = optarg;
		else if (ch == OPT_FORMAT)
			format = optarg;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	ex.id = argv[optind];
	if ((r = tenantctl_check_id(cmd, ex.id)) != CTL_EXIT_OK)
		return (r);
	if (out == NULL || *out == '\0')
		return (tenantctl_usage_error(cmd, "-o FILE is required (- "
		    "for stdout)"));
	if (strcmp(format, "sqlite") == 0)
		sql = 0;
	else if (strcmp(format, "sql") == 0)
		sql = 1;
	else
		return (tenantctl_usage_error(cmd, "--format must be sqlite "
		    "or sql"));
	if (strcmp(out, "-") == 0) {
		if (ctl->json)
			return (tenantctl_usage_error(cmd, "--json cannot be "
			    "used with -o -: the export goes to stdout"));
		if (!sql && isatty(STDOUT_FILENO))
			return (tenantctl_usage_error(cmd, "not writing a "
			    "database file to a terminal: use -o FILE"));
		ex.fd = STDOUT_FILENO;
	} else
		ex.file = out;
	if ((r = tenantctl_prepare(ctl)) != CTL_EXIT_OK)
		return (r);

	if (ex.file != NULL) {
		if (tenantctl_export_open(&ex) != 0) {
			r = CTL_EXIT_REFUSED;
			goto fail;
		}
		tenantctl_sig_arm(ex.tmp, NULL);
	}
	if (isatty(STDERR_FILENO))
		ex.progress = tenantctl_progress =
		    output_progress_new(stderr, CTL_BAR_MS);

	xasprintf(&path, "/v1/tenants/%s/export%s", ex.id,
	    sql ? "?format=sql" : "");
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.path = path;
	req.token = ctl->token;
	req.accept = sql ? "application/sql, application/json" :
	    "application/vnd.sqlite3, application/json";
	req.timeout_ms = ctl->timeout_ms;
	sink.start = tenantctl_export_start;
	sink.write = tenantctl_export_write;
	sink.arg = &ex;

	r = client_download(&ctl->ep, &req, &sink, &resp, err, sizeof err);
	if (r != CLIENT_OK) {
		tenantctl_warnx("%s", err);
		r = r == CLIENT_ERR_SINK ? CTL_EXIT_REFUSED : CTL_EXIT_CONNECT;
		goto fail;
	}
	if ((r = tenantctl_status(ctl, &resp)) != CTL_EXIT_OK)
		goto fail;
	tenantctl_export_draw(&ex, 1);
	output_progress_end(ex.progress);
	if (ex.file != NULL && tenantctl_export_commit(&ex) != 0) {
		r = CTL_EXIT_REFUSED;
		goto fail;
	}

	if (ex.file != NULL && ctl->json) {
		j = json_pack("{s:s,s:s,s:s,s:I}", "id", ex.id, "format",
		    format, "file", ex.file, "bytes", (json_int_t)ex.got);
		if (j == NULL)	/* a file name that is not UTF-8 */
			j = json_pack("{s:s,s:s,s:n,s:I}", "id", ex.id,
			    "format", format, "file", "bytes",
			    (json_int_t)ex.got);
		if (j == NULL)
			fatalx("%s: json_pack failed", __func__);
		output_json(stdout, j);
		json_decref(j);
	} else if (ex.file != NULL) {
		clean = output_clean(ex.file);
		printf("exported %s: %llu bytes to %s\n", ex.id,
		    (unsigned long long)ex.got, clean);
		free(clean);
	}
	r = CTL_EXIT_OK;
	goto out;

fail:
	tenantctl_export_abort(&ex);
out:
	tenantctl_progress = NULL;
	output_progress_free(ex.progress);
	client_response_clear(&resp);
	free(path);
	return (r);
}

/* --- import --------------------------------------------------------------- */

/* One upload, for its progress line. */
struct tenantctl_import {
	uint64_t		 length;
	uint64_t		 t0_us;
	struct output_progress	*progress;
};

/* client_upload's progress: sent of the file's bytes are out. */
static void
tenantctl_import_progress(void *arg, uint64_t sent)
{
	struct tenantctl_import	*im = arg;
	int			 final = sent >= im->length;

	tenantctl_bytes_draw(im->progress, sent, (int64_t)im->length,
	    im->t0_us, final, final ? "; the daemon checks it" : "");
}

/* Is the code of the daemon's JSON error body code? */
static int
tenantctl_error_is(const struct client_response *resp, const char *code)
{
	json_t		*root;
	const char	*c;
	int		 is;

	root = json_loadb(resp->body, resp->bodylen, 0, NULL);
	c = json_string_value(json_object_get(root, "code"));
	is = c != NULL && strcmp(c, code) == 0;
	json_decref(root);
	return (is);
}

/* import ID FILE [--schema S] [--replace] */
static int
tenantctl_cmd_import(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "schema", required_argument, NULL, OPT_SCHEMA },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct tenantctl_import		 im;
	struct client_request		 req;
	struct client_response		 resp;
	struct client_source		 src;
	struct stat			 st;
	const char			*schema = NULL, *id, *file;
	const json_t			*js;
	json_t				*t = NULL;
	char				*path = NULL, *enc, *clean = NULL;
	char				 err[1024];
	int				 ch, r, fd = -1, replace = 0;

	memset(&im, 0, sizeof im);
	memset(&resp, 0, sizeof resp);
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch == OPT_SCHEMA)
			schema = optarg;
		else if (ch == OPT_REPLACE)
			replace = 1;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 2, 2)) != CTL_EXIT_OK)
		return (r);
	id = argv[optind];
	file = argv[optind + 1];
	if ((r = tenantctl_check_id(cmd, id)) != CTL_EXIT_OK)
		return (r);
	if (schema != NULL && *schema != '\0' &&
	    (r = tenantctl_check_schema(cmd, schema)) != CTL_EXIT_OK)
		return (r);
	if (*file == '\0')
		return (tenantctl_usage_error(cmd, "FILE is empty"));
	if (strcmp(file, "-") == 0)
		return (tenantctl_usage_error(cmd, "FILE must be a regular "
		    "file, not stdin: its size is sent first"));

	/* Nothing is sent until the file is known to be usable. */
	clean = output_clean(file);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		tenantctl_warnx("cannot open %s: %s", clean, strerror(errno));
		r = CTL_EXIT_USAGE;
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		tenantctl_warnx("cannot stat %s: %s", clean, strerror(errno));
		r = CTL_EXIT_USAGE;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		tenantctl_warnx("%s is not a regular file: import sends its "
		    "size first, so it needs one", clean);
		r = CTL_EXIT_USAGE;
		goto out;
	}
	if ((r = tenantctl_prepare(ctl)) != CTL_EXIT_OK)
		goto out;

	xasprintf(&path, "/v1/tenants/%s/import%s", id, replace ?
	    "?replace=true" : "");
	if (schema != NULL) {
		enc = client_urlencode(schema);
		free(path);
		xasprintf(&path, "/v1/tenants/%s/import?%sschema=%s", id,
		    replace ? "replace=true&" : "", enc);
		free(enc);
	}
	memset(&req, 0, sizeof req);
	req.method = "PUT";
	req.path = path;
	req.token = ctl->token;
	req.content_type = "application/octet-stream";
	req.timeout_ms = ctl->timeout_ms;
	req.reply_timeout_ms = ctl->timeout_ms > CTL_IMPORT_WAIT_MS ?
	    ctl->timeout_ms : CTL_IMPORT_WAIT_MS;
	memset(&src, 0, sizeof src);
	src.fd = fd;
	src.length = (uint64_t)st.st_size;
	if (isatty(STDERR_FILENO)) {
		im.progress = tenantctl_progress = output_progress_new(stderr,
		    CTL_BAR_MS);
		im.length = src.length;
		im.t0_us = time_mono_us();
		src.progress = tenantctl_import_progress;
		src.arg = &im;
	}

	r = client_upload(&ctl->ep, &req, &src, &resp, err, sizeof err);
	if (r != CLIENT_OK) {
		tenantctl_warnx("%s", err);
		r = r == CLIENT_ERR_SOURCE ? CTL_EXIT_REFUSED :
		    CTL_EXIT_CONNECT;
		goto out;
	}
	output_progress_end(im.progress);
	if ((r = tenantctl_status(ctl, &resp)) != CTL_EXIT_OK) {
		if (!replace && resp.status == 409 &&
		    tenantctl_error_is(&resp, "TENANT_EXISTS"))
			tenantctl_warnx("use --replace to replace the data of "
			    "tenant %s", id);
		goto out;
	}
	if ((r = tenantctl_parse_json(ctl, &resp, &t)) != CTL_EXIT_OK)
		goto out;
	js = json_object_get(t, "schema");
	if (!json_is_integer(json_object_get(t, "version")) ||
	    (!json_is_string(js) && !json_is_null(js))) {
		r = tenantctl_malformed(ctl, "the tenant has no \"schema\" or "
		    "\"version\"");
		goto out;
	}
	if (ctl->json)
		output_json(stdout, t);
	else if (json_is_string(js)) {
		free(clean);
		clean = output_clean(json_string_value(js));
		printf("imported %s (schema %s, version %lld)\n", id,
		    *clean != '\0' ? clean : "none", tenantctl_jint(t,
		    "version"));
	} else
		printf("imported %s (schema none, version %lld)\n", id,
		    tenantctl_jint(t, "version"));
	r = CTL_EXIT_OK;

out:
	tenantctl_progress = NULL;
	output_progress_free(im.progress);
	client_response_clear(&resp);
	json_decref(t);
	if (fd != -1)
		close(fd);
	free(path);
	free(clean);
	return (r);
}

/* --- check ---------------------------------------------------------------- */

/* A check result must say whether the tenant is fine, and why not. */
static int
tenantctl_check_valid(struct tenantctl *ctl, const json_t *res)
{
	if (!json_is_boolean(json_object_get(res, "ok")) ||
	    !json_is_array(json_object_get(res, "problems")))
		return (tenantctl_malformed(ctl, "the check result has no "
		    "\"ok\" or \"problems\""));
	return (CTL_EXIT_OK);
}

/* "ID: ok", or "ID: N problems" and each problem on a line of its own. */
static void
tenantctl_print_check(const char *id, const json_t *res)
{
	const json_t	*problems = json_object_get(res, "problems"), *p;
	size_t		 i, n = json_array_size(problems);
	char		*clean;

	if (json_is_true(json_object_get(res, "ok")) && n == 0) {
		if (json_is_string(json_object_get(res, "note"))) {
			clean = output_scalar(json_object_get(res, "note"));
			printf("%s: ok (%s)\n", id, clean);
			free(clean);
		} else
			printf("%s: ok\n", id);
		return;
	}
	printf("%s: %zu problem%s\n", id, n, n == 1 ? "" : "s");
	json_array_foreach(problems, i, p) {
		clean = output_scalar(p);
		printf("  %s\n", clean);
		free(clean);
	}
}

static int
tenantctl_check_ok(const json_t *res)
{
	return (json_is_true(json_object_get(res, "ok")) &&
	    json_array_size(json_object_get(res, "problems")) == 0);
}

/*
 * Every tenant id, in order, following the list's pages.  Returns
 * CTL_EXIT_OK with *out set (a new array of strings), or an exit status.
 */
static int
tenantctl_all_ids(struct tenantctl *ctl, json_t **out)
{
	json_t		*ids, *resp = NULL, *tenants, *jnext, *t, *jid;
	const char	*id;
	char		*after = NULL, *path;
	size_t		 i;
	int		 r;

	*out = NULL;
	ids = json_array();
	for (;;) {
		path = tenantctl_list_path(NULL, after, "1000");
		r = tenantctl_call(ctl, "GET", path, NULL, &resp);
		free(path);
		if (r != CTL_EXIT_OK)
			goto out;
		tenants = json_object_get(resp, "tenants");
		jnext = json_object_get(resp, "next");
		if (!json_is_array(tenants) || (jnext != NULL &&
		    !json_is_null(jnext) && !json_is_string(jnext))) {
			r = tenantctl_malformed(ctl, "no \"tenants\" array, or "
			    "a \"next\" that is not a string");
			goto out;
		}
		json_array_foreach(tenants, i, t) {
			jid = json_object_get(t, "id");
			id = json_string_value(jid);
			/* It goes into a request path: check it first. */
			if (id == NULL || tid_error(id, strlen(id)) != NULL) {
				r = tenantctl_malformed(ctl, "a tenant without "
				    "a valid \"id\"");
				goto out;
			}
			json_array_append(ids, jid);
		}
		if (!json_is_string(jnext))
			break;
		if (json_array_size(tenants) == 0 || (after != NULL &&
		    strcmp(after, json_string_value(jnext)) == 0)) {
			r = tenantctl_malformed(ctl, "the \"next\" cursor "
			    "does not advance");
			goto out;
		}
		free(after);
		after = xstrdup(json_string_value(jnext));
		json_decref(resp);
		resp = NULL;
	}
	*out = ids;
	ids = NULL;
	r = CTL_EXIT_OK;

out:
	json_decref(ids);
	json_decref(resp);
	free(after);
	return (r);
}

/* check --all: every tenant, the ones with problems, then a summary. */
static int
tenantctl_check_all(struct tenantctl *ctl)
{
	struct output_progress	*bar = NULL;
	json_t			*ids = NULL, *results = NULL, *res = NULL;
	json_t			*jid;
	const char		*id;
	char			*path, *b;
	size_t			 i, n, checked = 0, bad = 0;
	int			 r;

	if ((r = tenantctl_all_ids(ctl, &ids)) != CTL_EXIT_OK)
		return (r);
	n = json_array_size(ids);
	if (ctl->json)
		results = json_array();
	if (isatty(STDERR_FILENO))
		bar = tenantctl_progress = output_progress_new(stderr,
		    CTL_BAR_MS);
	json_array_foreach(ids, i, jid) {
		id = json_string_value(jid);
		if (bar != NULL && output_progress_due(bar)) {
			b = output_bar(n > 0 ? (double)i / n : 0,
			    CTL_BAR_WIDTH);
			output_progress_draw(bar, "check %s %zu/%zu tenants  "
			    "%zu with problems", b, i, n, bad);
			free(b);
		}
		xasprintf(&path, "/v1/tenants/%s/check", id);
		r = tenantctl_call_unless(ctl, "GET", path, NULL, 404, &res);
		free(path);
		if (r == CTL_QUIET)
			continue;	/* deleted since the list */
		if (r != CTL_EXIT_OK)
			goto out;
		if ((r = tenantctl_check_valid(ctl, res)) != CTL_EXIT_OK)
			goto out;
		checked++;
		if (!tenantctl_check_ok(res)) {
			bad++;
			if (!ctl->json) {
				output_progress_end(bar);
				tenantctl_print_check(id, res);
				fflush(stdout);
			}
		}
		if (ctl->json)
			json_array_append(results, res);
		json_decref(res);
		res = NULL;
	}
	output_progress_end(bar);
	if (ctl->json)
		output_json(stdout, results);
	else
		printf("checked %zu tenant%s, %zu with problems\n", checked,
		    checked == 1 ? "" : "s", bad);
	r = bad > 0 ? CTL_EXIT_REFUSED : CTL_EXIT_OK;

out:
	tenantctl_progress = NULL;
	output_progress_free(bar);
	json_decref(res);
	json_decref(results);
	json_decref(ids);
	return (r);
}

/* check ID | check --all */
static int
tenantctl_cmd_check(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char			*id;
	json_t				*res;
	char				*path;
	int				 ch, r, all = 0;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch == OPT_ALL)
			all = 1;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if (all && optind < argc)
		return (tenantctl_usage_error(cmd, "give an ID or --all, not "
		    "both"));
	if (!all && (r = tenantctl_nargs(cmd, argc, argv, 1, 1)) !=
	    CTL_EXIT_OK)
		return (r);
	if (all)
		return (tenantctl_check_all(ctl));

	id = argv[optind];
	if ((r = tenantctl_check_id(cmd, id)) != CTL_EXIT_OK)
		return (r);
	xasprintf(&path, "/v1/tenants/%s/check", id);
	r = tenantctl_call(ctl, "GET", path, NULL, &res);
	free(path);
	if (r != CTL_EXIT_OK)
		return (r);
	if ((r = tenantctl_check_valid(ctl, res)) == CTL_EXIT_OK) {
		if (ctl->json)
			output_json(stdout, res);
		else
			tenantctl_print_check(id, res);
		if (!tenantctl_check_ok(res))
			r = CTL_EXIT_REFUSED;
	}
	json_decref(res);
	return (r);
}

/* --- backup, restore ------------------------------------------------------ */

/*
 * DIR as an absolute path for the daemon (a new string in *out): the real
 * path of DIR when it exists, else the real path of its parent and its
 * last name (the daemon creates it).  An absolute DIR whose parent is not
 * here goes as given: the daemon may run on another machine.  Returns an
 * exit status.
 */
static int
tenantctl_backup_dir(const struct tenantctl_cmd *cmd, const char *dir,
    char **out)
{
	char		*copy, *parent, *real, *clean;
	const char	*base, *slash;
	size_t		 len;
	int		 r = CTL_EXIT_OK;

	*out = NULL;
	if (*dir == '\0')
		return (tenantctl_usage_error(cmd, "DIR is empty"));
	copy = xstrdup(dir);
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	if ((real = realpath(copy, NULL)) != NULL) {
		*out = real;
		free(copy);
		return (CTL_EXIT_OK);
	}
	if ((slash = strrchr(copy, '/')) == NULL) {
		parent = xstrdup(".");
		base = copy;
	} else {
		parent = slash == copy ? xstrdup("/") :
		    xstrndup(copy, slash - copy);
		base = slash + 1;
	}
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		real = NULL;
	else
		real = realpath(parent, NULL);
	if (real != NULL)
		xasprintf(out, "%s/%s", strcmp(real, "/") == 0 ? "" : real,
		    base);
	else if (copy[0] == '/' && strstr(copy, "/../") == NULL)
		*out = xstrdup(copy);
	else {
		clean = output_clean(dir);
		tenantctl_warnx("backup: cannot find the directory that "
		    "holds %s: %s", clean, strerror(errno));
		free(clean);
		r = CTL_EXIT_USAGE;
	}
	free(real);
	free(parent);
	free(copy);
	return (r);
}

/* A backup document must have a numeric id and a state. */
static int
tenantctl_backup_valid(struct tenantctl *ctl, const json_t *job)
{
	const char	*state;

	state = json_string_value(json_object_get(job, "state"));
	if (!json_is_integer(json_object_get(job, "id")) || state == NULL ||
	    (strcmp(state, "running") != 0 &&
	    strcmp(state, "succeeded") != 0 && strcmp(state, "failed") != 0))
		return (tenantctl_malformed(ctl, "the backup has no \"id\", "
		    "or no known \"state\""));
	return (CTL_EXIT_OK);
}

/*
 * Show how far a backup is, as tenantctl_job_progress does for a rollout:
 * a bar on a terminal, else a plain line at most every CTL_LINE_MS.
 */
static void
tenantctl_backup_progress(const json_t *job, struct output_progress *bar,
    uint64_t *last_us, int force)
{
	long long	 id, total, finished;
	char		 size[32], *b;

	if (bar != NULL && !force && !output_progress_due(bar))
		return;
	if (bar == NULL && *last_us != 0 &&
	    time_mono_us() - *last_us < (uint64_t)CTL_LINE_MS * 1000)
		return;
	id = tenantctl_jint(job, "id");
	total = tenantctl_jint(job, "total");
	finished = tenantctl_jint(job, "done") + tenantctl_jint(job,
	    "skipped");
	output_size(size, sizeof size, tenantctl_jnum(job, "bytes"));
	if (bar != NULL) {
		b = output_bar(total > 0 ? (double)finished / total : 0,
		    CTL_BAR_WIDTH);
		output_progress_draw(bar, "backup %lld %s %lld/%lld tenants  "
		    "%s", id, b, finished, total, size);
		free(b);
	} else
		fprintf(stderr, "backup %lld: %lld/%lld tenants, %s\n", id,
		    finished, total, size);
	fflush(stderr);
	*last_us = time_mono_us();
}

/* backup DIR [--detach] */
static int
tenantctl_cmd_backup(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "detach", no_argument, NULL, OPT_DETACH },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct output_progress		*bar = NULL;
	const char			*state = NULL;
	json_t				*body = NULL, *job = NULL, *jdir;
	char				*dir = NULL, *path = NULL;
	char				*sigmsg = NULL, *clean = NULL;
	char				 size[32];
	long long			 id;
	uint64_t			 last_us = 0;
	int				 ch, r, detach = 0;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch == OPT_DETACH)
			detach = 1;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	if ((r = tenantctl_backup_dir(cmd, argv[optind], &dir)) !=
	    CTL_EXIT_OK)
		return (r);
	if ((jdir = json_string(dir)) == NULL) {
		r = tenantctl_usage_error(cmd, "the path of DIR is not valid "
		    "UTF-8");
		goto out;
	}
	body = json_object();
	json_object_set_new(body, "dir", jdir);
	clean = output_clean(dir);

	if ((r = tenantctl_call(ctl, "POST", "/v1/backups", body, &job)) !=
	    CTL_EXIT_OK)
		goto out;
	if ((r = tenantctl_backup_valid(ctl, job)) != CTL_EXIT_OK)
		goto out;
	id = tenantctl_jint(job, "id");
	if (detach) {
		if (ctl->json)
			output_json(stdout, job);
		else
			printf("backup %lld started: %s\n", id, clean);
		goto out;
	}

	/* Follow it until it ends.  It goes on if we are stopped. */
	if (isatty(STDERR_FILENO))
		bar = tenantctl_progress = output_progress_new(stderr,
		    CTL_BAR_MS);
	xasprintf(&sigmsg, "%stenantctl: backup %lld continues in the "
	    "daemon\n", bar != NULL ? "\n" : "", id);
	tenantctl_sig_arm(NULL, sigmsg);
	xasprintf(&path, "/v1/backups/%lld", id);
	for (;;) {
		state = json_string_value(json_object_get(job, "state"));
		if (strcmp(state, "running") != 0) {
			if (bar != NULL)
				tenantctl_backup_progress(job, bar, &last_us,
				    1);
			break;
		}
		tenantctl_backup_progress(job, bar, &last_us, 0);
		(void)poll(NULL, 0, CTL_POLL_MS);
		json_decref(job);
		job = NULL;
		if ((r = tenantctl_call(ctl, "GET", path, NULL, &job)) !=
		    CTL_EXIT_OK)
			break;
		if ((r = tenantctl_backup_valid(ctl, job)) != CTL_EXIT_OK)
			break;
	}
	tenantctl_sig_disarm();
	output_progress_end(bar);
	if (r != CTL_EXIT_OK) {
		tenantctl_warnx("backup %lld: lost track of it; it may still "
		    "be running in the daemon", id);
		goto out;
	}

	if (ctl->json)
		output_json(stdout, job);
	if (strcmp(state, "succeeded") == 0) {
		if (!ctl->json) {
			output_size(size, sizeof size, tenantctl_jnum(job,
			    "bytes"));
			printf("backup %lld succeeded: %lld tenants, %s in "
			    "%s\n", id, tenantctl_jint(job, "done"), size,
			    clean);
			if (tenantctl_jint(job, "skipped") > 0)
				printf("(%lld tenants were deleted during the "
				    "backup and are not in it)\n",
				    tenantctl_jint(job, "skipped"));
		}
	} else {
		free(clean);
		clean = output_scalar(json_object_get(job, "error"));
		tenantctl_warnx("backup %lld failed: %s", id, clean);
		r = CTL_EXIT_REFUSED;
	}

out:
	tenantctl_progress = NULL;
	output_progress_free(bar);
	json_decref(body);
	json_decref(job);
	free(sigmsg);
	free(path);
	free(clean);
	free(dir);
	return (r);
}

/* Is path a regular file we may run? */
static int
tenantctl_executable(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0);
}

/*
 * Where tenantd is, as a new string, or NULL: $TENANTD_BIN, the build
 * tree (argv0's directory/../tenantd/tenantd, when argv0 has a slash), a
 * path set when tenantctl was built (TENANTCTL_TENANTD_PATH), $PATH, then
 * the usual sbin directories.
 */
static char *
tenantctl_find_tenantd(const char *argv0)
{
	static const char	*fixed[] = { "/usr/local/sbin/tenantd",
				    "/usr/sbin/tenantd" };
	const char		*env, *slash, *p, *colon;
	char			*path;
	size_t			 i, len;

	if ((env = tenantctl_getenv("TENANTD_BIN")) != NULL)
		return (xstrdup(env));
	if (argv0 != NULL && (slash = strrchr(argv0, '/')) != NULL) {
		xasprintf(&path, "%.*s/../tenantd/tenantd",
		    (int)(slash - argv0), argv0);
		if (tenantctl_executable(path))
			return (path);
		free(path);
	}
#ifdef TENANTCTL_TENANTD_PATH
	if (tenantctl_executable(TENANTCTL_TENANTD_PATH))
		return (xstrdup(TENANTCTL_TENANTD_PATH));
#endif
	if ((env = getenv("PATH")) != NULL) {
		for (p = env;; p = colon + 1) {
			colon = strchr(p, ':');
			len = colon != NULL ? (size_t)(colon - p) : strlen(p);
			if (len == 0)
				path = xstrdup("./tenantd");
			else
				xasprintf(&path, "%.*s/tenantd", (int)len, p);
			if (tenantctl_executable(path))
				return (path);
			free(path);
			if (colon == NULL)
				break;
		}
	}
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (tenantctl_executable(fixed[i]))
			return (xstrdup(fixed[i]));
	}
	return (NULL);
}

/*
 * Run "BIN --restore FROM -D TO" and wait for it, with SIGINT and SIGQUIT
 * ignored meanwhile as system(3) does: tenantd gets them and cleans up.
 * name is BIN fit for messages.  Returns tenantd's exit status, or an exit
 * status after saying why it could not be run.
 */
static int
tenantctl_run_restore(const char *bin, const char *name, const char *from,
    const char *to)
{
	struct sigaction	 ign, oint, oquit;
	char			*args[6];
	pid_t			 pid;
	ssize_t			 n;
	int			 pfd[2], status, saved = 0, r;

	args[0] = (char *)bin;
	args[1] = (char *)"--restore";
	args[2] = (char *)from;
	args[3] = (char *)"-D";
	args[4] = (char *)to;
	args[5] = NULL;

	/* A pipe closed by a successful exec tells exec failure apart. */
	if (pipe(pfd) == -1) {
		tenantctl_warnx("cannot run %s: pipe: %s", name,
		    strerror(errno));
		return (CTL_EXIT_CONNECT);
	}
	if (fcntl(pfd[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(pfd[1], F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl");
	fflush(stdout);
	fflush(stderr);
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	if (sigaction(SIGINT, &ign, &oint) == -1 ||
	    sigaction(SIGQUIT, &ign, &oquit) == -1)
		fatal("sigaction");

	if ((pid = fork()) == -1) {
		saved = errno;
		close(pfd[0]);
		close(pfd[1]);
		r = -1;
		goto out;
	}
	if (pid == 0) {
		/* The child: only async-signal-safe calls from here. */
		close(pfd[0]);
		(void)sigaction(SIGINT, &oint, NULL);
		(void)sigaction(SIGQUIT, &oquit, NULL);
		execv(bin, args);
		saved = errno;
		n = write(pfd[1], &saved, sizeof saved);
		(void)n;
		_exit(127);
	}

	close(pfd[1]);
	do
		n = read(pfd[0], &saved, sizeof saved);
	while (n == -1 && errno == EINTR);
	close(pfd[0]);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (r == -1)
		fatal("waitpid");
	if (n != (ssize_t)sizeof saved)
		saved = 0;

out:
	if (sigaction(SIGINT, &oint, NULL) == -1 ||
	    sigaction(SIGQUIT, &oquit, NULL) == -1)
		fatal("sigaction");
	if (r == -1 || saved != 0) {
		tenantctl_warnx("cannot run %s: %s", name, strerror(saved));
		return (CTL_EXIT_CONNECT);
	}
	if (WIFEXITED(status))
		return (WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		tenantctl_warnx("%s was killed by signal %d", name,
		    WTERMSIG(status));
	return (CTL_EXIT_REFUSED);
}

/* restore DIR --data-dir D */
static int
tenantctl_cmd_restore(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "data-dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char			*to = NULL, *from;
	char				*bin, *clean;
	int				 ch, r;

	while ((ch = getopt_long(argc, argv, ":hD:", opts, NULL)) != -1) {
		if (ch == 'D')
			to = optarg;
		else if (ch == 'h') {
			tenantctl_cmd_usage(stdout, cmd, 1);
			return (CTL_EXIT_OK);
		} else
			return (tenantctl_opt_error(cmd, ch, argv));
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	from = argv[optind];
	if (ctl->json)
		return (tenantctl_usage_error(cmd, "--json does not apply: "
		    "tenantd prints what it did"));
	if (to == NULL)
		to = ctl->data;
	if (to == NULL || *to == '\0')
		return (tenantctl_usage_error(cmd, "--data-dir D is required: "
		    "the data directory to create"));
	if (*from == '\0')
		return (tenantctl_usage_error(cmd, "DIR is empty"));

	if ((bin = tenantctl_find_tenantd(ctl->argv0)) == NULL) {
		tenantctl_warnx("cannot find tenantd: set TENANTD_BIN to its "
		    "path");
		return (CTL_EXIT_CONNECT);
	}
	clean = output_clean(bin);
	r = tenantctl_run_restore(bin, clean, from, to);
	free(clean);
	free(bin);
	return (r);
}

/* --- migrate, migrations ------------------------------------------------- */

static int
tenantctl_job_terminal(const char *state)
{
	return (strcmp(state, "succeeded") == 0 ||
	    strcmp(state, "failed") == 0 ||
	    strcmp(state, "completed_with_errors") == 0);
}

/* A job document must have a numeric id and a state. */
static int
tenantctl_job_check(struct tenantctl *ctl, const json_t *job)
{
	if (!json_is_integer(json_object_get(job, "id")) ||
	    !json_is_string(json_object_get(job, "state")))
		return (tenantctl_malformed(ctl, "the rollout has no \"id\" "
		    "or \"state\""));
	return (CTL_EXIT_OK);
}

/*
 * Show how far a running job is: a bar on a terminal, redrawn at most
 * every CTL_BAR_MS, else a plain line on stderr at most every CTL_LINE_MS
 * (*last_us is when the last one was printed, 0 for never).  force
 * redraws the bar now.
 */
static void
tenantctl_job_progress(const json_t *job, struct output_progress *bar,
    uint64_t *last_us, int force)
{
	const char	*state = json_string_value(json_object_get(job,
			    "state"));
	const json_t	*eta = json_object_get(job, "eta_s");
	long long	 id, total, done, failed, finished;
	double		 rate;
	char		 etas[32], *b;
	const char	*suffix = "";

	if (bar != NULL && !force && !output_progress_due(bar))
		return;
	if (bar == NULL && *last_us != 0 &&
	    time_mono_us() - *last_us < (uint64_t)CTL_LINE_MS * 1000)
		return;
	id = tenantctl_jint(job, "id");
	total = tenantctl_jint(job, "total");
	done = tenantctl_jint(job, "done");
	failed = tenantctl_jint(job, "failed");
	finished = done + failed + tenantctl_jint(job, "skipped");
	rate = tenantctl_jnum(job, "rate_per_s");
	if (strcmp(state, "canary") == 0)
		suffix = " (canary)";

	if (strcmp(state, "planning") == 0) {
		if (bar != NULL)
			output_progress_draw(bar, "rollout %lld: planning", id);
		else
			fprintf(stderr, "rollout %lld: planning\n", id);
	} else if (bar != NULL) {
		output_duration(etas, sizeof etas, json_is_number(eta) ?
		    json_number_value(eta) : -1);
		b = output_bar(total > 0 ? (double)finished / total : 0,
		    CTL_BAR_WIDTH);
		output_progress_draw(bar, "rollout %lld %s %lld/%lld done  "
		    "%lld failed  %.1f/s  ETA %s%s", id, b, done, total, failed,
		    rate, etas, suffix);
		free(b);
	} else
		fprintf(stderr, "rollout %lld: %lld/%lld done, %lld failed, "
		    "%.1f/s%s\n", id, done, total, failed, rate, suffix);
	fflush(stderr);
	*last_us = time_mono_us();
}

/* The failures of a job, if any, as a table after an empty line. */
static void
tenantctl_print_failures(const json_t *job)
{
	struct output_table	*t;
	const json_t		*fails, *f;
	size_t			 i;
	long long		 more;

	fails = json_object_get(job, "failures");
	if (!json_is_array(fails) || json_array_size(fails) == 0)
		return;
	printf("\n");
	t = output_table_new(4, "TENANT", "VERSION", "FILE", "ERROR");
	json_array_foreach(fails, i, f) {
		output_table_cell_json(t, json_object_get(f, "tenant"));
		output_table_cell_json(t, json_object_get(f, "version"));
		output_table_cell_json(t, json_object_get(f, "file"));
		output_table_cell_json(t, json_object_get(f, "error"));
	}
	output_table_print(t, stdout);
	output_table_free(t);
	more = tenantctl_jint(job, "failures_total") -
	    (long long)json_array_size(fails);
	if (more > 0)
		printf("(%lld more failures not shown)\n", more);
}

/* Print a job document: key: value lines, then its failures as a table. */
static void
tenantctl_print_job(const json_t *job)
{
	static const char	*keys[] = { "id", "schema", "to", "state",
				    "message", "dry_run", "continue_on_error",
				    "canary", "parallel", "tenants", "total",
				    "done", "failed", "skipped", "pending",
				    "running", "rate_per_s", "eta_s",
				    "created", "finished" };
	struct output_table	*kv;
	const json_t		*v, *e;
	char			 buf[64], *s, *tmp;
	size_t			 i, j;

	kv = output_kv_new();
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if ((v = json_object_get(job, keys[i])) == NULL)
			continue;
		if (strcmp(keys[i], "message") == 0 && json_is_null(v))
			continue;
		if (strcmp(keys[i], "rate_per_s") == 0 && json_is_number(v)) {
			snprintf(buf, sizeof buf, "%.1f", json_number_value(v));
			output_kv(kv, keys[i], buf);
		} else if (strcmp(keys[i], "eta_s") == 0 &&
		    json_is_number(v)) {
			output_duration(buf, sizeof buf, json_number_value(v));
			output_kv(kv, keys[i], buf);
		} else if (strcmp(keys[i], "tenants") == 0 &&
		    json_is_array(v)) {
			s = xstrdup("");
			json_array_foreach(v, j, e) {
				xasprintf(&tmp, "%s%s%s", s, j > 0 ? "," : "",
				    json_is_string(e) ? json_string_value(e) :
				    "?");
				free(s);
				s = tmp;
			}
			output_kv(kv, keys[i], s);
			free(s);
		} else if (strcmp(keys[i], "tenants") == 0 && json_is_null(v))
			output_kv(kv, keys[i], "all");
		else
			output_kv_json(kv, keys[i], v);
	}
	output_table_print(kv, stdout);
	output_table_free(kv);
	tenantctl_print_failures(job);
}

/*
 * Print a finished job in short: state, counts, the daemon's message, then
 * its failures.
 */
static void
tenantctl_print_job_summary(const json_t *job)
{
	const json_t	*msg = json_object_get(job, "message");
	char		*schema, *state, *m;

	schema = output_scalar(json_object_get(job, "schema"));
	state = output_scalar(json_object_get(job, "state"));
	printf("rollout %lld: %s%s\n", tenantctl_jint(job, "id"), state,
	    json_is_true(json_object_get(job, "dry_run")) ?
	    " (dry run: nothing was changed)" : "");
	printf("schema %s to version %lld: %lld tenants, %lld done, %lld "
	    "failed, %lld skipped\n", schema, tenantctl_jint(job, "to"),
	    tenantctl_jint(job, "total"), tenantctl_jint(job, "done"),
	    tenantctl_jint(job, "failed"), tenantctl_jint(job, "skipped"));
	if (json_is_string(msg)) {
		m = output_clean(json_string_value(msg));
		printf("%s\n", m);
		free(m);
	}
	free(state);
	free(schema);
	tenantctl_print_failures(job);
}

/* Split a,b,c into a JSON array of checked tenant ids (new), or NULL. */
static json_t *
tenantctl_split_ids(const struct tenantctl_cmd *cmd, const char *list)
{
	json_t		*arr = json_array();
	const char	*p = list, *comma;
	char		*id, *clean;

	for (;;) {
		comma = strchr(p, ',');
		id = comma != NULL ? xstrndup(p, comma - p) : xstrdup(p);
		if (*id == '\0') {
			clean = output_clean(list);
			tenantctl_usage_error(cmd, "--tenants: an empty "
			    "tenant id in '%s'", clean);
			free(clean);
			goto fail;
		}
		if (tenantctl_check_id(cmd, id) != CTL_EXIT_OK)
			goto fail;
		json_array_append_new(arr, json_string(id));
		free(id);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return (arr);

fail:
	free(id);
	json_decref(arr);
	return (NULL);
}

/*
 * migrate --schema S [--to N] [--tenants a,b,c] [--canary K]
 * [--parallel N] [--continue-on-error] [--dry-run] [--detach]
 */
static int
tenantctl_cmd_migrate(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "schema", required_argument, NULL, OPT_SCHEMA },
		{ "to", required_argument, NULL, OPT_TO },
		{ "tenants", required_argument, NULL, OPT_TENANTS },
		{ "canary", required_argument, NULL, OPT_CANARY },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "continue-on-error", no_argument, NULL, OPT_CONTINUE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "detach", no_argument, NULL, OPT_DETACH },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char			*schema = NULL, *to = NULL;
	const char			*tenants = NULL, *canary = NULL;
	const char			*parallel = NULL, *state = NULL;
	struct output_progress		*bar = NULL;
	json_t				*body = NULL, *job = NULL, *ids;
	char				*path = NULL, *sigmsg = NULL;
	long long			 n, id;
	uint64_t			 last_us = 0;
	int				 ch, r, cont = 0, dry = 0, detach = 0;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_SCHEMA:
			schema = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_TENANTS:
			tenants = optarg;
			break;
		case OPT_CANARY:
			canary = optarg;
			break;
		case OPT_PARALLEL:
			parallel = optarg;
			break;
		case OPT_CONTINUE:
			cont = 1;
			break;
		case OPT_DRY_RUN:
			dry = 1;
			break;
		case OPT_DETACH:
			detach = 1;
			break;
		default:
			r = tenantctl_common_opt(ctl, cmd, ch, argv);
			if (r != CTL_CONTINUE)
				return (r);
			break;
		}
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 0, 0)) != CTL_EXIT_OK)
		return (r);
	if (schema == NULL)
		return (tenantctl_usage_error(cmd, "--schema is required"));
	if ((r = tenantctl_check_schema(cmd, schema)) != CTL_EXIT_OK)
		return (r);

	body = json_object();
	json_object_set_new(body, "schema", json_string(schema));
	if (to != NULL) {
		if (tenantctl_parse_num(to, 0, INT_MAX, &n) != 0) {
			r = tenantctl_usage_error(cmd, "--to needs a version, "
			    "0 or more");
			goto out;
		}
		json_object_set_new(body, "to", json_integer(n));
	}
	if (tenants != NULL) {
		if ((ids = tenantctl_split_ids(cmd, tenants)) == NULL) {
			r = CTL_EXIT_USAGE;
			goto out;
		}
		json_object_set_new(body, "tenants", ids);
	}
	if (canary != NULL) {
		if (tenantctl_parse_num(canary, 0, INT_MAX, &n) != 0) {
			r = tenantctl_usage_error(cmd, "--canary needs a "
			    "number of tenants, 0 or more");
			goto out;
		}
		json_object_set_new(body, "canary", json_integer(n));
	}
	if (parallel != NULL) {
		if (tenantctl_parse_num(parallel, 1, 256, &n) != 0) {
			r = tenantctl_usage_error(cmd, "--parallel needs a "
			    "number from 1 to 256");
			goto out;
		}
		json_object_set_new(body, "parallel", json_integer(n));
	}
	json_object_set_new(body, "continue_on_error", json_boolean(cont));
	json_object_set_new(body, "dry_run", json_boolean(dry));

	r = tenantctl_call(ctl, "POST", "/v1/migrations", body, &job);
	if (r != CTL_EXIT_OK)
		goto out;
	if ((r = tenantctl_job_check(ctl, job)) != CTL_EXIT_OK)
		goto out;
	id = tenantctl_jint(job, "id");
	if (detach) {
		if (ctl->json)
			output_json(stdout, job);
		else
			printf("rollout %lld started: schema %s to version "
			    "%lld%s\nfollow it with: tenantctl migrations show "
			    "%lld\n", id, schema, tenantctl_jint(job, "to"),
			    dry ? " (dry run)" : "", id);
		goto out;
	}

	/* Follow the job until it ends.  It goes on if we are stopped. */
	if (isatty(STDERR_FILENO))
		bar = tenantctl_progress = output_progress_new(stderr,
		    CTL_BAR_MS);
	xasprintf(&sigmsg, "%stenantctl: rollout %lld continues in the "
	    "daemon; follow it with tenantctl migrations show %lld\n",
	    bar != NULL ? "\n" : "", id, id);
	tenantctl_sig_arm(NULL, sigmsg);
	xasprintf(&path, "/v1/migrations/%lld", id);
	for (;;) {
		json_decref(job);
		job = NULL;
		if ((r = tenantctl_call(ctl, "GET", path, NULL, &job)) !=
		    CTL_EXIT_OK)
			break;
		if ((r = tenantctl_job_check(ctl, job)) != CTL_EXIT_OK)
			break;
		state = json_string_value(json_object_get(job, "state"));
		if (tenantctl_job_terminal(state)) {
			if (bar != NULL)
				tenantctl_job_progress(job, bar, &last_us, 1);
			break;
		}
		tenantctl_job_progress(job, bar, &last_us, 0);
		(void)poll(NULL, 0, CTL_POLL_MS);
	}
	tenantctl_sig_disarm();
	output_progress_end(bar);
	if (r != CTL_EXIT_OK) {
		tenantctl_warnx("rollout %lld continues in the daemon; follow "
		    "it with tenantctl migrations show %lld", id, id);
		goto out;
	}

	if (ctl->json)
		output_json(stdout, job);
	else
		tenantctl_print_job_summary(job);
	if (strcmp(state, "succeeded") != 0) {
		tenantctl_warnx("rollout %lld %s: %lld of %lld tenants failed",
		    id, strcmp(state, "failed") == 0 ? "failed" :
		    "completed with errors", tenantctl_jint(job, "failed"),
		    tenantctl_jint(job, "total"));
		r = CTL_EXIT_REFUSED;
	}

out:
	tenantctl_progress = NULL;
	output_progress_free(bar);
	json_decref(body);
	json_decref(job);
	free(sigmsg);
	free(path);
	return (r);
}

/* migrations list */
static int
tenantctl_cmd_migrations_list(struct tenantctl *ctl,
    const struct tenantctl_cmd *cmd, int argc, char **argv)
{
	struct output_table	*t;
	json_t			*resp, *jobs, *job;
	size_t			 i;
	int			 r;

	if ((r = tenantctl_noargs(ctl, cmd, argc, argv)) != CTL_CONTINUE)
		return (r);
	if ((r = tenantctl_call(ctl, "GET", "/v1/migrations", NULL, &resp)) !=
	    CTL_EXIT_OK)
		return (r);
	jobs = json_object_get(resp, "migrations");
	if (!json_is_array(jobs))
		r = tenantctl_malformed(ctl, "no \"migrations\" array");
	else if (ctl->json)
		output_json(stdout, resp);
	else {
		t = output_table_new(8, "ID", "SCHEMA", "TO", "STATE", "DONE",
		    "FAILED", "TOTAL", "CREATED");
		json_array_foreach(jobs, i, job) {
			output_table_cell_json(t, json_object_get(job, "id"));
			output_table_cell_json(t, json_object_get(job,
			    "schema"));
			output_table_cell_json(t, json_object_get(job, "to"));
			output_table_cell_json(t, json_object_get(job,
			    "state"));
			output_table_cell_json(t, json_object_get(job, "done"));
			output_table_cell_json(t, json_object_get(job,
			    "failed"));
			output_table_cell_json(t, json_object_get(job,
			    "total"));
			output_table_cell_json(t, json_object_get(job,
			    "created"));
		}
		output_table_print(t, stdout);
		output_table_free(t);
	}
	json_decref(resp);
	return (r);
}

/* migrations show ID */
static int
tenantctl_cmd_migrations_show(struct tenantctl *ctl,
    const struct tenantctl_cmd *cmd, int argc, char **argv)
{
	static const struct option	 opts[] = {
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	json_t				*job;
	char				*path, *clean;
	long long			 id;
	int				 ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = tenantctl_common_opt(ctl, cmd, ch, argv);
		if (r != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	if (tenantctl_parse_num(argv[optind], 1, LLONG_MAX, &id) != 0) {
		clean = output_clean(argv[optind]);
		tenantctl_usage_error(cmd, "invalid rollout id '%s': expected "
		    "a positive number", clean);
		free(clean);
		return (CTL_EXIT_USAGE);
	}
	xasprintf(&path, "/v1/migrations/%lld", id);
	r = tenantctl_call(ctl, "GET", path, NULL, &job);
	free(path);
	if (r != CTL_EXIT_OK)
		return (r);
	if ((r = tenantctl_job_check(ctl, job)) != CTL_EXIT_OK)
		;
	else if (ctl->json)
		output_json(stdout, job);
	else
		tenantctl_print_job(job);
	json_decref(job);
	return (r);
}

/* --- schema -------------------------------------------------------------- */

/*
 * Options and the NAME argument of schema show and schema verify, then
 * GET /v1/schemas/NAME.  Returns an exit status with *out set (new), or
 * with *out NULL when the command is over (--help, or an error).
 */
static int
tenantctl_schema_get(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv, int reload, const char **name, json_t **out)
{
	static const struct option	 opts[] = {
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	char				*path;
	int				 ch, r;

	*out = NULL;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = tenantctl_common_opt(ctl, cmd, ch, argv);
		if (r != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 1, 1)) != CTL_EXIT_OK)
		return (r);
	*name = argv[optind];
	if ((r = tenantctl_check_schema(cmd, *name)) != CTL_EXIT_OK)
		return (r);
	if (reload) {
		/* Have the daemon read the files as they are now. */
		json_t	*list = NULL;

		r = tenantctl_call(ctl, "POST", "/v1/schemas/reload", NULL,
		    &list);
		json_decref(list);
		if (r != CTL_EXIT_OK)
			return (r);
	}
	xasprintf(&path, "/v1/schemas/%s", *name);
	r = tenantctl_call(ctl, "GET", path, NULL, out);
	free(path);
	if (r != CTL_EXIT_OK)
		return (r);
	if (!json_is_array(json_object_get(*out, "files")) ||
	    !json_is_object(json_object_get(*out, "tenants_by_version"))) {
		json_decref(*out);
		*out = NULL;
		return (tenantctl_malformed(ctl, "the schema has no \"files\" "
		    "or \"tenants_by_version\""));
	}
	return (CTL_EXIT_OK);
}

/* schema show NAME */
static int
tenantctl_cmd_schema_show(struct tenantctl *ctl,
    const struct tenantctl_cmd *cmd, int argc, char **argv)
{
	struct output_table	*kv, *t;
	const char		*name, *key;
	json_t			*resp, *f, *v;
	size_t			 i;
	int			 r;

	r = tenantctl_schema_get(ctl, cmd, argc, argv, 0, &name, &resp);
	if (resp == NULL)
		return (r);
	if (ctl->json) {
		output_json(stdout, resp);
		json_decref(resp);
		return (CTL_EXIT_OK);
	}
	kv = output_kv_new();
	output_kv_json(kv, "name", json_object_get(resp, "name"));
	output_kv_json(kv, "latest", json_object_get(resp, "latest"));
	output_kv_json(kv, "edited", json_object_get(resp, "edited"));
	output_table_print(kv, stdout);
	output_table_free(kv);

	printf("\n");
	t = output_table_new(4, "VERSION", "FILE", "CHECKSUM", "DOWN");
	json_array_foreach(json_object_get(resp, "files"), i, f) {
		output_table_cell_json(t, json_object_get(f, "version"));
		output_table_cell_json(t, json_object_get(f, "file"));
		output_table_cell_json(t, json_object_get(f, "checksum"));
		output_table_cell_json(t, json_object_get(f, "down"));
	}
	output_table_print(t, stdout);
	output_table_free(t);

	printf("\n");
	t = output_table_new(2, "VERSION", "TENANTS");
	json_object_foreach(json_object_get(resp, "tenants_by_version"), key,
	    v) {
		output_table_cell(t, key);
		output_table_cell_json(t, v);
	}
	output_table_print(t, stdout);
	output_table_free(t);
	json_decref(resp);
	return (CTL_EXIT_OK);
}

/* schema verify NAME */
static int
tenantctl_cmd_schema_verify(struct tenantctl *ctl,
    const struct tenantctl_cmd *cmd, int argc, char **argv)
{
	const char	*name;
	json_t		*resp, *edited;
	char		*clean;
	int		 r;

	r = tenantctl_schema_get(ctl, cmd, argc, argv, 1, &name, &resp);
	if (resp == NULL)
		return (r);
	edited = json_object_get(resp, "edited");
	if (ctl->json)
		output_json(stdout, resp);
	if (edited == NULL || json_is_null(edited)) {
		if (!ctl->json)
			printf("schema %s: no applied file was edited\n",
			    name);
		r = CTL_EXIT_OK;
	} else {
		clean = output_scalar(edited);
		tenantctl_warnx("schema %s: %s", name, clean);
		free(clean);
		r = CTL_EXIT_REFUSED;
	}
	json_decref(resp);
	return (r);
}

/* --- token --------------------------------------------------------------- */

/* token create ID [--ro] [--ttl SECS] | token create --admin [--ttl SECS] */
static int
tenantctl_cmd_token_create(struct tenantctl *ctl,
    const struct tenantctl_cmd *cmd, int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "ro", no_argument, NULL, OPT_RO },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "admin", no_argument, NULL, OPT_ADMIN },
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const char			*id = NULL, *ttl = NULL, *token;
	json_t				*body, *resp;
	long long			 secs = 0;
	int				 ch, r, ro = 0, admin = 0;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (ch == OPT_RO)
			ro = 1;
		else if (ch == OPT_TTL)
			ttl = optarg;
		else if (ch == OPT_ADMIN)
			admin = 1;
		else if ((r = tenantctl_common_opt(ctl, cmd, ch,
		    argv)) != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, admin ? 0 : 1,
	    admin ? 0 : 1)) != CTL_EXIT_OK)
		return (r);
	if (admin && ro)
		return (tenantctl_usage_error(cmd, "--ro is for tenant "
		    "tokens; an admin token reaches everything"));
	if (!admin) {
		id = argv[optind];
		if ((r = tenantctl_check_id(cmd, id)) != CTL_EXIT_OK)
			return (r);
	}
	if (ttl != NULL && tenantctl_parse_num(ttl, 1, CTL_MAX_TTL,
	    &secs) != 0)
		return (tenantctl_usage_error(cmd, "--ttl needs a number of "
		    "seconds, from 1 to %lld (ten years)", CTL_MAX_TTL));

	body = json_object();
	json_object_set_new(body, "tenant", id != NULL ? json_string(id) :
	    json_null());
	json_object_set_new(body, "access", json_string(ro ? "ro" : "rw"));
	json_object_set_new(body, "ttl", ttl != NULL ? json_integer(secs) :
	    json_null());
	r = tenantctl_call(ctl, "POST", "/v1/tokens", body, &resp);
	json_decref(body);
	if (r != CTL_EXIT_OK)
		return (r);
	token = json_string_value(json_object_get(resp, "token"));
	if (token == NULL)
		r = tenantctl_malformed(ctl, "no \"token\" string");
	else if (ctl->json)
		output_json(stdout, resp);
	else
		printf("%s\n", token);
	json_decref(resp);
	return (r);
}

static const struct tenantctl_cmd *
tenantctl_find(const char *name)
{
	size_t	i;

	for (i = 0; i < CTL_NCMDS; i++) {
		if (strcmp(tenantctl_cmds[i].name, name) == 0)
			return (&tenantctl_cmds[i]);
	}
	return (NULL);
}

/*
 * The command named by argv[0], or by argv[0] and argv[1] for a command of
 * two words; *nwords says how many it took.  NULL if there is none.
 */
static const struct tenantctl_cmd *
tenantctl_lookup(int argc, char **argv, int *nwords)
{
	const struct tenantctl_cmd	*cmd;
	char				*two;

	if (argc >= 2) {
		xasprintf(&two, "%s %s", argv[0], argv[1]);
		cmd = tenantctl_find(two);
		free(two);
		if (cmd != NULL) {
			*nwords = 2;
			return (cmd);
		}
	}
	*nwords = 1;
	return (tenantctl_find(argv[0]));
}

/* Is word the first word of commands of two words ("schema")? */
static int
tenantctl_is_group(const char *word)
{
	size_t	i, len = strlen(word);

	for (i = 0; i < CTL_NCMDS; i++) {
		if (strncmp(tenantctl_cmds[i].name, word, len) == 0 &&
		    tenantctl_cmds[i].name[len] == ' ')
			return (1);
	}
	return (0);
}

/* The usage lines of a group's commands. */
static void
tenantctl_group_usage(FILE *fp, const char *word)
{
	size_t	i, len = strlen(word);

	fprintf(fp, "usage: tenantctl [global options] %s COMMAND\n\n"
	    "commands:\n", word);
	for (i = 0; i < CTL_NCMDS; i++) {
		if (strncmp(tenantctl_cmds[i].name, word, len) == 0 &&
		    tenantctl_cmds[i].name[len] == ' ')
			tenantctl_usage_line(fp, &tenantctl_cmds[i]);
	}
	fprintf(fp, "\nRun 'tenantctl help %s COMMAND' for its options.\n",
	    word);
}

/*
 * No command matched argv: say so and return the exit status.  A group
 * alone, or with -h or --help, shows its commands.
 */
static int
tenantctl_unknown_command(int argc, char **argv)
{
	char	*clean, *name;

	if (tenantctl_is_group(argv[0])) {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--help") == 0)) {
			tenantctl_group_usage(stdout, argv[0]);
			return (CTL_EXIT_OK);
		}
		if (argc < 2 || argv[1][0] == '-') {
			fflush(stdout);
			fprintf(stderr, "tenantctl: %s: missing command\n",
			    argv[0]);
			tenantctl_group_usage(stderr, argv[0]);
			return (CTL_EXIT_USAGE);
		}
		xasprintf(&name, "%s %s", argv[0], argv[1]);
	} else
		name = xstrdup(argv[0]);
	clean = output_clean(name);
	tenantctl_usage_error(NULL, "unknown command '%s'", clean);
	free(clean);
	free(name);
	return (CTL_EXIT_USAGE);
}

/* help [COMMAND] */
static int
tenantctl_cmd_help(struct tenantctl *ctl, const struct tenantctl_cmd *cmd,
    int argc, char **argv)
{
	static const struct option	 opts[] = {
		CTL_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	const struct tenantctl_cmd		*which;
	int				 ch, r, nwords;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = tenantctl_common_opt(ctl, cmd, ch, argv);
		if (r != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 0, 2)) != CTL_EXIT_OK)
		return (r);
	if (optind == argc) {
		tenantctl_usage(stdout);
		return (CTL_EXIT_OK);
	}
	which = tenantctl_lookup(argc - optind, argv + optind, &nwords);
	if (which == NULL && argc - optind == 1 &&
	    tenantctl_is_group(argv[optind])) {
		tenantctl_group_usage(stdout, argv[optind]);
		return (CTL_EXIT_OK);
	}
	if (which == NULL)
		return (tenantctl_unknown_command(argc - optind,
		    argv + optind));
	if (nwords != argc - optind)
		return (tenantctl_nargs(cmd, argc, argv, 0, 1));
	tenantctl_cmd_usage(stdout, which, 1);
	return (CTL_EXIT_OK);
}

/* --timeout SECS: a positive number of seconds, fractions allowed. */
static int
tenantctl_parse_timeout(struct tenantctl *ctl, const char *s)
{
	char	*end;
	double	 secs, ms;

	errno = 0;
	secs = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(secs) ||
	    secs <= 0 || secs > CTL_MAX_TIMEOUT_S)
		return (tenantctl_usage_error(NULL, "invalid timeout '%s': "
		    "expected seconds, more than 0 and at most %.0f", s,
		    CTL_MAX_TIMEOUT_S));
	/* Round up, without libm: 0.0001 s must not become 0 ms. */
	ms = secs * 1000.0;
	ctl->timeout_ms = (int)ms;
	if (ctl->timeout_ms < ms)
		ctl->timeout_ms++;
	return (CTL_EXIT_OK);
}

int
main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "data-dir", required_argument, NULL, 'D' },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "url", required_argument, NULL, OPT_URL },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct tenantctl			 ctl;
	const struct tenantctl_cmd		*cmd;
	int				 ch, r, nwords, nendpoints = 0;

	memset(&ctl, 0, sizeof ctl);
	ctl.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;
	ctl.argv0 = argv[0];

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:D:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			ctl.data = optarg;
			nendpoints |= 1;
			break;
		case OPT_SOCKET:
			ctl.socket = optarg;
			nendpoints |= 2;
			break;
		case OPT_URL:
			ctl.url = optarg;
			nendpoints |= 4;
			break;
		case OPT_JSON:
			ctl.json = 1;
			break;
		case OPT_TIMEOUT:
			if ((r = tenantctl_parse_timeout(&ctl, optarg)) != 0)
				return (r);
			break;
		case 'h':
			tenantctl_usage(stdout);
			return (CTL_EXIT_OK);
		case OPT_VERSION:
			printf("tenantctl %s\n", TENANTD_VERSION);
			return (CTL_EXIT_OK);
		default:
			return (tenantctl_opt_error(NULL, ch, argv));
		}
	}
	if (nendpoints != 0 && (nendpoints & (nendpoints - 1)) != 0)
		return (tenantctl_usage_error(NULL, "use only one of -D, "
		    "--socket and --url"));
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		tenantctl_usage(stderr);
		return (CTL_EXIT_USAGE);
	}
	if ((cmd = tenantctl_lookup(argc, argv, &nwords)) == NULL)
		return (tenantctl_unknown_command(argc, argv));

	/* A command of two words parses its options after the second. */
	tenantctl_getopt_reset();
	r = cmd->exec(&ctl, cmd, argc - (nwords - 1), argv + (nwords - 1));

	client_endpoint_clear(&ctl.ep);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tenantctl_warnx("cannot write to stdout: %s", strerror(errno));
		if (r == CTL_EXIT_OK)
			r = CTL_EXIT_REFUSED;
	}
	return (r);
}
