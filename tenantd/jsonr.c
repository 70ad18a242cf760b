/*
 * jsonr.c: a JSON reader for request bodies.
 *
 * jdoc_parse() reads one JSON text (an object or an array at the top, as
 * jansson's json_loadb without JSON_DECODE_ANY) into a flat array of nodes:
 * a value's children follow it, and each node knows how many nodes its
 * subtree spans, so walking needs no pointers and the array can grow by
 * realloc while parsing.  Strings are unescaped into one buffer the size
 * of the body, NUL-terminated (a "\u0000" inside one is kept: lengths are
 * exact).  Two allocations per document, where a jansson tree made one
 * per value, member and key (perf, point update over 10,000 tenants:
 * jansson's parse was 79% of tenantd's malloc calls, ~22 per request).
 *
 * It accepts exactly what json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_ALLOW_NUL) accepts, and reads the same values: UTF-8 checked
 * (no overlong forms, no surrogates, nothing past U+10FFFF), escapes
 * including surrogate pairs, integers that fit in 64 bits (otherwise an
 * error) apart from reals (strtod; overflow is an error), duplicate keys
 * refused, nesting up to 2,048 levels.  fuzz/fuzz_json.c checks that
 * against jansson on every input it makes.  One difference, on purpose:
 * jansson skips a NUL byte that ends a number or a literal ("[1\0]" reads
 * as [1]); here a NUL byte outside a string is refused as any stray byte.
 *
 * The input is untrusted: every read is bounded by the body's end.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenantd.h"

#define JSONR_MAX_DEPTH		2048	/* jansson's JSON_PARSER_MAX_DEPTH */
#define JSONR_SMALL_OBJECT	8	/* duplicate check by pairs up to this */

struct jp {
	const char	*start;
	const char	*p;
	const char	*end;
	struct jdoc	*d;
	char		*err;
	size_t		 errlen;
	int		 depth;
};

static int __attribute__((format(printf, 2, 3)))
jp_fail(struct jp *jp, const char *fmt, ...)
{
	const char	*q;
	char		 msg[160];
	va_list		 ap;
	int		 line = 1, col = 1;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (q = jp->start; q < jp->p && q < jp->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	snprintf(jp->err, jp->errlen, "%s (line %d, column %d)", msg, line,
	    col);
	return (-1);
}

/* A new node at the end; returns its index or -1. */
static long
jp_node(struct jp *jp, int type)
{
	struct jdoc	*d = jp->d;
	struct jv	*v;
	size_t		 cap;

	if (d->nv == d->cap) {
		cap = d->cap * 2;
		if (cap > UINT32_MAX / 2 ||
		    (v = reallocarray(d->v, cap, sizeof *v)) == NULL) {
			jp_fail(jp, "out of memory");
			return (-1);
		}
		d->v = v;
		d->cap = cap;
	}
	v = &d->v[d->nv];
	memset(v, 0, sizeof *v);
	v->type = type;
	v->skip = 1;
	return ((long)d->nv++);
}

static void
jp_ws(struct jp *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
	    *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
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

/* Four hex digits after "\u"; -1 if they are not. */
static long
jp_hex4(struct jp *jp)
{
	long	v = 0;
	int	i, h;

	if (jp->end - jp->p < 4)
		return (-1);
	for (i = 0; i < 4; i++) {
		if ((h = hexval((unsigned char)jp->p[i])) < 0)
			return (-1);
		v = v * 16 + h;
	}
	jp->p += 4;
	return (v);
}

static size_t
utf8_put(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return (1);
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return (2);
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return (3);
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return (4);
}

/* A string at jp->p (on the opening quote) into a new JV_STR node. */
static int
jp_string(struct jp *jp)
{
	struct jdoc		*d = jp->d;
	const unsigned char	*p, *end = (const unsigned char *)jp->end;
	char			*o;
	long			 idx, c, lo;
	size_t			 n;

	if ((idx = jp_node(jp, JV_STR)) < 0)
		return (-1);
	o = d->s + d->slen;
	p = (const unsigned char *)jp->p + 1;
	for (;;) {
		const unsigned char *run = p;

		while (p < end && *p != '"' && *p != '\\' && *p >= 0x20 &&
		    *p < 0x80)
			p++;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p == end) {
			jp->p = (const char *)p;
			return (jp_fail(jp, "premature end of input"));
		}
		if (*p == '"')
			break;
		if (*p < 0x20) {
			jp->p = (const char *)p;
			return (jp_fail(jp, "control character 0x%x in a "
			    "string", *p));
		}
		if (*p >= 0x80) {
			if ((n = utf8_seq(p, (size_t)(end - p))) == 0) {
				jp->p = (const char *)p;
				return (jp_fail(jp, "invalid UTF-8 in a "
				    "string"));
			}
			memcpy(o, p, n);
			o += n;
			p += n;
			continue;
		}
		/* a backslash */
		if (++p == end) {
			jp->p = (const char *)p;
			return (jp_fail(jp, "premature end of input"));
		}
		switch (*p++) {
		case '"':  *o++ = '"';  break;
		case '\\': *o++ = '\\'; break;
		case '/':  *o++ = '/';  break;
		case 'b':  *o++ = '\b'; break;
		case 'f':  *o++ = '\f'; break;
		case 'n':  *o++ = '\n'; break;
		case 'r':  *o++ = '\r'; break;
		case 't':  *o++ = '\t'; break;
		case 'u':
			jp->p = (const char *)p;
			if ((c = jp_hex4(jp)) < 0)
				return (jp_fail(jp, "invalid \\u escape"));
			if (c >= 0xdc00 && c <= 0xdfff)
				return (jp_fail(jp, "invalid Unicode "
				    "'\\u%04lX'", c));
			if (c >= 0xd800 && c <= 0xdbff) {
				if (jp->end - jp->p < 2 || jp->p[0] != '\\' ||
				    jp->p[1] != 'u')
					return (jp_fail(jp, "invalid Unicode "
					    "'\\u%04lX'", c));
				jp->p += 2;
				if ((lo = jp_hex4(jp)) < 0)
					return (jp_fail(jp, "invalid \\u "
					    "escape"));
				if (lo < 0xdc00 || lo > 0xdfff)
					return (jp_fail(jp, "invalid Unicode "
					    "'\\u%04lX\\u%04lX'", c, lo));
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			o += utf8_put(o, (unsigned long)c);
			p = (const unsigned char *)jp->p;
			break;
		default:
			jp->p = (const char *)p - 1;
			return (jp_fail(jp, "invalid escape"));
		}
	}
	jp->p = (const char *)p + 1;
	n = (size_t)(o - (d->s + d->slen));
	if (n > UINT32_MAX)
		return (jp_fail(jp, "string too long"));
	*o = '\0';
	d->v[idx].n = (uint32_t)n;
	d->v[idx].u.s = d->s + d->slen;	/* d->s never moves */
	d->slen += n + 1;
	return (0);
}

static int
jp_number(struct jp *jp)
{
	const char	*p = jp->p, *start = jp->p;
	char		 small[64], *tok, *endp;
	int		 real = 0, rc = 0;
	size_t		 len;
	long		 idx;

	if (p < jp->end && *p == '-')
		p++;
	if (p < jp->end && *p == '0')
		p++;
	else if (p < jp->end && *p >= '1' && *p <= '9') {
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		jp->p = p;
		return (jp_fail(jp, "invalid number"));
	}
	if (p < jp->end && *p == '.') {
		real = 1;
		if (++p == jp->end || *p < '0' || *p > '9') {
			jp->p = p;
			return (jp_fail(jp, "invalid number"));
		}
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < jp->end && (*p == 'e' || *p == 'E')) {
		real = 1;
		if (++p < jp->end && (*p == '+' || *p == '-'))
			p++;
		if (p == jp->end || *p < '0' || *p > '9') {
			jp->p = p;
			return (jp_fail(jp, "invalid number"));
		}
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	}
	len = (size_t)(p - start);
	tok = len < sizeof small ? small : malloc(len + 1);
	if (tok == NULL)
		return (jp_fail(jp, "out of memory"));
	memcpy(tok, start, len);
	tok[len] = '\0';
	if ((idx = jp_node(jp, real ? JV_REAL : JV_INT)) < 0) {
		rc = -1;
		goto out;
	}
	errno = 0;
	if (real) {
		double v = strtod(tok, &endp);
		if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
			rc = jp_fail(jp, "real number overflow");
		else
			jp->d->v[idx].u.d = v;
	} else {
		long long v = strtoll(tok, &endp, 10);
		if (errno == ERANGE)
			rc = jp_fail(jp, "too big %sinteger",
			    tok[0] == '-' ? "negative " : "");
		else
			jp->d->v[idx].u.i = v;
	}
	jp->p = p;
out:
	if (tok != small)
		free(tok);
	return (rc);
}

static int
jp_literal(struct jp *jp, const char *word, int type)
{
	size_t	n = strlen(word);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
		return (jp_fail(jp, "invalid token"));
	jp->p += n;
	return (jp_node(jp, type) < 0 ? -1 : 0);
}

static int
key_cmp(const void *a, const void *b)
{
	const struct jv	*x = *(const struct jv *const *)a;
	const struct jv	*y = *(const struct jv *const *)b;
	size_t		 n = x->n < y->n ? x->n : y->n;
	int		 c;

	if ((c = memcmp(x->u.s, y->u.s, n)) != 0)
		return (c);
	return (x->n < y->n ? -1 : x->n > y->n);
}

/* The object at idx, complete: refuse duplicate keys. */
static int
jp_dups(struct jp *jp, long idx)
{
	struct jdoc	*d = jp->d;
	struct jv	*o = &d->v[idx], *k, *small[JSONR_SMALL_OBJECT], **keys;
	size_t		 i, j, n = o->n;
	int		 dup = 0;

	if (n < 2)
		return (0);
	keys = small;	/* most objects: no allocation */
	if (n > JSONR_SMALL_OBJECT &&
	    (keys = reallocarray(NULL, n, sizeof *keys)) == NULL)
		return (jp_fail(jp, "out of memory"));
	for (i = 0, k = o + 1; i < n; i++) {
		keys[i] = k;
		k = (k + 1) + (k + 1)->skip;
	}
	if (n <= JSONR_SMALL_OBJECT) {
		for (i = 0; i < n && !dup; i++)
			for (j = i + 1; j < n && !dup; j++)
				dup = key_cmp(&keys[i], &keys[j]) == 0;
	} else {
		qsort(keys, n, sizeof *keys, key_cmp);
		for (i = 1; i < n && !dup; i++)
			dup = key_cmp(&keys[i - 1], &keys[i]) == 0;
	}
	if (keys != small)
		free(keys);
	if (dup)
		return (jp_fail(jp, "duplicate object key"));
	return (0);
}

static int
jp_value(struct jp *jp)
{
	struct jv	*k;
	long		 idx;
	int		 close;

	/* jansson counts every value's depth, scalars included. */
	if (jp->depth >= JSONR_MAX_DEPTH)
		return (jp_fail(jp, "maximum parsing depth reached"));
	jp_ws(jp);
	if (jp->p == jp->end)
		return (jp_fail(jp, "premature end of input"));
	switch (*jp->p) {
	case '"':
		return (jp_string(jp));
	case 't':
		return (jp_literal(jp, "true", JV_TRUE));
	case 'f':
		return (jp_literal(jp, "false", JV_FALSE));
	case 'n':
		return (jp_literal(jp, "null", JV_NULL));
	case '{':
	case '[':
		break;
	default:
		if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
			return (jp_number(jp));
		return (jp_fail(jp, "invalid token"));
	}
	close = *jp->p == '{' ? '}' : ']';
	jp->depth++;
	if ((idx = jp_node(jp, close == '}' ? JV_OBJ : JV_ARR)) < 0)
		return (-1);
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == close)
		jp->p++;
	else {
		for (;;) {
			if (close == '}') {
				jp_ws(jp);
				if (jp->p == jp->end || *jp->p != '"')
					return (jp_fail(jp, "string or '}' "
					    "expected"));
				if (jp_string(jp) != 0)
					return (-1);
				k = &jp->d->v[jp->d->nv - 1];
				if (memchr(k->u.s, '\0', k->n))
					return (jp_fail(jp, "NUL byte in object "
					    "key not supported"));
				jp_ws(jp);
				if (jp->p == jp->end || *jp->p != ':')
					return (jp_fail(jp, "':' expected"));
				jp->p++;
			}
			if (jp_value(jp) != 0)
				return (-1);
			if (jp->d->v[idx].n == UINT32_MAX)
				return (jp_fail(jp, "too many members"));
			jp->d->v[idx].n++;
			jp_ws(jp);
			if (jp->p == jp->end)
				return (jp_fail(jp, "premature end of input"));
			if (*jp->p == close) {
				jp->p++;
				break;
			}
			if (*jp->p != ',')
				return (jp_fail(jp, "',' or '%c' expected",
				    close));
			jp->p++;
		}
	}
	jp->depth--;
	jp->d->v[idx].skip = (uint32_t)(jp->d->nv - (size_t)idx);
	if (close == '}')
		return (jp_dups(jp, idx));
	return (0);
}

int
jdoc_parse(struct jdoc *d, const char *body, size_t len, char *err,
    size_t errlen)
{
	struct jp	 jp = { body, body, body + len, d, err, errlen, 0 };

	memset(d, 0, sizeof *d);
	if (len > UINT32_MAX)
		return (jp_fail(&jp, "body too long"));
	/* Unescaped strings never outgrow their quoted form, quotes
	 * included, so the body's length (+1) holds them all with NULs. */
	d->cap = len / 8 + 16;
	d->v = reallocarray(NULL, d->cap, sizeof *d->v);
	d->s = malloc(len + 1);
	if (d->v == NULL || d->s == NULL) {
		jp_fail(&jp, "out of memory");
		goto fail;
	}
	jp_ws(&jp);
	if (jp.p == jp.end) {
		jp_fail(&jp, "premature end of input");
		goto fail;
	}
	if (*jp.p != '{' && *jp.p != '[') {
		jp_fail(&jp, "'[' or '{' expected");
		goto fail;
	}
	if (jp_value(&jp) != 0)
		goto fail;
	jp_ws(&jp);
	if (jp.p != jp.end) {
		jp_fail(&jp, "end of file expected");
		goto fail;
	}
	return (0);
fail:
	jdoc_free(d);
	return (-1);
}

void
jdoc_free(struct jdoc *d)
{
	free(d->v);
	free(d->s);
	memset(d, 0, sizeof *d);
}

/* The member of object o named key, or NULL (also when o is no object). */
const struct jv *
jv_get(const struct jv *o, const char *key)
{
	const struct jv	*k;
	size_t		 i, n;

	if (o == NULL || o->type != JV_OBJ)
		return (NULL);
	n = strlen(key);
	for (i = 0, k = o + 1; i < o->n; i++) {
		if (k->n == n && memcmp(k->u.s, key, n) == 0)
			return (k + 1);
		k = (k + 1) + (k + 1)->skip;
	}
	return (NULL);
}
