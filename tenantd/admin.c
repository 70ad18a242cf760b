/*
 * admin.c: the JSON admin plane under /v1/.
 *
 * Bodies and query strings are untrusted: each field is checked and a bad
 * one gets 400 with a message naming it.  Reads (show, list, status) use
 * short LMDB read transactions on the loop; writes go through tenant.c's
 * jobs on workers.  Loop thread only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tenantd.h"
#include "token.h"

#define LIST_DEFAULT	100
#define LIST_MAX	1000

static int
method_is(struct http_req *req, const char *m)
{
	return (strcasecmp(req->method, m) == 0);
}

/*
 * Find key in a query string (untrusted) and decode its value: '+' is a
 * space, then %XX escapes.  Returns 0 (with *found 0 or 1), or -1 for a
 * malformed escape, an embedded NUL or a value longer than size - 1.
 */
int
admin_query_get(const char *query, const char *key, char *out, size_t size,
    int *found)
{
	const char	*p = query, *amp, *eq;
	size_t		 klen = strlen(key), n, i;
	char		*tmp;
	int		 rc;

	*found = 0;
	if (size == 0)
		return (-1);
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		eq = strchr(p, '=');
		if (eq != NULL && (amp == NULL || eq < amp) &&
		    (size_t)(eq - p) == klen && strncmp(p, key, klen) == 0) {
			n = amp ? (size_t)(amp - eq - 1) : strlen(eq + 1);
			tmp = xstrndup(eq + 1, n);
			for (i = 0; i < n; i++)
				if (tmp[i] == '+')
					tmp[i] = ' ';
			rc = http_pct_decode(tmp, n, out, size - 1, &n);
			free(tmp);
			if (rc != 0)
				return (-1);
			out[n] = '\0';
			if (strlen(out) != n)
				return (-1);	/* embedded NUL */
			*found = 1;
			return (0);
		}
		p = amp ? amp + 1 : NULL;
	}
	return (0);
}

static void
tenants_list(struct http_req *req)
{
	struct tenant_rec	*recs;
	size_t			 n, i;
	char			 prefix[TID_MAX + 1], after[TID_MAX + 1];
	char			 limit_s[16], *end;
	int			 found_p, found_a, found_l, more;
	long			 limit = LIST_DEFAULT;
	json_t			*obj, *arr, *t;

	req->route = ROUTE_TENANTS_LIST;
	prefix[0] = after[0] = '\0';
	if (req->query != NULL) {
		if (admin_query_get(req->query, "prefix", prefix, sizeof prefix,
		    &found_p) != 0 || (found_p && prefix[0] != '\0' &&
		    tid_error(prefix, strlen(prefix)) != NULL)) {
			http_reply_error(req, 400, "BAD_REQUEST", "prefix: must "
			    "be the start of a tenant id");
			return;
		}
		if (admin_query_get(req->query, "after", after, sizeof after,
		    &found_a) != 0 || (found_a && after[0] != '\0' &&
		    tid_error(after, strlen(after)) != NULL)) {
			http_reply_error(req, 400, "BAD_REQUEST", "after: must "
			    "be a tenant id");
			return;
		}
		if (admin_query_get(req->query, "limit", limit_s, sizeof limit_s,
		    &found_l) != 0) {
			http_reply_error(req, 400, "BAD_REQUEST", "limit: must "
			    "be a number from 1 to %d", LIST_MAX);
			return;
		}
		if (found_l) {
			limit = strtol(limit_s, &end, 10);
			if (*limit_s == '\0' || *end != '\0' || limit < 1 ||
			    strspn(limit_s, "0123456789") != strlen(limit_s) ||
			    limit > LIST_MAX) {
				http_reply_error(req, 400, "BAD_REQUEST", "limit: "
				    "must be a number from 1 to %d", LIST_MAX);
				return;
			}
		}
	}
	if (catalog_list(server_catalog, prefix, after, (int)limit, &recs, &n,
	    &more) != CATALOG_OK) {
		log_warnx("%s", catalog_strerror(server_catalog));
		http_reply_error(req, 500, "INTERNAL", "the catalog could not be "
		    "read");
		return;
	}
	obj = json_object();
	arr = json_array();
	for (i = 0; i < n; i++) {
		t = json_object();
		tenant_rec_json(&recs[i], t);
		json_array_append_new(arr, t);
	}
	json_object_set_new(obj, "tenants", arr);
	json_object_set_new(obj, "next", more && n > 0 ?
	    json_string(recs[n - 1].id) : json_null());
	free(recs);
	http_reply_json(req, 200, obj);
}

/*
 * Parse a create body {"id": "...", "schema": "..." | null} (untrusted).
 * Returns 0 with the id (TID_MAX + 1 bytes) and *schema: NULL when absent
 * (use the default), "" for null (none), else schema_buf.  Returns -1
 * (BAD_REQUEST) or -2 (INVALID_TENANT_ID) with a static *why.
 */
int
admin_parse_create(const char *body, size_t len, char *id, size_t *idlen,
    const char **schema, char *schema_buf, size_t schema_size,
    const char **why)
{
	json_error_t	 jerr;
	json_t		*root, *jid, *js;
	const char	*s;
	int		 ret = -1;

	*schema = NULL;
	*idlen = 0;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		*why = "body must be a JSON object like {\"id\": \"alice\", "
		    "\"schema\": \"notes\"}";
		goto out;
	}
	jid = json_object_get(root, "id");
	if (!json_is_string(jid)) {
		*why = "\"id\" must be a string";
		goto out;
	}
	if ((*why = tid_error(json_string_value(jid),
	    json_string_length(jid))) != NULL) {
		ret = -2;
		goto out;
	}
	*idlen = json_string_length(jid);
	memcpy(id, json_string_value(jid), *idlen);
	id[*idlen] = '\0';
	js = json_object_get(root, "schema");
	if (js != NULL && json_is_null(js))
		*schema = "";
	else if (js != NULL) {
		s = json_string_value(js);
		if (s == NULL || *s == '\0' || json_string_length(js) >
		    MIGRATE_NAME_MAX || strlen(s) != json_string_length(js) ||
		    strlen(s) >= schema_size) {
			*why = "\"schema\" must be a schema name or null";
			goto out;
		}
		memcpy(schema_buf, s, strlen(s) + 1);
		*schema = schema_buf;
	}
	ret = 0;
out:
	if (root != NULL)
		json_decref(root);
	return (ret);
}

static void
tenants_create(struct http_req *req)
{
	char		 id[TID_MAX + 1], schema_buf[MIGRATE_NAME_MAX + 1];
	const char	*schema, *why;
	size_t		 idlen;
	int		 rc;

	req->route = ROUTE_TENANTS_CREATE;
	rc = admin_parse_create(req->body, req->body_len, id, &idlen, &schema,
	    schema_buf, sizeof schema_buf, &why);
	if (rc != 0) {
		http_reply_error(req, 400, rc == -2 ? "INVALID_TENANT_ID" :
		    "BAD_REQUEST", "%s", why);
		return;
	}
	tenant_create(req, id, idlen, schema);
}

static void
tenants_get(struct http_req *req, const char *id, size_t len)
{
	struct tenant_rec	 rec;
	json_t			*obj;
	int			 rc;

	req->route = ROUTE_TENANTS_GET;
	rc = catalog_get(server_catalog, id, len, &rec);
	if (rc == CATALOG_NOTFOUND) {
		http_reply_error(req, 404, "TENANT_NOT_FOUND", "no such tenant: "
		    "%.*s", (int)len, id);
		return;
	}
	if (rc != CATALOG_OK) {
		http_reply_error(req, 500, "INTERNAL", "the catalog could not be "
		    "read");
		return;
	}
	obj = json_object();
	tenant_rec_json(&rec, obj);
	http_reply_json(req, 200, obj);
}

static json_t *
schemas_json(void)
{
	json_t		*arr = json_array();
	struct schema	*s;
	size_t		 i;

	for (i = 0; (s = schema_at(i)) != NULL; i++)
		json_array_append_new(arr, json_pack("{s:s,s:i,s:o}", "name",
		    s->name, "latest", migrate_set_latest(s->set), "edited",
		    s->edited[0] ? json_string(s->edited) : json_null()));
	return (arr);
}

/* POST /v1/schemas/reload: answered once the sets were read again. */
static void
schemas_reloaded(void *arg)
{
	http_reply_json(arg, 200, json_pack("{s:o}", "schemas",
	    schemas_json()));
}

/*
 * GET /v1/schemas/{name}: the files (version, file, checksum, down file)
 * and how many tenants sit at each version.  The counts walk the
 * catalog's (schema, version) index, which with a large fleet takes long
 * enough to belong on a worker.
 */
struct schema_show_op {
	struct job	 job;
	struct http_req	*req;
	struct schema	*s;
	size_t		*counts;	/* [0..latest], then all versions */
	int		 latest;
};

static void
schema_show_run(struct job *j)
{
	struct schema_show_op	*op = (struct schema_show_op *)j;
	int			 v;

	for (v = 0; v <= op->latest + 1; v++)
		if (catalog_count_schema(server_catalog, op->s->name,
		    v <= op->latest ? v : -1, &op->counts[v]) != CATALOG_OK)
			op->counts[v] = 0;
}

static void
schema_show_done(struct job *j)
{
	struct schema_show_op		*op = (struct schema_show_op *)j;
	const struct migrate_step	*st;
	json_t				*o, *files, *counts;
	size_t				 total = 0;
	int				 v;
	char				 key[16];

	files = json_array();
	counts = json_object();
	for (v = 1; v <= op->latest; v++) {
		st = migrate_set_step(op->s->set, v);
		json_array_append_new(files, json_pack("{s:i,s:s,s:s,s:o}",
		    "version", v, "file", st->file, "checksum", st->checksum,
		    "down", st->down_file ? json_string(st->down_file) :
		    json_null()));
	}
	for (v = 0; v <= op->latest; v++) {
		total += op->counts[v];
		snprintf(key, sizeof key, "%d", v);
		json_object_set_new(counts, key, json_integer((json_int_t)
		    op->counts[v]));
	}
	if (op->counts[op->latest + 1] > total)
		json_object_set_new(counts, "other", json_integer((json_int_t)
		    (op->counts[op->latest + 1] - total)));
	o = json_pack("{s:s,s:i,s:o,s:o,s:o}", "name", op->s->name, "latest",
	    op->latest, "edited", op->s->edited[0] ?
	    json_string(op->s->edited) : json_null(), "files", files,
	    "tenants_by_version", counts);
	http_reply_json(op->req, 200, o);
	schema_unref(op->s);
	free(op->counts);
	free(op);
}

static void
schema_show(struct http_req *req, const char *name)
{
	struct schema_show_op	*op;
	struct schema		*s;

	req->route = ROUTE_SCHEMAS;
	if ((s = schema_get(name)) == NULL) {
		http_reply_error(req, 404, "SCHEMA_NOT_FOUND", "there is no "
		    "schema named \"%s\"", name);
		return;
	}
	op = xcalloc(1, sizeof *op);
	op->req = req;
	op->s = s;
	op->latest = migrate_set_latest(s->set);
	op->counts = xcalloc((size_t)op->latest + 2, sizeof *op->counts);
	op->job.run = schema_show_run;
	op->job.done = schema_show_done;
	worker_push(&op->job);
}

static void
serve_status(struct http_req *req)
{
	json_t	*obj;

	req->route = ROUTE_STATUS;
	obj = json_object();
	json_object_set_new(obj, "version", json_string(TENANTD_VERSION));
	json_object_set_new(obj, "uptime_s", json_integer((json_int_t)
	    ((time_now_ms() - server_start_ms) / 1000)));
	json_object_set_new(obj, "data_dir", json_string(cfg.data_dir));
	json_object_set_new(obj, "tenants", json_integer((json_int_t)
	    catalog_count(server_catalog)));
	json_object_set_new(obj, "open_handles", json_integer(
	    (json_int_t)cache_open_handles));
	json_object_set_new(obj, "cached_handles", json_integer((json_int_t)
	    cache_count()));
	json_object_set_new(obj, "max_open", json_integer(cfg.max_open));
	json_object_set_new(obj, "workers", json_integer(worker_count()));
	json_object_set_new(obj, "streams", json_integer((json_int_t)
	    stream_count()));
	json_object_set_new(obj, "connections", json_integer((json_int_t)
	    http_conn_count()));
	json_object_set_new(obj, "rollouts_running", json_integer((json_int_t)
	    rollout_running()));
	json_object_set_new(obj, "schemas", schemas_json());
	http_reply_json(req, 200, obj);
}

static void
export_route(struct http_req *req, const char *id, size_t len)
{
	char	format[16];
	int	found = 0;

	req->route = ROUTE_EXPORT;
	if (!method_is(req, "GET")) {
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET");
		return;
	}
	format[0] = '\0';
	if (req->query != NULL && admin_query_get(req->query, "format", format,
	    sizeof format, &found) != 0)
		found = -1;
	if (found && strcmp(format, "sqlite") != 0 && strcmp(format, "sql") != 0) {
		http_reply_error(req, 400, "BAD_REQUEST", "format: must be "
		    "\"sqlite\" (a database file) or \"sql\" (a text dump)");
		return;
	}
	export_start(req, id, len, found && strcmp(format, "sql") == 0);
}

/*
 * POST /v1/tokens {"tenant": "alice" | null, "access": "rw" | "ro",
 * "ttl": seconds | null}: a signed token; tenant null means an admin token.
 */
static void
tokens_create(struct http_req *req)
{
	struct token_claims	 c;
	struct tenant_rec	 rec;
	json_error_t		 jerr;
	json_t			*body, *jt, *ja, *jttl, *out;
	const char		*tenant = NULL, *access = "rw", *why = NULL;
	char			*tok, ts[40];
	json_int_t		 ttl = 0;

	req->route = ROUTE_TOKENS;
	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (body == NULL || !json_is_object(body)) {
		if (body != NULL)
			json_decref(body);
		http_reply_error(req, 400, "BAD_REQUEST", "body must be a JSON "
		    "object like {\"tenant\": \"alice\", \"access\": \"ro\", "
		    "\"ttl\": 3600}");
		return;
	}
	memset(&c, 0, sizeof c);
	jt = json_object_get(body, "tenant");
	ja = json_object_get(body, "access");
	jttl = json_object_get(body, "ttl");
	if (jt != NULL && !json_is_null(jt)) {
		if (!json_is_string(jt) || (why = tid_error(json_string_value(jt),
		    json_string_length(jt))) != NULL) {
			json_decref(body);
			http_reply_error(req, 400, "INVALID_TENANT_ID", "tenant: %s",
			    jt && json_is_string(jt) ? why : "must be a string");
			return;
		}
		tenant = json_string_value(jt);
	}
	if (ja != NULL && !json_is_null(ja)) {
		access = json_string_value(ja);
		if (access == NULL || (strcmp(access, "ro") != 0 &&
		    strcmp(access, "rw") != 0)) {
			json_decref(body);
			http_reply_error(req, 400, "BAD_REQUEST", "access: must be "
			    "\"ro\" or \"rw\"");
			return;
		}
	}
	if (jttl != NULL && !json_is_null(jttl)) {
		if (!json_is_integer(jttl) || json_integer_value(jttl) < 1 ||
		    json_integer_value(jttl) > 10LL * 365 * 86400) {
			json_decref(body);
			http_reply_error(req, 400, "BAD_REQUEST", "ttl: must be a "
			    "number of seconds (at most ten years)");
			return;
		}
		ttl = json_integer_value(jttl);
	}
	if (tenant != NULL && catalog_get(server_catalog, tenant,
	    strlen(tenant), &rec) != CATALOG_OK) {
		http_reply_error(req, 404, "TENANT_NOT_FOUND", "no such tenant: %s",
		    tenant);
		json_decref(body);
		return;
	}
	c.iat = (int64_t)(time_now_ms() / 1000);
	c.exp = ttl > 0 ? c.iat + ttl : 0;
	if (tenant == NULL)
		c.kind = TOKEN_ADMIN;
	else {
		c.kind = strcmp(access, "ro") == 0 ? TOKEN_TENANT_RO :
		    TOKEN_TENANT_RW;
		strlcpy_x(c.tenant, tenant, sizeof c.tenant);
	}
	if ((tok = auth_sign(&c)) == NULL) {
		json_decref(body);
		http_reply_error(req, 500, "INTERNAL", "the token could not be "
		    "signed");
		return;
	}
	out = json_object();
	json_object_set_new(out, "token", json_string(tok));
	json_object_set_new(out, "tenant", tenant ? json_string(tenant) :
	    json_null());
	json_object_set_new(out, "access", json_string(tenant ? access :
	    "admin"));
	if (c.exp != 0) {
		time_format_iso(c.exp * 1000, ts, sizeof ts);
		json_object_set_new(out, "expires", json_string(ts));
	} else
		json_object_set_new(out, "expires", json_null());
	log_info("token created: %s%s%s", tenant ? "tenant " : "admin",
	    tenant ? tenant : "", tenant ? (strcmp(access, "ro") == 0 ?
	    " (read-only)" : " (read-write)") : "");
	free(tok);
	json_decref(body);
	http_reply_json(req, 201, out);
}

static void
import_route(struct http_req *req, const char *id, size_t len)
{
	char	replace[8], schema[MIGRATE_NAME_MAX + 2];
	int	found_r = 0, found_s = 0;

	req->route = ROUTE_IMPORT;
	if (!method_is(req, "PUT")) {
		http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use PUT with "
		    "the file as the body");
		return;
	}
	replace[0] = schema[0] = '\0';
	if (req->query != NULL && (admin_query_get(req->query, "replace",
	    replace, sizeof replace, &found_r) != 0 ||
	    admin_query_get(req->query, "schema", schema, sizeof schema,
	    &found_s) != 0 || (found_r && strcmp(replace, "true") != 0 &&
	    strcmp(replace, "false") != 0) || strlen(schema) >
	    MIGRATE_NAME_MAX)) {
		http_reply_error(req, 400, "BAD_REQUEST", "query: replace must be "
		    "true or false, schema a schema name (or empty for none)");
		return;
	}
	import_start(req, id, len, found_r && strcmp(replace, "true") == 0,
	    found_s ? schema : NULL);
}

/* Route a request whose path starts with /v1. */
void
admin_route(struct http_req *req, const char *path, size_t len)
{
	char		 id[TID_MAX * 3 + 1];
	const char	*why, *rest;
	size_t		 idlen;

	if (strcmp(path, "/v1/tenants") == 0 ||
	    strcmp(path, "/v1/tenants/") == 0) {
		if (method_is(req, "POST"))
			tenants_create(req);
		else if (method_is(req, "GET"))
			tenants_list(req);
		else
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET "
			    "or POST on /v1/tenants");
		return;
	}
	if (strncmp(path, "/v1/tenants/", 12) == 0) {
		const char *sub;
		rest = path + 12;
		if ((sub = strchr(rest, '/')) != NULL &&
		    strcmp(sub, "/export") != 0 && strcmp(sub, "/import") != 0 &&
		    strcmp(sub, "/check") != 0) {
			http_reply_error(req, 404, "NOT_FOUND", "no such route");
			return;
		}
		if (http_pct_decode(rest, sub ? (size_t)(sub - rest) :
		    strlen(rest), id, sizeof id - 1, &idlen) != 0) {
			http_reply_error(req, 400, "INVALID_TENANT_ID", "tenant "
			    "id is not correctly percent-encoded");
			return;
		}
		if ((why = tid_error(id, idlen)) != NULL) {
			http_reply_error(req, 400, "INVALID_TENANT_ID", "%s", why);
			return;
		}
		if (sub != NULL && strcmp(sub, "/check") == 0) {
			req->route = ROUTE_TENANTS_GET;
			if (!method_is(req, "GET"))
				http_reply_error(req, 405, "METHOD_NOT_ALLOWED",
				    "use GET");
			else
				tenant_check(req, id, idlen);
			return;
		}
		if (sub != NULL && strcmp(sub, "/import") == 0) {
			import_route(req, id, idlen);
			return;
		}
		if (sub != NULL) {
			export_route(req, id, idlen);
			return;
		}
		if (method_is(req, "GET"))
			tenants_get(req, id, idlen);
		else if (method_is(req, "DELETE")) {
			req->route = ROUTE_TENANTS_DELETE;
			tenant_delete(req, id, idlen);
		} else
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET "
			    "or DELETE on /v1/tenants/{id}");
		return;
	}
	if (strcmp(path, "/v1/migrations") == 0 ||
	    strncmp(path, "/v1/migrations/", 15) == 0) {
		rollout_route(req, path + 14);
		return;
	}
	if (strcmp(path, "/v1/backups") == 0 ||
	    strncmp(path, "/v1/backups/", 12) == 0) {
		backup_route(req, path + 11);
		return;
	}
	if (strcmp(path, "/v1/tokens") == 0) {
		if (!method_is(req, "POST")) {
			req->route = ROUTE_TOKENS;
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use POST");
			return;
		}
		tokens_create(req);
		return;
	}
	if (strcmp(path, "/v1/schemas/reload") == 0) {
		req->route = ROUTE_SCHEMAS;
		if (!method_is(req, "POST")) {
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use POST");
			return;
		}
		schema_reload(schemas_reloaded, req);
		return;
	}
	if (strncmp(path, "/v1/schemas/", 12) == 0) {
		if (!method_is(req, "GET")) {
			req->route = ROUTE_SCHEMAS;
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET");
			return;
		}
		schema_show(req, path + 12);
		return;
	}
	if (strcmp(path, "/v1/schemas") == 0) {
		req->route = ROUTE_SCHEMAS;
		if (!method_is(req, "GET")) {
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET");
			return;
		}
		http_reply_json(req, 200, json_pack("{s:o}", "schemas",
		    schemas_json()));
		return;
	}
	if (strcmp(path, "/v1/status") == 0) {
		if (!method_is(req, "GET")) {
			http_reply_error(req, 405, "METHOD_NOT_ALLOWED", "use GET");
			return;
		}
		serve_status(req);
		return;
	}
	(void)len;
	http_reply_error(req, 404, "NOT_FOUND", "no such route");
}
