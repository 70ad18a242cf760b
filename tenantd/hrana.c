/*
 * hrana.c: decoding Hrana pipeline requests and encoding their results.
 *
 * Decoding turns an untrusted JSON body into struct hrana_pipeline and
 * rejects anything malformed with a message (the caller answers 400
 * HRANA_PROTO_ERROR and runs nothing): a pipeline is validated whole
 * before any of it executes.  Unknown fields are ignored, as the spec
 * asks.  The body is read by jsonr.c; strings stay borrowed from its
 * document, which the pipeline keeps; blobs are decoded into owned
 * buffers.
 *
 * Encoding writes JSON straight into a struct buf (no intermediate tree):
 * integers as decimal strings, blobs in padded standard base64, floats as
 * JSON numbers, text escaped and always valid UTF-8.
 *
 * Decoding runs on the loop, encoding on workers; nothing here is shared.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

#define HRANA_MAX_REQS		1024
#define HRANA_MAX_STEPS		4096
#define HRANA_MAX_ARGS		32766
#define HRANA_MAX_COND_DEPTH	32

/* --- struct buf ------------------------------------------------------ */

void
buf_init(struct buf *b, size_t cap)
{
	b->cap = cap ? cap : 256;
	b->p = xmalloc(b->cap);
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
buf_reserve(struct buf *b, size_t n)
{
	if (n > b->cap - b->len)
		buf_grow(b, n);
}

/* Make room for n more bytes (buf_add's slow path). */
void
buf_grow(struct buf *b, size_t n)
{
	size_t	cap;

	if (n > SIZE_MAX / 2 - b->len)
		fatalx("buf: %zu bytes more than %zu is too much", n, b->len);
	for (cap = b->cap ? b->cap : 256; cap < b->len + n; cap *= 2)
		;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

/* Formats once when the text fits what is left of the buffer. */
void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	size_t	room;
	int	n;

	buf_reserve(b, 64);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("buf_addf: bad format");
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* v in decimal, without printf (a result carries several per row). */
void
buf_add_int(struct buf *b, int64_t v)
{
	char		 tmp[24], *p = tmp + sizeof tmp;
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* --- encoding ---------------------------------------------------------- */

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid:
 * no overlong forms, no surrogates, nothing past U+10FFFF.  jsonr.c too. */
size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t	cp;
	size_t		len, i;

	if (s[0] < 0x80)
		return (1);
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return (0);
	return (len);
}

/* Append s as a JSON string; invalid UTF-8 becomes U+FFFD. */
void
hrana_put_str(struct buf *b, const char *str, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, run, l;

	buf_reserve(b, n + 2);
	b->p[b->len++] = '"';
	while (i < n) {
		/* Copy the longest run that needs no escaping. */
		for (run = i; run < n && s[run] >= 0x20 && s[run] < 0x80 &&
		    s[run] != '"' && s[run] != '\\'; run++)
			;
		if (run > i) {
			buf_add(b, s + i, run - i);
			i = run;
			continue;
		}
		if (s[i] >= 0x80) {
			if ((l = utf8_seq(s + i, n - i)) == 0) {
				buf_add(b, "\xef\xbf\xbd", 3);
				i++;
			} else {
				buf_add(b, s + i, l);
				i += l;
			}
			continue;
		}
		switch (s[i]) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		default: {
			char	esc[6] = { '\\', 'u', '0', '0',
			    hex[s[i] >> 4], hex[s[i] & 15] };
			buf_add(b, esc, 6);
		}
		}
		i++;
	}
	buf_add(b, "\"", 1);
}

void
hrana_put_int_str(struct buf *b, int64_t v)
{
	buf_add(b, "\"", 1);
	buf_add_int(b, v);
	buf_add(b, "\"", 1);
}

/* A JSON number that round-trips; infinities as +-1e999 (JSON.parse
 * reads them back as Infinity), NaN cannot come out of SQLite. */
void
hrana_put_double(struct buf *b, double d)
{
	char	tmp[32];
	int	n;

	if (isnan(d)) {
		buf_adds(b, "null");
		return;
	}
	if (isinf(d)) {
		buf_adds(b, d > 0 ? "1e999" : "-1e999");
		return;
	}
	n = snprintf(tmp, sizeof tmp, "%.17g", d);
	/* Shortest form that still round-trips. */
	for (int prec = 1; prec < 17; prec++) {
		char	 t2[32];
		int	 n2 = snprintf(t2, sizeof t2, "%.*g", prec, d);
		if (strtod(t2, NULL) == d) {
			memcpy(tmp, t2, (size_t)n2 + 1);
			n = n2;
			break;
		}
	}
	buf_add(b, tmp, (size_t)n);
}

void
hrana_put_blob(struct buf *b, const void *p, size_t n)
{
	size_t	elen = b64_encoded_len(n);

	buf_reserve(b, elen + 3);
	b->p[b->len++] = '"';
	b->len += b64_encode(p, n, b->p + b->len, 1);
	b->p[b->len++] = '"';
}

/* {"message": msg, "code": code} */
void
hrana_put_error(struct buf *b, const char *msg, const char *code)
{
	buf_adds(b, "{\"message\":");
	hrana_put_str(b, msg, strlen(msg));
	buf_adds(b, ",\"code\":");
	hrana_put_str(b, code, strlen(code));
	buf_add(b, "}", 1);
}

void
hrana_put_value(struct buf *b, const struct hrana_value *v)
{
	switch (v->type) {
	case HV_NULL:
		buf_adds(b, "{\"type\":\"null\"}");
		break;
	case HV_INTEGER:
		buf_adds(b, "{\"type\":\"integer\",\"value\":");
		hrana_put_int_str(b, v->i);
		buf_add(b, "}", 1);
		break;
	case HV_FLOAT:
		buf_adds(b, "{\"type\":\"float\",\"value\":");
		hrana_put_double(b, v->f);
		buf_add(b, "}", 1);
		break;
	case HV_TEXT:
		buf_adds(b, "{\"type\":\"text\",\"value\":");
		hrana_put_str(b, v->s, v->len);
		buf_add(b, "}", 1);
		break;
	case HV_BLOB:
		buf_adds(b, "{\"type\":\"blob\",\"base64\":");
		hrana_put_blob(b, v->blob, v->len);
		buf_add(b, "}", 1);
		break;
	}
}

/* --- decoding ---------------------------------------------------------- */

struct dec {
	char	*err;
	size_t	 errlen;
	int	 version;
};

static int __attribute__((format(printf, 2, 3)))
dec_fail(struct dec *d, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(d->err, d->errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

/* A string field without embedded NUL bytes (used for names and tags, so a
 * "type" of "execute\u0000x" is not taken for "execute"), or NULL. */
static const char *
dec_name(const struct jv *j)
{
	if (j == NULL || j->type != JV_STR || strlen(j->u.s) != j->n)
		return (NULL);
	return (j->u.s);
}

/* A field that may be absent or null; returns NULL in both cases. */
static const struct jv *
dec_opt(const struct jv *obj, const char *key)
{
	const struct jv	*v = jv_get(obj, key);

	return (v == NULL || v->type == JV_NULL ? NULL : v);
}

#define is_type(j, t)	((j) != NULL && (j)->type == (t))
#define is_str(j)	is_type(j, JV_STR)
#define is_int(j)	is_type(j, JV_INT)
#define is_arr(j)	is_type(j, JV_ARR)
#define is_obj(j)	is_type(j, JV_OBJ)
#define is_num(j)	((j) != NULL && ((j)->type == JV_INT || \
			    (j)->type == JV_REAL))
#define is_bool(j)	((j) != NULL && ((j)->type == JV_TRUE || \
			    (j)->type == JV_FALSE))

/* Iterate over the elements of array a (n of them). */
#define jv_foreach(a, i, e) \
	for ((i) = 0, (e) = jv_first(a); (i) < (a)->n; (i)++, (e) = jv_next(e))

/*
 * "<where><what><i>" into out, where a message may need it: every request
 * and argument gets one, so without printf (it was ~1% of a point select).
 */
static void
where_at(char *out, size_t size, const char *where, const char *what,
    size_t i)
{
	char	 num[24], *p = num + sizeof num;
	size_t	 a = strlen(where), b = strlen(what), c;

	do {
		*--p = (char)('0' + i % 10);
		i /= 10;
	} while (i != 0);
	c = (size_t)(num + sizeof num - p);
	if (a + b + c >= size) {	/* cannot happen with our sizes */
		snprintf(out, size, "%s%s%.*s", where, what, (int)c, p);
		return;
	}
	memcpy(out, where, a);
	memcpy(out + a, what, b);
	memcpy(out + a + b, p, c);
	out[a + b + c] = '\0';
}

static int
dec_int64_str(const char *s, size_t len, int64_t *out)
{
	char		tmp[24], *end;
	long long	v;

	if (len == 0 || len >= sizeof tmp)
		return (-1);
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!(tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9')))
		return (-1);
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno != 0 || end != tmp + len)	/* also catches an embedded NUL */
		return (-1);
	*out = v;
	return (0);
}

static int
dec_value(struct dec *d, const struct jv *j, struct hrana_value *v,
    const char *where)
{
	const char	*type;
	const struct jv	*val;

	memset(v, 0, sizeof *v);
	if (!is_obj(j))
		return (dec_fail(d, "%s: a value must be an object", where));
	if ((type = dec_name(jv_get(j, "type"))) == NULL)
		return (dec_fail(d, "%s: value without a \"type\"", where));
	if (strcmp(type, "null") == 0) {
		v->type = HV_NULL;
		return (0);
	}
	if (strcmp(type, "integer") == 0) {
		v->type = HV_INTEGER;
		val = jv_get(j, "value");
		if (is_str(val)) {
			if (dec_int64_str(val->u.s, val->n, &v->i) != 0)
				return (dec_fail(d, "%s: integer value is not "
				    "a decimal 64-bit integer", where));
		} else if (is_int(val))
			v->i = val->u.i;
		else
			return (dec_fail(d, "%s: integer value must be a "
			    "string", where));
		return (0);
	}
	if (strcmp(type, "float") == 0) {
		v->type = HV_FLOAT;
		val = jv_get(j, "value");
		if (!is_num(val))
			return (dec_fail(d, "%s: float value must be a number",
			    where));
		v->f = val->type == JV_INT ? (double)val->u.i : val->u.d;
		return (0);
	}
	if (strcmp(type, "text") == 0) {
		v->type = HV_TEXT;
		val = jv_get(j, "value");
		if (!is_str(val))
			return (dec_fail(d, "%s: text value must be a string",
			    where));
		v->s = val->u.s;
		v->len = val->n;
		return (0);
	}
	if (strcmp(type, "blob") == 0) {
		v->type = HV_BLOB;
		val = jv_get(j, "base64");
		if (!is_str(val))
			return (dec_fail(d, "%s: blob needs a \"base64\" string",
			    where));
		if (b64_decode(val->u.s, val->n, &v->blob, &v->len) != 0)
			return (dec_fail(d, "%s: blob is not valid base64",
			    where));
		v->s = (const char *)v->blob;
		return (0);
	}
	return (dec_fail(d, "%s: unknown value type", where));
}

static void
stmt_free(struct hrana_stmt *s)
{
	size_t	i;

	for (i = 0; i < s->nargs; i++)
		free(s->args[i].blob);
	for (i = 0; i < s->nnamed; i++)
		free(s->named[i].value.blob);
	free(s->args);
	free(s->named);
	memset(s, 0, sizeof *s);
}

/* sql / sql_id: exactly one of them. */
static int
dec_sql(struct dec *d, const struct jv *obj, const char **sql, size_t *sql_len,
    int *has_id, int32_t *id, const char *where)
{
	const struct jv	*js = dec_opt(obj, "sql"), *jid = dec_opt(obj, "sql_id");

	*sql = NULL;
	*sql_len = 0;
	*has_id = 0;
	if (js != NULL && jid != NULL)
		return (dec_fail(d, "%s: both \"sql\" and \"sql_id\" given",
		    where));
	if (js != NULL) {
		if (!is_str(js))
			return (dec_fail(d, "%s: \"sql\" must be a string",
			    where));
		*sql = js->u.s;
		*sql_len = js->n;
		return (0);
	}
	if (jid != NULL) {
		if (!is_int(jid) || jid->u.i < INT32_MIN ||
		    jid->u.i > INT32_MAX)
			return (dec_fail(d, "%s: \"sql_id\" must be a 32-bit "
			    "integer", where));
		*has_id = 1;
		*id = (int32_t)jid->u.i;
		return (0);
	}
	return (dec_fail(d, "%s: neither \"sql\" nor \"sql_id\" given", where));
}

static int
dec_stmt(struct dec *d, const struct jv *j, struct hrana_stmt *s,
    const char *where)
{
	const struct jv	*args, *named, *wr, *e;
	size_t		 i;
	char		 w[64];

	memset(s, 0, sizeof *s);
	s->want_rows = 1;
	if (!is_obj(j))
		return (dec_fail(d, "%s: \"stmt\" must be an object", where));
	if (dec_sql(d, j, &s->sql, &s->sql_len, &s->has_sql_id, &s->sql_id,
	    where) != 0)
		return (-1);
	if ((args = dec_opt(j, "args")) != NULL) {
		if (!is_arr(args))
			return (dec_fail(d, "%s: \"args\" must be an array",
			    where));
		if (args->n > HRANA_MAX_ARGS)
			return (dec_fail(d, "%s: too many arguments", where));
		if (args->n > 0) {
			s->args = xcalloc(args->n, sizeof *s->args);
			jv_foreach(args, i, e) {
				where_at(w, sizeof w, where, " arg ", i + 1);
				s->nargs = i + 1;
				if (dec_value(d, e, &s->args[i], w) != 0)
					return (-1);
			}
		}
	}
	if ((named = dec_opt(j, "named_args")) != NULL) {
		if (!is_arr(named))
			return (dec_fail(d, "%s: \"named_args\" must be an array",
			    where));
		if (named->n > HRANA_MAX_ARGS)
			return (dec_fail(d, "%s: too many arguments", where));
		if (named->n > 0) {
			s->named = xcalloc(named->n, sizeof *s->named);
			jv_foreach(named, i, e) {
				const char *name;
				where_at(w, sizeof w, where, " named arg ",
				    i + 1);
				s->nnamed = i + 1;
				name = dec_name(jv_get(e, "name"));
				if (!is_obj(e) || name == NULL)
					return (dec_fail(d, "%s: needs a "
					    "\"name\" string", w));
				s->named[i].name = name;
				if (dec_value(d, jv_get(e, "value"),
				    &s->named[i].value, w) != 0)
					return (-1);
			}
		}
	}
	if ((wr = dec_opt(j, "want_rows")) != NULL) {
		if (!is_bool(wr))
			return (dec_fail(d, "%s: \"want_rows\" must be a boolean",
			    where));
		s->want_rows = wr->type == JV_TRUE;
	}
	return (0);
}

static void
cond_free(struct hrana_cond *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nkids; i++)
		cond_free(&c->kids[i]);
	free(c->kids);
}

static int
dec_cond(struct dec *d, const struct jv *j, struct hrana_cond *c,
    size_t stepidx, int depth, const char *where)
{
	const char	*type;
	const struct jv	*e, *arr;
	size_t		 i;

	memset(c, 0, sizeof *c);
	if (depth > HRANA_MAX_COND_DEPTH)
		return (dec_fail(d, "%s: condition nested too deeply", where));
	if (!is_obj(j) ||
	    (type = dec_name(jv_get(j, "type"))) == NULL)
		return (dec_fail(d, "%s: a condition must be an object with a "
		    "\"type\"", where));
	if (strcmp(type, "ok") == 0 || strcmp(type, "error") == 0) {
		const struct jv *s = jv_get(j, "step");
		c->type = type[0] == 'o' ? HC_OK : HC_ERROR;
		if (!is_int(s) || s->u.i < 0)
			return (dec_fail(d, "%s: condition needs a \"step\" "
			    "number", where));
		if ((uint64_t)s->u.i >= stepidx)
			return (dec_fail(d, "%s: condition refers to step %lld, "
			    "which is not an earlier step", where,
			    (long long)s->u.i));
		c->step = (uint32_t)s->u.i;
		return (0);
	}
	if (strcmp(type, "not") == 0) {
		c->type = HC_NOT;
		c->kids = xcalloc(1, sizeof *c->kids);
		c->nkids = 1;
		return (dec_cond(d, jv_get(j, "cond"), &c->kids[0],
		    stepidx, depth + 1, where));
	}
	if (strcmp(type, "and") == 0 || strcmp(type, "or") == 0) {
		c->type = type[0] == 'a' ? HC_AND : HC_OR;
		arr = jv_get(j, "conds");
		if (!is_arr(arr))
			return (dec_fail(d, "%s: \"%s\" needs a \"conds\" array",
			    where, type));
		if (arr->n > 0)
			c->kids = xcalloc(arr->n, sizeof *c->kids);
		jv_foreach(arr, i, e) {
			c->nkids = i + 1;
			if (dec_cond(d, e, &c->kids[i], stepidx, depth + 1,
			    where) != 0)
				return (-1);
		}
		return (0);
	}
	if (strcmp(type, "is_autocommit") == 0) {
		if (d->version < 3)
			return (dec_fail(d, "%s: the \"is_autocommit\" condition "
			    "needs Hrana 3 (use /v3/pipeline)", where));
		c->type = HC_AUTOCOMMIT;
		return (0);
	}
	return (dec_fail(d, "%s: unknown condition type", where));
}

static void
req_free(struct hrana_req *r)
{
	size_t	i;

	stmt_free(&r->stmt);
	for (i = 0; i < r->nsteps; i++) {
		stmt_free(&r->steps[i].stmt);
		if (r->steps[i].cond != NULL) {
			cond_free(r->steps[i].cond);
			free(r->steps[i].cond);
		}
	}
	free(r->steps);
	memset(r, 0, sizeof *r);
}

static int
dec_batch(struct dec *d, const struct jv *j, struct hrana_req *r,
    const char *where)
{
	const struct jv	*steps, *e, *jc;
	size_t		 i;
	char		 w[96];

	if (!is_obj(j) || !is_arr(steps = jv_get(j, "steps")))
		return (dec_fail(d, "%s: \"batch\" needs a \"steps\" array",
		    where));
	if (steps->n > HRANA_MAX_STEPS)
		return (dec_fail(d, "%s: too many batch steps", where));
	if (steps->n > 0)
		r->steps = xcalloc(steps->n, sizeof *r->steps);
	jv_foreach(steps, i, e) {
		where_at(w, sizeof w, where, " step ", i);
		r->nsteps = i + 1;
		if (!is_obj(e))
			return (dec_fail(d, "%s: must be an object", w));
		if ((jc = dec_opt(e, "condition")) != NULL) {
			r->steps[i].cond = xcalloc(1, sizeof *r->steps[i].cond);
			if (dec_cond(d, jc, r->steps[i].cond, i, 0, w) != 0)
				return (-1);
		}
		if (dec_stmt(d, jv_get(e, "stmt"), &r->steps[i].stmt,
		    w) != 0)
			return (-1);
	}
	return (0);
}

static int
dec_req(struct dec *d, const struct jv *j, struct hrana_req *r, size_t idx)
{
	const char	*type;
	char		 where[48];
	const struct jv	*jid;

	memset(r, 0, sizeof *r);
	where_at(where, sizeof where, "request", " ", idx);
	if (!is_obj(j) ||
	    (type = dec_name(jv_get(j, "type"))) == NULL)
		return (dec_fail(d, "%s: must be an object with a \"type\"",
		    where));
	if (strcmp(type, "execute") == 0) {
		r->type = HR_EXECUTE;
		return (dec_stmt(d, jv_get(j, "stmt"), &r->stmt, where));
	}
	if (strcmp(type, "batch") == 0) {
		r->type = HR_BATCH;
		return (dec_batch(d, jv_get(j, "batch"), r, where));
	}
	if (strcmp(type, "sequence") == 0 || strcmp(type, "describe") == 0) {
		r->type = type[0] == 's' ? HR_SEQUENCE : HR_DESCRIBE;
		return (dec_sql(d, j, &r->sql, &r->sql_len, &r->has_sql_id,
		    &r->sql_id, where));
	}
	if (strcmp(type, "store_sql") == 0 || strcmp(type, "close_sql") == 0) {
		r->type = type[0] == 's' ? HR_STORE_SQL : HR_CLOSE_SQL;
		jid = jv_get(j, "sql_id");
		if (!is_int(jid) || jid->u.i < INT32_MIN ||
		    jid->u.i > INT32_MAX)
			return (dec_fail(d, "%s: \"sql_id\" must be a 32-bit "
			    "integer", where));
		r->has_sql_id = 1;
		r->sql_id = (int32_t)jid->u.i;
		if (r->type == HR_STORE_SQL) {
			const struct jv *js = jv_get(j, "sql");
			if (!is_str(js))
				return (dec_fail(d, "%s: \"sql\" must be a "
				    "string", where));
			r->sql = js->u.s;
			r->sql_len = js->n;
		}
		return (0);
	}
	if (strcmp(type, "close") == 0) {
		r->type = HR_CLOSE;
		return (0);
	}
	if (strcmp(type, "get_autocommit") == 0) {
		if (d->version < 3)
			return (dec_fail(d, "%s: \"get_autocommit\" needs Hrana 3 "
			    "(use /v3/pipeline)", where));
		r->type = HR_GET_AUTOCOMMIT;
		return (0);
	}
	return (dec_fail(d, "%s: unknown request type", where));
}

/*
 * Decode a pipeline body for Hrana version 2 or 3.  Returns 0 and fills p
 * (free with hrana_pipeline_free), or -1 with a message in err; p is then
 * already freed.
 */
int
hrana_decode_pipeline(const char *body, size_t len, int version,
    struct hrana_pipeline *p, char *err, size_t errlen)
{
	struct dec	 d = { err, errlen, version };
	const struct jv	*root, *reqs, *baton, *e;
	char		 jerr[200];
	size_t		 i;

	memset(p, 0, sizeof *p);
	p->version = version;
	if (jdoc_parse(&p->doc, body, len, jerr, sizeof jerr) != 0) {
		snprintf(err, errlen, "body is not valid JSON: %s", jerr);
		return (-1);
	}
	root = p->doc.v;
	if (!is_obj(root)) {
		dec_fail(&d, "body must be a JSON object");
		goto fail;
	}
	baton = jv_get(root, "baton");
	if (baton != NULL && baton->type != JV_NULL) {
		if (!is_str(baton)) {
			dec_fail(&d, "\"baton\" must be a string or null");
			goto fail;
		}
		p->baton = baton->u.s;
		p->baton_len = baton->n;
	}
	reqs = jv_get(root, "requests");
	if (!is_arr(reqs)) {
		dec_fail(&d, "\"requests\" must be an array");
		goto fail;
	}
	if (reqs->n > HRANA_MAX_REQS) {
		dec_fail(&d, "too many requests in one pipeline (at most %d)",
		    HRANA_MAX_REQS);
		goto fail;
	}
	if (reqs->n > 0)
		p->reqs = xcalloc(reqs->n, sizeof *p->reqs);
	jv_foreach(reqs, i, e) {
		p->nreqs = i + 1;
		if (dec_req(&d, e, &p->reqs[i], i) != 0)
			goto fail;
	}
	return (0);

fail:
	hrana_pipeline_free(p);
	return (-1);
}

void
hrana_pipeline_free(struct hrana_pipeline *p)
{
	size_t	i;

	for (i = 0; i < p->nreqs; i++)
		req_free(&p->reqs[i]);
	free(p->reqs);
	jdoc_free(&p->doc);
	memset(p, 0, sizeof *p);
}

const char *
hrana_rtype_name(int t)
{
	static const char *names[] = { "execute", "batch", "sequence",
	    "describe", "store_sql", "close_sql", "close", "get_autocommit" };

	if (t < 0 || (size_t)t >= sizeof names / sizeof names[0])
		return ("unknown");
	return (names[t]);
}
