/*
 * test_jsonr.c: tenantd/jsonr.c, the reader of request bodies.
 *
 * Every fixed case is also read by jansson (which read bodies before
 * jsonr): both must accept or both refuse, and what they accept must read
 * the same.  Then documents jansson writes from random trees, in every
 * output style, must read back the same.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "jv_jansson.h"

/* Read s (single quotes stand for double quotes) with both readers. */
static int
both(const char *name, const char *src, size_t len, int want_ok,
    const char *says)
{
	struct jdoc	 d;
	json_t		*j;
	char		*s, err[256];
	size_t		 i;
	int		 rc, same = 1;

	s = malloc(len + 1);
	memcpy(s, src, len);
	for (i = 0; i < len; i++)
		if (s[i] == '\'')
			s[i] = '"';
	err[0] = '\0';
	rc = jdoc_parse(&d, s, len, err, sizeof err);
	j = jansson_read(s, len);
	if (want_ok) {
		ok(rc == 0, "%s: read (%s)", name, err);
		ok(j != NULL, "%s: jansson reads it too", name);
		if (rc == 0 && j != NULL) {
			same = jv_same(&d.v[0], j) && d.v[0].skip == d.nv;
			ok(same, "%s: the same values as jansson", name);
		}
	} else {
		ok(rc == -1 && err[0] != '\0' && (says == NULL ||
		    strstr(err, says) != NULL), "%s: refused (%s)", name, err);
		ok(j == NULL, "%s: jansson refuses it too", name);
		ok(d.v == NULL && d.nv == 0, "%s: nothing left", name);
	}
	if (rc == 0)
		jdoc_free(&d);
	json_decref(j);
	free(s);
	return (rc == 0 && same);
}

#define GOOD(name, s)		both(name, s, sizeof s - 1, 1, NULL)
#define BAD(name, s, says)	both(name, s, sizeof s - 1, 0, says)

static void
test_cases(void)
{
	GOOD("empty object", "{}");
	GOOD("empty array", " [ ] ");
	GOOD("whitespace everywhere", " \t\r\n{ 'a' : [ 1 , 2 ] ,\n'b':{}}\n");
	GOOD("literals", "[true,false,null]");
	GOOD("integers", "[0,-0,1,-1,9223372036854775807,"
	    "-9223372036854775808]");
	GOOD("reals", "[0.5,-1.25,1e3,1E+3,2e-3,1.5e300,1e-400,-0.0]");
	GOOD("escapes", "['\\\\ \\/ \\b \\f \\n \\r \\t \\'']");
	GOOD("unicode escapes", "['\\u00e9\\u20AC\\ud83d\\ude00']");
	GOOD("UTF-8 as is", "['\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\xf4\x8f\xbf\xbf']");
	GOOD("DEL is no control character", "['\x7f']");
	GOOD("NUL escaped in a value", "['a\\u0000b']");
	GOOD("keys that share a prefix", "{'a':1,'ab':2,'abc':3,'b':4,'c':5,"
	    "'d':6,'e':7,'f':8,'g':9,'h':10}");
	GOOD("duplicate keys in different objects", "[{'a':1},{'a':2}]");

	BAD("empty", "", NULL);
	BAD("only space", "  ", NULL);
	BAD("a scalar at the top", "1", "expected");
	BAD("a string at the top", "'x'", "expected");
	BAD("unterminated object", "{'a':1", "end of input");
	BAD("unterminated string", "{'a", "end of input");
	BAD("trailing garbage", "{}x", "end of file expected");
	BAD("two documents", "{}{}", "end of file expected");
	BAD("trailing comma", "[1,]", "invalid token");
	BAD("trailing comma in object", "{'a':1,}", "string or '}'");
	BAD("missing colon", "{'a' 1}", "':' expected");
	BAD("missing comma", "[1 2]", "',' or ']'");
	BAD("key not a string", "{1:2}", "string or '}'");
	BAD("leading zero", "[01]", NULL);
	BAD("bare minus", "[-]", "invalid number");
	BAD("plus sign", "[+1]", "invalid token");
	BAD("no digit after point", "[1.]", "invalid number");
	BAD("no digit before point", "[.5]", "invalid token");
	BAD("no exponent digits", "[1e]", "invalid number");
	BAD("no exponent digits after sign", "[1e+]", "invalid number");
	BAD("integer above int64", "[9223372036854775808]", "too big integer");
	BAD("integer below int64", "[-9223372036854775809]",
	    "too big negative integer");
	BAD("real overflow", "[1e400]", "overflow");
	BAD("NaN", "[NaN]", "invalid token");
	BAD("misspelt literal", "[tru]", "invalid token");
	BAD("literal with a tail", "[nulll]", NULL);
	BAD("bad escape", "['\\x']", "invalid escape");
	BAD("short unicode escape", "['\\u12']", "\\u escape");
	BAD("lone high surrogate", "['\\ud83d']", "invalid Unicode");
	BAD("lone low surrogate", "['\\ude00']", "invalid Unicode");
	BAD("high surrogate then no low", "['\\ud83d\\u0041']",
	    "invalid Unicode");
	BAD("control character", "['a\tb']", "control character");
	BAD("newline in a string", "['a\nb']", "control character");
	BAD("overlong UTF-8", "['\xc0\xaf']", "UTF-8");
	BAD("overlong 3-byte UTF-8", "['\xe0\x80\xaf']", "UTF-8");
	BAD("UTF-8 surrogate", "['\xed\xa0\x80']", "UTF-8");
	BAD("UTF-8 past U+10FFFF", "['\xf4\x90\x80\x80']", "UTF-8");
	BAD("truncated UTF-8", "['\xe2\x82']", "UTF-8");
	BAD("stray continuation byte", "['\x80']", "UTF-8");
	BAD("duplicate key", "{'a':1,'a':2}", "duplicate");
	BAD("duplicate key, large object", "{'k1':1,'k2':2,'k3':3,'k4':4,"
	    "'k5':5,'k6':6,'k7':7,'k8':8,'k9':9,'k5':0}", "duplicate");
	BAD("duplicate key once unescaped", "{'\\u0061':1,'a':2}",
	    "duplicate");
	BAD("NUL in a key", "{'a\\u0000':1}", "NUL byte in object key");
	BAD("raw NUL byte in a string", "['a\0']", "control character");
	/* jansson skips a NUL byte after a number or a literal and reads
	 * [1]; a NUL byte outside a string is a stray byte to jsonr. */
	{
		struct jdoc	d;
		char		err[256];
		json_t		*j = jansson_read("[1\0]", 4);

		ok(jdoc_parse(&d, "[1\0]", 4, err, sizeof err) == -1 &&
		    strstr(err, "',' or ']' expected") != NULL,
		    "a NUL byte after a number: refused (%s)", err);
		ok(j != NULL && json_array_size(j) == 1, "(jansson reads it "
		    "as [1])");
		json_decref(j);
	}
}

static void
test_values(void)
{
	struct jdoc	 d;
	const struct jv	*a, *e, *o;
	char		 err[256];
	static const char s[] = "{\"n\":[1,-2.5,\"x\\u0000y\",true,null],"
	    "\"o\":{\"k\":\"v\"},\"e\":\"\"}";

	if (jdoc_parse(&d, s, sizeof s - 1, err, sizeof err) != 0) {
		ok(0, "values: read (%s)", err);
		return;
	}
	ok(d.v[0].type == JV_OBJ && d.v[0].n == 3, "values: 3 members");
	a = jv_get(&d.v[0], "n");
	ok(a != NULL && a->type == JV_ARR && a->n == 5, "values: n, 5 items");
	e = jv_first(a);
	ok(e->type == JV_INT && e->u.i == 1, "values: 1");
	e = jv_next(e);
	ok(e->type == JV_REAL && e->u.d == -2.5, "values: -2.5");
	e = jv_next(e);
	ok(e->type == JV_STR && e->n == 3 && memcmp(e->u.s, "x\0y", 4) == 0,
	    "values: a string with a NUL, its length and terminator");
	e = jv_next(e);
	ok(e->type == JV_TRUE, "values: true");
	e = jv_next(e);
	ok(e->type == JV_NULL, "values: null");
	ok(jv_next(e) == jv_get(&d.v[0], "o") - 1, "values: the array's "
	    "subtree ends where the next key starts");
	o = jv_get(&d.v[0], "o");
	ok(o != NULL && jv_get(o, "k") != NULL &&
	    strcmp(jv_get(o, "k")->u.s, "v") == 0, "values: o.k");
	ok(jv_get(o, "n") == NULL && jv_get(&d.v[0], "k") == NULL,
	    "values: a key of another object is not found");
	ok(jv_get(a, "n") == NULL, "values: an array has no members");
	ok(jv_get(&d.v[0], "e") != NULL && jv_get(&d.v[0], "e")->n == 0 &&
	    jv_get(&d.v[0], "e")->u.s[0] == '\0', "values: empty string");
	jdoc_free(&d);
	ok(d.v == NULL && d.s == NULL, "jdoc_free empties the document");
}

/* Nesting: jansson's limit is 2,048 levels, counting scalars too. */
static void
test_depth(void)
{
	char	*s;
	size_t	 n;
	int	 lv;

	for (lv = 2047; lv <= 2049; lv++) {
		char name[64];

		s = malloc(2 * (size_t)lv + 2);
		memset(s, '[', (size_t)lv);
		memset(s + lv, ']', (size_t)lv);
		snprintf(name, sizeof name, "%d empty arrays nested", lv);
		both(name, s, 2 * (size_t)lv, lv <= 2048, "depth");
		n = (size_t)lv;
		memcpy(s + n, "1", 1);
		memset(s + n + 1, ']', n);
		snprintf(name, sizeof name, "%d arrays nested around a number",
		    lv);
		both(name, s, 2 * n + 1, lv + 1 <= 2048, "depth");
		free(s);
	}
	/* Far deeper than the limit: refused, not a stack overflow. */
	n = 1000000;
	s = malloc(n);
	memset(s, '[', n);
	both("a million open brackets", s, n, 0, "depth");
	free(s);
}

/* A large object: duplicates found among thousands of keys. */
static void
test_large_object(void)
{
	size_t	 i, len = 0, cap = 64 * 4100;
	char	*s = malloc(cap);

	s[len++] = '{';
	for (i = 0; i < 4000; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s'key%zu':%zu",
		    i ? "," : "", i, i);
	s[len++] = '}';
	both("4,000 distinct keys", s, len, 1, NULL);
	len--;
	len += (size_t)snprintf(s + len, cap - len, ",'key1234':0}");
	both("4,000 keys and one again", s, len, 0, "duplicate");
	free(s);
}

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return ((uint32_t)(rng % n));
}

static json_t *
random_tree(int depth)
{
	static const char *pieces[] = { "a", "key", "\xc3\xa9", "\"",
	    "\\", "\n", "\x01", "\xf0\x9f\x98\x80", " ", "sql", "\x7f",
	    "\xe2\x82\xac", "/" };
	json_t	*j;
	char	 str[64];
	size_t	 i, n;

	switch (depth > 4 ? rnd(6) : rnd(8)) {
	case 0:
		return (json_null());
	case 1:
		return (json_boolean(rnd(2)));
	case 2:
		return (json_integer((json_int_t)(rng >> rnd(64)) *
		    (rnd(2) ? 1 : -1)));
	case 3:
		return (json_real((double)(int32_t)rnd(UINT32_MAX) /
		    (double)(1 + rnd(1000)) * (rnd(4) == 0 ? 1e200 : 1)));
	case 4:
	case 5:
		str[0] = '\0';
		n = rnd(6);
		for (i = 0; i < n; i++)
			strcat(str, pieces[rnd(sizeof pieces /
			    sizeof pieces[0])]);
		if (rnd(8) == 0)	/* a NUL inside */
			return (json_stringn_nocheck("x\0y", 3));
		return (json_string(str));
	case 6:
		j = json_array();
		n = rnd(5);
		for (i = 0; i < n; i++)
			json_array_append_new(j, random_tree(depth + 1));
		return (j);
	default:
		j = json_object();
		n = rnd(12);
		for (i = 0; i < n; i++) {
			snprintf(str, sizeof str, "%s%u", pieces[rnd(
			    sizeof pieces / sizeof pieces[0])], rnd(20));
			json_object_set_new(j, str, random_tree(depth + 1));
		}
		return (j);
	}
}

static void
test_random(void)
{
	static const size_t flags[] = { JSON_COMPACT, JSON_INDENT(2),
	    JSON_ENSURE_ASCII | JSON_COMPACT, JSON_ENSURE_ASCII |
	    JSON_INDENT(1), JSON_REAL_PRECISION(17) | JSON_COMPACT };
	json_t	*t, *top;
	char	*s;
	int	 i, good = 0, n = 2000;

	for (i = 0; i < n; i++) {
		t = random_tree(0);
		if (rnd(2)) {
			top = json_array();
			json_array_append_new(top, t);
		} else {
			top = json_object();
			json_object_set_new(top, "top", t);
		}
		s = json_dumps(top, flags[i % (sizeof flags /
		    sizeof flags[0])] | JSON_ENCODE_ANY);
		if (s != NULL) {
			struct jdoc	d;
			char		err[256];
			json_t		*back = jansson_read(s, strlen(s));

			int		rc;

			/* compared with what jansson reads from the text:
			 * a real prints rounded unless precision is 17 */
			rc = jdoc_parse(&d, s, strlen(s), err, sizeof err);
			if (rc == 0) {
				good += back != NULL && jv_same(&d.v[0],
				    back) && d.v[0].skip == d.nv;
				jdoc_free(&d);
			} else
				good += back == NULL;
			json_decref(back);
			free(s);
		}
		json_decref(top);
	}
	is_int(good, n, "%d random documents, every output style, read as "
	    "jansson reads them", n);
}

int
main(void)
{
	test_cases();
	test_values();
	test_depth();
	test_large_object();
	test_random();
	return (tap_done());
}
