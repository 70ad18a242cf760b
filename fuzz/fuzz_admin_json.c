/*
 * fuzz_admin_json.c: libFuzzer target for the admin plane's untrusted
 * input in tenantd/admin.c: the POST /v1/tenants body and the query
 * strings of GET /v1/tenants and /v1/tenants/{id}/export.
 *
 * Each input is used twice:
 * - as a create body: admin_parse_create() accepts it (then the id is a
 *   valid tenant id, NUL-terminated, equal to the body's "id", and the
 *   schema is absent, "" for null, or a name of at most MIGRATE_NAME_MAX
 *   bytes without NUL) or refuses it with a reason;
 * - as a query string (up to its first NUL): admin_query_get() for each
 *   key admin.c reads, into heap buffers of the sizes admin.c uses, must
 *   agree with an independent decoder of application/x-www-form-urlencoded
 *   values ('+' is a space, %XX a byte, a malformed escape, a value too
 *   long for the buffer or one holding NUL is an error).
 * A broken promise calls abort().  Single-threaded.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tenantd.h"

#define ADMIN_EBODY	-1
#define ADMIN_EID	-2

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_admin_json: broken: %s\n", what);
		abort();
	}
}

static void
fuzz_create(const uint8_t *data, size_t size)
{
	char		 id[TID_MAX + 1], schema_buf[MIGRATE_NAME_MAX + 1];
	const char	*schema = (const char *)1, *why = NULL;
	size_t		 idlen = (size_t)-1;
	json_t		*j, *jid;
	int		 rc;

	memset(id, 'X', sizeof id);
	rc = admin_parse_create((const char *)data, size, id, &idlen, &schema,
	    schema_buf, sizeof schema_buf, &why);
	check(rc == 0 || rc == ADMIN_EBODY || rc == ADMIN_EID,
	    "admin_parse_create: unknown return code");
	if (rc != 0) {
		check(why != NULL && why[0] != '\0',
		    "admin_parse_create refused without a reason");
		return;
	}
	check(idlen <= TID_MAX && id[idlen] == '\0',
	    "admin_parse_create: id not NUL-terminated within TID_MAX");
	check(tid_valid(id, idlen), "admin_parse_create accepted a bad id");
	check(schema == NULL || schema[0] == '\0' || schema == schema_buf,
	    "admin_parse_create: schema points somewhere unexpected");
	if (schema == schema_buf)
		check(memchr(schema_buf, '\0', sizeof schema_buf) != NULL &&
		    strlen(schema_buf) <= MIGRATE_NAME_MAX,
		    "admin_parse_create: schema name too long");

	/* What was accepted is what the body says. */
	j = json_loadb((const char *)data, size, 0, NULL);
	check(j != NULL && json_is_object(j),
	    "admin_parse_create accepted a body that is not a JSON object");
	jid = json_object_get(j, "id");
	check(json_is_string(jid) && json_string_length(jid) == idlen &&
	    memcmp(json_string_value(jid), id, idlen) == 0,
	    "admin_parse_create: id differs from the body's");
	if (schema == schema_buf)
		check(strcmp(json_string_value(json_object_get(j, "schema")),
		    schema_buf) == 0,
		    "admin_parse_create: schema differs from the body's");
	json_decref(j);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * The test oracle: form-urlencoded lookup of key in q.  Returns what
 * admin_query_get should: 0 with *found, or -1.
 */
static int
oracle_get(const char *q, const char *key, char *out, size_t size,
    int *found)
{
	const char	*p = q, *end, *eq;
	size_t		 klen = strlen(key), o;
	int		 hi, lo;

	*found = 0;
	while (*p != '\0') {
		if ((end = strchr(p, '&')) == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0) {
			for (eq++, o = 0; eq < end; eq++) {
				if (o + 1 >= size)
					return (-1);
				if (*eq == '+')
					out[o++] = ' ';
				else if (*eq != '%')
					out[o++] = *eq;
				else {
					if (end - eq < 3 ||
					    (hi = hexval(eq[1])) < 0 ||
					    (lo = hexval(eq[2])) < 0)
						return (-1);
					if ((out[o++] = (char)(hi << 4 | lo)) ==
					    '\0')
						return (-1);
					eq += 2;
				}
			}
			out[o] = '\0';
			*found = 1;
			return (0);
		}
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return (0);
}

static void
fuzz_query(const char *q, const char *key, size_t size)
{
	char	*out, *want;
	int	 rc, wrc, found = -1, wfound;

	out = malloc(size);
	want = malloc(size);
	check(out != NULL && want != NULL, "malloc");
	rc = admin_query_get(q, key, out, size, &found);
	wrc = oracle_get(q, key, want, size, &wfound);
	if (rc != wrc || (rc == 0 && found != wfound) ||
	    (rc == 0 && found && strcmp(out, want) != 0)) {
		fprintf(stderr, "fuzz_admin_json: query \"%s\" key %s: got "
		    "rc %d found %d \"%s\", want rc %d found %d \"%s\"\n", q,
		    key, rc, found, rc == 0 && found ? out : "", wrc, wfound,
		    wrc == 0 && wfound ? want : "");
		abort();
	}
	if (rc == 0 && found)
		check(strlen(out) < size, "admin_query_get: value too long");
	free(out);
	free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*q;

	fuzz_create(data, size);

	/* The query string as the HTTP parser hands it over. */
	if ((q = malloc(size + 1)) == NULL)
		abort();
	memcpy(q, data, size);
	q[size] = '\0';
	fuzz_query(q, "prefix", TID_MAX + 1);
	fuzz_query(q, "after", TID_MAX + 1);
	fuzz_query(q, "limit", 16);
	fuzz_query(q, "format", 16);
	fuzz_query(q, "x", 1);
	free(q);
	return (0);
}
