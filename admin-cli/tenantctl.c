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
 * Exit statuses are a contract with scripts (CTL_EXIT_* in tenantctl.h):
 * 0 done, 1 the daemon refused (HTTP status >= 400), 2 usage error,
 * 3 no usable answer (cannot connect, timeout, malformed response).
 * Messages go to stderr as "tenantctl: ...".  The bearer token from
 * TENANTD_TOKEN is never printed.  Single-threaded.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "tenantctl.h"

#define CTL_DEFAULT_DATA	"./tenantd-data"
#define CTL_SOCKET_NAME		"tenantd.sock"
#define CTL_DEFAULT_TIMEOUT_MS	30000
#define CTL_MAX_TIMEOUT_S	86400.0
#define CTL_CONTINUE		-1	/* option parsing: keep going */

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
	OPT_ALL
};

/* What the global options and the environment chose. */
struct tenantctl {
	const char		*data;		/* -D */
	const char		*socket;	/* --socket */
	const char		*url;		/* --url */
	int			 json;		/* --json */
	int			 timeout_ms;	/* --timeout */
	const char		*token;		/* TENANTD_TOKEN, borrowed */
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
static int	tenantctl_cmd_help(struct tenantctl *,
		    const struct tenantctl_cmd *, int, char **);

static const struct tenantctl_cmd tenantctl_cmds[] = {
	{ "create", "ID [--schema S]", "create a tenant",
	  "Create tenant ID: the daemon creates its database file and\n"
	  "applies the schema's migrations up to the latest version.\n"
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
	{ "status", "", "show the daemon's status",
	  "Show the daemon's version, uptime, data directory, tenant count,\n"
	  "handles, workers, streams, and its schemas.\n",
	  tenantctl_cmd_status },
	{ "schemas", "", "list the schemas the daemon knows",
	  "List the schemas the daemon knows with their latest version.\n",
	  tenantctl_cmd_schemas },
	{ "health", "", "check that the daemon answers",
	  "Ask the daemon whether it is healthy: exit 0 if it is, 1 if it\n"
	  "answers but is not (shutting down), 3 if it does not answer.\n",
	  tenantctl_cmd_health },
	{ "help", "[COMMAND]", "show help for tenantctl or a command",
	  "Show the list of commands, or the help of COMMAND.\n",
	  tenantctl_cmd_help },
};
#define CTL_NCMDS	(sizeof tenantctl_cmds / sizeof tenantctl_cmds[0])

static void	tenantctl_warnx(const char *, ...) printflike(1, 2);

static void
tenantctl_warnx(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fputs("tenantctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
tenantctl_usage(FILE *fp)
{
	size_t	i;
	int	n;

	fprintf(fp,
	    "usage: tenantctl [-D DIR | --socket PATH | --url URL] [--json]\n"
	    "                 [--timeout SECS] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n");
	for (i = 0; i < CTL_NCMDS; i++) {
		n = fprintf(fp, "  %s %s", tenantctl_cmds[i].name,
		    tenantctl_cmds[i].args);
		if (n > 29)
			fprintf(fp, "\n%31s", "");
		else
			fprintf(fp, "%*s", 31 - n, "");
		fprintf(fp, "%s\n", tenantctl_cmds[i].summary);
	}
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
	fprintf(fp, "usage: tenantctl [global options] %s%s%s\n", cmd->name,
	    *cmd->args != '\0' ? " " : "", cmd->args);
	if (!full)
		return;
	fprintf(fp, "\n%s", cmd->help);
	if (cmd->exec == tenantctl_cmd_help)
		return;
	if (strstr(cmd->help, "\n  -") == NULL)
		fputc('\n', fp);
	fprintf(fp,
	    "  --json        print the daemon's JSON response\n"
	    "  -h, --help    show this help\n");
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
 * Send one request (body borrowed, may be NULL) and parse the JSON object
 * the daemon answers.  Returns CTL_EXIT_OK with *out set (new reference),
 * or an exit status after printing why.
 */
static int
tenantctl_call(struct tenantctl *ctl, const char *method, const char *path,
    const json_t *body, json_t **out)
{
	struct client_request	 req;
	struct client_response	 resp;
	json_error_t		 jerr;
	json_t			*root;
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

	if (resp.status >= 400) {
		tenantctl_refused(ctl, &resp);
		r = CTL_EXIT_REFUSED;
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		tenantctl_warnx("unexpected response from %s: HTTP %d",
		    ctl->ep.name, resp.status);
		r = CTL_EXIT_CONNECT;
		goto out;
	}
	root = json_loadb(resp.body, resp.bodylen, 0, &jerr);
	if (root == NULL || !json_is_object(root)) {
		tenantctl_warnx("malformed response from %s: %s", ctl->ep.name,
		    root == NULL ? "the body is not valid JSON" :
		    "the body is not a JSON object");
		json_decref(root);
		r = CTL_EXIT_CONNECT;
		goto out;
	}
	*out = root;
	r = CTL_EXIT_OK;

out:
	client_response_clear(&resp);
	return (r);
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
				    "created", "updated" };
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

/* Print a schemas array as a NAME LATEST table. */
static void
tenantctl_print_schemas(const json_t *schemas)
{
	struct output_table	*t;
	json_t			*s;
	size_t			 i;

	t = output_table_new(2, "NAME", "LATEST");
	json_array_foreach(schemas, i, s) {
		output_table_cell_json(t, json_object_get(s, "name"));
		output_table_cell_json(t, json_object_get(s, "latest"));
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

static int
tenantctl_unknown_command(const char *name)
{
	char	*clean;

	clean = output_clean(name);
	tenantctl_usage_error(NULL, "unknown command '%s'", clean);
	free(clean);
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
	int				 ch, r;

	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		r = tenantctl_common_opt(ctl, cmd, ch, argv);
		if (r != CTL_CONTINUE)
			return (r);
	}
	if ((r = tenantctl_nargs(cmd, argc, argv, 0, 1)) != CTL_EXIT_OK)
		return (r);
	if (optind == argc) {
		tenantctl_usage(stdout);
		return (CTL_EXIT_OK);
	}
	if ((which = tenantctl_find(argv[optind])) == NULL)
		return (tenantctl_unknown_command(argv[optind]));
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
	int				 ch, r, nendpoints = 0;

	memset(&ctl, 0, sizeof ctl);
	ctl.timeout_ms = CTL_DEFAULT_TIMEOUT_MS;

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
	if ((cmd = tenantctl_find(argv[0])) == NULL)
		return (tenantctl_unknown_command(argv[0]));

	tenantctl_getopt_reset();
	r = cmd->exec(&ctl, cmd, argc, argv);

	client_endpoint_clear(&ctl.ep);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		tenantctl_warnx("cannot write to stdout: %s", strerror(errno));
		if (r == CTL_EXIT_OK)
			r = CTL_EXIT_REFUSED;
	}
	return (r);
}
