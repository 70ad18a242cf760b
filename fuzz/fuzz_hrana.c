/*
 * fuzz_hrana.c: libFuzzer target for the Hrana pipeline decoder and the
 * JSON encoders in tenantd/hrana.c.
 *
 * Each input is a pipeline request body, as a client would POST it to
 * /v2/pipeline or /v3/pipeline.  The target checks, and abort()s when one
 * does not hold:
 * - hrana_decode_pipeline() accepts or refuses; a refusal comes with a
 *   message and leaves the pipeline empty; the message, wrapped by
 *   hrana_put_error() as the daemon answers it, is valid JSON;
 * - Hrana 3 accepts everything Hrana 2 accepts;
 * - a decoded pipeline is well formed (exactly one of sql and sql_id,
 *   batch conditions refer only to earlier steps);
 * - every value that decoded, encoded again with hrana_put_value() and
 *   decoded a second time, comes back equal;
 * - the raw input bytes through hrana_put_str() give JSON that jansson
 *   reads back (to the same bytes when the input is valid UTF-8), through
 *   hrana_put_blob() give base64 that decodes to the same bytes, and the
 *   first 8 bytes as a double or int64 round-trip through
 *   hrana_put_double() and hrana_put_int_str().
 * ASan, UBSan and LeakSanitizer catch the rest.  Single-threaded.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tenantd.h"

#define FUZZ_MAX_VALUES	512	/* values re-encoded per input */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct valref {
	const struct hrana_value	*v;
	const char			*name;	/* named argument, or NULL */
};

struct vals {
	struct valref	items[FUZZ_MAX_VALUES];
	size_t		n;
};

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_hrana: broken: %s\n", what);
		abort();
	}
}

/* Parse out[0..len) as one JSON value (strings may hold NUL).  New ref. */
static json_t *
parse_any(const struct buf *b)
{
	json_error_t	 jerr;
	json_t		*j;

	j = json_loadb(b->p, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (j == NULL)
		fprintf(stderr, "fuzz_hrana: encoder wrote bad JSON: %s: %.*s\n",
		    jerr.text, (int)(b->len > 200 ? 200 : b->len), b->p);
	return (j);
}

static void
collect_stmt(struct vals *vs, const struct hrana_stmt *s)
{
	size_t	i;

	check((s->sql == NULL) != (s->has_sql_id == 0),
	    "stmt has both or neither of sql and sql_id");
	for (i = 0; i < s->nargs && vs->n < FUZZ_MAX_VALUES; i++) {
		vs->items[vs->n].v = &s->args[i];
		vs->items[vs->n++].name = NULL;
	}
	for (i = 0; i < s->nnamed && vs->n < FUZZ_MAX_VALUES; i++) {
		check(s->named[i].name != NULL, "named arg without a name");
		vs->items[vs->n].v = &s->named[i].value;
		vs->items[vs->n++].name = s->named[i].name;
	}
}

static void
check_cond(const struct hrana_cond *c, size_t stepidx, int depth)
{
	size_t	i;

	check(depth <= 64, "condition tree deeper than the decoder allows");
	switch (c->type) {
	case HC_OK:
	case HC_ERROR:
		check(c->step < stepidx, "condition refers to a later step");
		check(c->nkids == 0, "ok/error condition with children");
		break;
	case HC_NOT:
		check(c->nkids == 1, "not condition without one child");
		break;
	case HC_AND:
	case HC_OR:
	case HC_AUTOCOMMIT:
		break;
	default:
		check(0, "unknown condition type");
	}
	for (i = 0; i < c->nkids; i++)
		check_cond(&c->kids[i], stepidx, depth + 1);
}

/* Walk a decoded pipeline, checking its shape and collecting values. */
static void
walk(const struct hrana_pipeline *p, struct vals *vs)
{
	const struct hrana_req	*r;
	size_t			 i, k;

	check(p->doc.v != NULL && p->doc.nv > 0, "decoded pipeline without its JSON document");
	check(p->nreqs == 0 || p->reqs != NULL, "requests missing");
	for (i = 0; i < p->nreqs; i++) {
		r = &p->reqs[i];
		check(strcmp(hrana_rtype_name(r->type), "unknown") != 0,
		    "request type has no name");
		switch (r->type) {
		case HR_EXECUTE:
			collect_stmt(vs, &r->stmt);
			break;
		case HR_BATCH:
			for (k = 0; k < r->nsteps; k++) {
				if (r->steps[k].cond != NULL)
					check_cond(r->steps[k].cond, k, 0);
				collect_stmt(vs, &r->steps[k].stmt);
			}
			break;
		case HR_SEQUENCE:
		case HR_DESCRIBE:
			check((r->sql == NULL) != (r->has_sql_id == 0),
			    "sequence/describe has both or neither of sql and "
			    "sql_id");
			break;
		case HR_STORE_SQL:
			check(r->sql != NULL && r->has_sql_id,
			    "store_sql without sql and sql_id");
			break;
		case HR_CLOSE_SQL:
			check(r->has_sql_id, "close_sql without sql_id");
			break;
		case HR_GET_AUTOCOMMIT:
			check(p->version >= 3, "get_autocommit on Hrana 2");
			break;
		}
	}
}

static int
value_eq(const struct hrana_value *a, const struct hrana_value *b)
{
	if (a->type != b->type)
		return (0);
	switch (a->type) {
	case HV_NULL:
		return (1);
	case HV_INTEGER:
		return (a->i == b->i);
	case HV_FLOAT:
		return (a->f == b->f);	/* -0.0 may come back as 0 */
	case HV_TEXT:
	case HV_BLOB:
		return (a->len == b->len && (a->len == 0 ||
		    memcmp(a->s, b->s, a->len) == 0));
	}
	return (0);
}

/* Encode every collected value, decode them again, compare. */
static void
roundtrip_values(const struct vals *vs)
{
	struct hrana_pipeline	 p2;
	struct buf		 b;
	const struct hrana_stmt	*s;
	char			 err[512];
	size_t			 i, ia = 0, in = 0;

	if (vs->n == 0)
		return;
	buf_init(&b, 256);
	buf_adds(&b, "{\"requests\":[{\"type\":\"execute\",\"stmt\":{"
	    "\"sql\":\"x\",\"args\":[");
	for (i = 0, ia = 0; i < vs->n; i++) {
		if (vs->items[i].name != NULL)
			continue;
		if (ia++ > 0)
			buf_add(&b, ",", 1);
		hrana_put_value(&b, vs->items[i].v);
	}
	buf_adds(&b, "],\"named_args\":[");
	for (i = 0, in = 0; i < vs->n; i++) {
		if (vs->items[i].name == NULL)
			continue;
		if (in++ > 0)
			buf_add(&b, ",", 1);
		buf_adds(&b, "{\"name\":");
		hrana_put_str(&b, vs->items[i].name, strlen(vs->items[i].name));
		buf_adds(&b, ",\"value\":");
		hrana_put_value(&b, vs->items[i].v);
		buf_add(&b, "}", 1);
	}
	buf_adds(&b, "]}}]}");

	if (hrana_decode_pipeline(b.p, b.len, 3, &p2, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_hrana: re-encoded values do not decode: "
		    "%s\n", err);
		abort();
	}
	check(p2.nreqs == 1 && p2.reqs[0].type == HR_EXECUTE,
	    "re-encoded pipeline has the wrong shape");
	s = &p2.reqs[0].stmt;
	check(s->nargs == ia && s->nnamed == in,
	    "re-encoded values: count differs");
	for (i = 0, ia = 0, in = 0; i < vs->n; i++) {
		if (vs->items[i].name == NULL)
			check(value_eq(vs->items[i].v, &s->args[ia++]),
			    "value changed through encode and decode");
		else {
			check(strcmp(vs->items[i].name, s->named[in].name) == 0,
			    "named arg name changed through encode and decode");
			check(value_eq(vs->items[i].v, &s->named[in++].value),
			    "named value changed through encode and decode");
		}
	}
	hrana_pipeline_free(&p2);
	buf_free(&b);
}

/* The decoder's refusal as the daemon sends it must be JSON. */
static void
check_error_reply(const char *err)
{
	struct buf	 b;
	json_t		*j;

	check(err[0] != '\0', "refused without a message");
	buf_init(&b, 128);
	hrana_put_error(&b, err, "HRANA_PROTO_ERROR");
	j = parse_any(&b);
	check(j != NULL && json_is_object(j), "error reply is not an object");
	check(json_is_string(json_object_get(j, "message")),
	    "error reply without a message");
	json_decref(j);
	buf_free(&b);
}

static void
check_empty(const struct hrana_pipeline *p)
{
	check(p->doc.v == NULL && p->reqs == NULL && p->nreqs == 0 &&
	    p->baton == NULL, "refused pipeline not left empty");
}

/* The raw bytes through the encoders. */
static void
encoders(const uint8_t *data, size_t size)
{
	struct buf	 b;
	json_t		*j, *exact;
	unsigned char	*raw;
	size_t		 rawlen;
	double		 d;
	int64_t		 v;
	char		*end;

	/* Text: always JSON; unchanged when the input is valid UTF-8. */
	buf_init(&b, 0);
	hrana_put_str(&b, (const char *)data, size);
	check((j = parse_any(&b)) != NULL && json_is_string(j),
	    "hrana_put_str did not write a JSON string");
	if ((exact = json_stringn((const char *)data, size)) != NULL) {
		check(json_string_length(j) == size && (size == 0 ||
		    memcmp(json_string_value(j), data, size) == 0),
		    "hrana_put_str changed valid UTF-8");
		json_decref(exact);
	}
	json_decref(j);
	buf_free(&b);

	/* Blob: padded base64 of exactly these bytes. */
	buf_init(&b, 0);
	hrana_put_blob(&b, data, size);
	check((j = parse_any(&b)) != NULL && json_is_string(j),
	    "hrana_put_blob did not write a JSON string");
	check(b64_decode(json_string_value(j), json_string_length(j), &raw,
	    &rawlen) == 0, "hrana_put_blob wrote bad base64");
	check(rawlen == size && (size == 0 || memcmp(raw, data, size) == 0),
	    "hrana_put_blob base64 does not decode to the input");
	free(raw);
	json_decref(j);
	buf_free(&b);

	if (size < 8)
		return;

	/* Float: a JSON number equal to d; NaN and infinities by rule. */
	memcpy(&d, data, sizeof d);
	buf_init(&b, 0);
	hrana_put_double(&b, d);
	if (isnan(d))
		check(b.len == 4 && memcmp(b.p, "null", 4) == 0,
		    "NaN not written as null");
	else if (isinf(d))
		check(b.len == (d > 0 ? 5u : 6u) && memcmp(b.p, d > 0 ? "1e999" :
		    "-1e999", b.len) == 0, "infinity not written as 1e999");
	else {
		check((j = parse_any(&b)) != NULL && json_is_number(j),
		    "hrana_put_double did not write a number");
		check(json_number_value(j) == d,
		    "hrana_put_double does not round-trip");
		json_decref(j);
	}
	buf_free(&b);

	/* Integer: a decimal string. */
	memcpy(&v, data, sizeof v);
	buf_init(&b, 0);
	hrana_put_int_str(&b, v);
	check((j = parse_any(&b)) != NULL && json_is_string(j),
	    "hrana_put_int_str did not write a string");
	check(strtoll(json_string_value(j), &end, 10) == v && *end == '\0',
	    "hrana_put_int_str does not round-trip");
	json_decref(j);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hrana_pipeline	 p2, p3;
	struct vals		*vs;
	char			 err2[512], err3[512];
	int			 rc2, rc3;

	err2[0] = err3[0] = '\0';
	rc2 = hrana_decode_pipeline((const char *)data, size, 2, &p2, err2,
	    sizeof err2);
	rc3 = hrana_decode_pipeline((const char *)data, size, 3, &p3, err3,
	    sizeof err3);
	check(rc2 == 0 || rc2 == -1, "v2: return code not 0 or -1");
	check(rc3 == 0 || rc3 == -1, "v3: return code not 0 or -1");
	check(rc2 != 0 || rc3 == 0, "Hrana 3 refused what Hrana 2 accepted");

	if (rc2 != 0) {
		check_empty(&p2);
		check_error_reply(err2);
	} else {
		check(p2.version == 2, "v2 pipeline has the wrong version");
		vs = calloc(1, sizeof *vs);
		check(vs != NULL, "calloc");
		walk(&p2, vs);
		free(vs);
		hrana_pipeline_free(&p2);
	}
	if (rc3 != 0) {
		check_empty(&p3);
		check_error_reply(err3);
	} else {
		check(p3.version == 3, "v3 pipeline has the wrong version");
		vs = calloc(1, sizeof *vs);
		check(vs != NULL, "calloc");
		walk(&p3, vs);
		roundtrip_values(vs);
		free(vs);
		hrana_pipeline_free(&p3);
	}

	encoders(data, size);
	return (0);
}
