/*
 * test_hrana.c: unit tests for tenantd/hrana.c.
 *
 * Decoding: a pipeline body is untrusted.  Good bodies must come out with
 * every value exactly as the client meant it (64-bit integers in strings,
 * text with NUL bytes, blobs padded or not, condition trees, batons);
 * malformed ones must be refused with a message saying what is wrong, and
 * the pipeline must be left empty.  Hrana 3 features are refused on v2.
 *
 * Encoding: everything written must be JSON a client can parse, so each
 * encoded piece is read back with jansson and compared with what went in;
 * invalid UTF-8 from a database becomes U+FFFD rather than breaking the
 * response.
 *
 * Bodies are written with ' for " to stay readable; dec() swaps them.
 * Single-threaded; touches no files.  Run under valgrind to check that
 * decoded and rejected pipelines free everything.
 */

#include "config.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tenantd.h"
#include "tap.h"

static char	err[512];

/* Decode body (with ' for ") as Hrana version. */
static int
dec(const char *body, int version, struct hrana_pipeline *p)
{
	char	*s = strdup(body), *q;
	int	 rc;

	if (s == NULL)
		abort();
	for (q = s; *q != '\0'; q++)
		if (*q == '\'')
			*q = '"';
	err[0] = '\0';
	rc = hrana_decode_pipeline(s, strlen(s), version, p, err, sizeof err);
	free(s);
	return (rc);
}

/* Decode a body that must be good; says why if not. */
static int
dec_good(const char *body, int version, struct hrana_pipeline *p,
    const char *name)
{
	int	rc = dec(body, version, p);

	ok(rc == 0, "decode %s", name);
	if (rc != 0)
		printf("#   error: %s\n", err);
	return (rc == 0);
}

static int
bytes_eq(const void *got, size_t glen, const void *want, size_t wlen)
{
	return (got != NULL && glen == wlen && memcmp(got, want, wlen) == 0);
}

static void
test_execute(void)
{
	struct hrana_pipeline	 p;
	struct hrana_stmt	*s;
	struct hrana_value	*a;

	if (!dec_good("{'baton':null,'requests':[{'type':'execute','stmt':{"
	    "'sql':'SELECT ?1, ?2','args':["
	    "{'type':'null'},"
	    "{'type':'integer','value':'9223372036854775807'},"
	    "{'type':'integer','value':'-1'},"
	    "{'type':'integer','value':'-9223372036854775808'},"
	    "{'type':'integer','value':'0'},"
	    "{'type':'float','value':1.5},"
	    "{'type':'float','value':-2},"
	    "{'type':'text','value':'caf\\u00e9 \\u2603 \\ud83d\\ude00'},"
	    "{'type':'text','value':'a\\u0000b'},"
	    "{'type':'text','value':''},"
	    "{'type':'blob','base64':'Zm9vYg=='},"
	    "{'type':'blob','base64':'Zm9vYg'},"
	    "{'type':'blob','base64':''}"
	    "],'want_rows':false,'unknown_field':[1,2]}}]}", 2, &p,
	    "execute with every value type"))
		return;

	is_int(p.version, 2, "execute: version kept");
	ok(p.baton == NULL, "execute: null baton means a new stream");
	is_int(p.nreqs, 1, "execute: one request");
	is_int(p.reqs[0].type, HR_EXECUTE, "execute: type");
	s = &p.reqs[0].stmt;
	ok(bytes_eq(s->sql, s->sql_len, "SELECT ?1, ?2", 13),
	    "execute: sql and its length");
	is_int(s->has_sql_id, 0, "execute: no sql_id");
	is_int(s->want_rows, 0, "execute: want_rows false");
	is_int(s->nargs, 13, "execute: 13 args");
	is_int(s->nnamed, 0, "execute: no named args");
	if (s->nargs != 13) {
		hrana_pipeline_free(&p);
		return;
	}
	a = s->args;
	is_int(a[0].type, HV_NULL, "arg null");
	ok(a[1].type == HV_INTEGER && a[1].i == INT64_MAX,
	    "arg integer INT64_MAX from a string");
	ok(a[2].type == HV_INTEGER && a[2].i == -1, "arg integer -1");
	ok(a[3].type == HV_INTEGER && a[3].i == INT64_MIN,
	    "arg integer INT64_MIN");
	ok(a[4].type == HV_INTEGER && a[4].i == 0, "arg integer 0");
	ok(a[5].type == HV_FLOAT && a[5].f == 1.5, "arg float 1.5");
	ok(a[6].type == HV_FLOAT && a[6].f == -2.0,
	    "arg float written as a JSON integer");
	ok(a[7].type == HV_TEXT && bytes_eq(a[7].s, a[7].len,
	    "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80", 14),
	    "arg text: escapes and surrogate pair become UTF-8");
	ok(a[8].type == HV_TEXT && bytes_eq(a[8].s, a[8].len, "a\0b", 3),
	    "arg text with an embedded NUL keeps length 3");
	ok(a[9].type == HV_TEXT && a[9].s != NULL && a[9].len == 0,
	    "arg empty text");
	ok(a[10].type == HV_BLOB && bytes_eq(a[10].blob, a[10].len, "foob", 4),
	    "arg blob, padded base64");
	ok(a[11].type == HV_BLOB && bytes_eq(a[11].blob, a[11].len, "foob", 4),
	    "arg blob, unpadded base64");
	ok(a[12].type == HV_BLOB && a[12].len == 0, "arg empty blob");
	hrana_pipeline_free(&p);
	ok(p.reqs == NULL && p.nreqs == 0 && p.doc.v == NULL,
	    "pipeline_free empties the pipeline");

	/* Defaults, named args, a JSON integer for an integer. */
	if (!dec_good("{'requests':[{'type':'execute','stmt':{"
	    "'sql':'SELECT :a, $b, @c','named_args':["
	    "{'name':':a','value':{'type':'integer','value':'5'}},"
	    "{'name':'$b','value':{'type':'text','value':'x'}},"
	    "{'name':'@c','value':{'type':'integer','value':42}}"
	    "]}}]}", 3, &p, "execute with named args"))
		return;
	ok(p.baton == NULL, "named: missing baton means a new stream");
	s = &p.reqs[0].stmt;
	is_int(s->want_rows, 1, "named: want_rows defaults to true");
	is_int(s->nargs, 0, "named: no positional args");
	is_int(s->nnamed, 3, "named: 3 named args");
	if (s->nnamed == 3) {
		ok(strcmp(s->named[0].name, ":a") == 0 &&
		    s->named[0].value.type == HV_INTEGER &&
		    s->named[0].value.i == 5, "named :a = 5");
		ok(strcmp(s->named[1].name, "$b") == 0 &&
		    s->named[1].value.type == HV_TEXT &&
		    bytes_eq(s->named[1].value.s, s->named[1].value.len, "x", 1),
		    "named $b = 'x'");
		ok(strcmp(s->named[2].name, "@c") == 0 &&
		    s->named[2].value.type == HV_INTEGER &&
		    s->named[2].value.i == 42,
		    "named @c: a JSON integer is accepted for an integer");
	}
	hrana_pipeline_free(&p);

	/* want_rows true, null args, and a stored statement by id. */
	if (dec_good("{'baton':'b4t0n-_','requests':[{'type':'execute',"
	    "'stmt':{'sql_id':-7,'sql':null,'args':null,'want_rows':true}}]}",
	    2, &p, "execute by sql_id")) {
		ok(p.baton != NULL && bytes_eq(p.baton, p.baton_len,
		    "b4t0n-_", 7), "string baton is kept");
		s = &p.reqs[0].stmt;
		ok(s->has_sql_id && s->sql_id == -7 && s->sql == NULL,
		    "execute: sql_id -7, no sql");
		is_int(s->want_rows, 1, "execute: want_rows true");
		hrana_pipeline_free(&p);
	}

	if (dec_good("{'baton':null,'requests':[]}", 2, &p, "empty requests")) {
		is_int(p.nreqs, 0, "empty requests: nothing to run");
		hrana_pipeline_free(&p);
	}
}

static void
test_batch(void)
{
	struct hrana_pipeline	 p;
	struct hrana_req	*r;
	struct hrana_cond	*c;

	if (!dec_good("{'requests':[{'type':'batch','batch':{'steps':["
	    "{'stmt':{'sql':'BEGIN'}},"
	    "{'condition':{'type':'ok','step':0},'stmt':{'sql':'S1'}},"
	    "{'condition':{'type':'error','step':1},'stmt':{'sql':'S2'}},"
	    "{'condition':{'type':'not','cond':{'type':'ok','step':2}},"
	    "'stmt':{'sql':'S3'}},"
	    "{'condition':{'type':'and','conds':[{'type':'ok','step':0},"
	    "{'type':'or','conds':[{'type':'error','step':3},"
	    "{'type':'ok','step':1}]}]},'stmt':{'sql':'S4'}},"
	    "{'condition':null,'stmt':{'sql':'S5'}},"
	    "{'condition':{'type':'and','conds':[]},'stmt':{'sql':'S6'}}"
	    "]}}]}", 2, &p, "batch with conditions"))
		return;
	r = &p.reqs[0];
	is_int(r->type, HR_BATCH, "batch: type");
	is_int(r->nsteps, 7, "batch: 7 steps");
	if (r->nsteps != 7) {
		hrana_pipeline_free(&p);
		return;
	}
	ok(r->steps[0].cond == NULL && bytes_eq(r->steps[0].stmt.sql,
	    r->steps[0].stmt.sql_len, "BEGIN", 5),
	    "step 0: no condition, its sql");
	c = r->steps[1].cond;
	ok(c != NULL && c->type == HC_OK && c->step == 0,
	    "step 1: ok(0)");
	c = r->steps[2].cond;
	ok(c != NULL && c->type == HC_ERROR && c->step == 1,
	    "step 2: error(1)");
	c = r->steps[3].cond;
	ok(c != NULL && c->type == HC_NOT && c->nkids == 1 &&
	    c->kids[0].type == HC_OK && c->kids[0].step == 2,
	    "step 3: not(ok(2))");
	c = r->steps[4].cond;
	ok(c != NULL && c->type == HC_AND && c->nkids == 2 &&
	    c->kids[0].type == HC_OK && c->kids[0].step == 0 &&
	    c->kids[1].type == HC_OR && c->kids[1].nkids == 2 &&
	    c->kids[1].kids[0].type == HC_ERROR &&
	    c->kids[1].kids[0].step == 3 &&
	    c->kids[1].kids[1].type == HC_OK && c->kids[1].kids[1].step == 1,
	    "step 4: and(ok(0), or(error(3), ok(1)))");
	ok(r->steps[5].cond == NULL, "step 5: null condition means always");
	c = r->steps[6].cond;
	ok(c != NULL && c->type == HC_AND && c->nkids == 0,
	    "step 6: empty and");
	ok(bytes_eq(r->steps[6].stmt.sql, r->steps[6].stmt.sql_len, "S6", 2),
	    "step 6: its sql");
	hrana_pipeline_free(&p);

	/* is_autocommit is Hrana 3 only. */
	if (dec_good("{'requests':[{'type':'batch','batch':{'steps':["
	    "{'condition':{'type':'is_autocommit'},'stmt':{'sql':'BEGIN'}},"
	    "{'condition':{'type':'not','cond':{'type':'is_autocommit'}},"
	    "'stmt':{'sql':'COMMIT'}}]}}]}", 3, &p, "v3: is_autocommit")) {
		ok(p.reqs[0].steps[0].cond->type == HC_AUTOCOMMIT &&
		    p.reqs[0].steps[1].cond->kids[0].type == HC_AUTOCOMMIT,
		    "v3: is_autocommit conditions decoded");
		hrana_pipeline_free(&p);
	}

	/* Ten levels of nesting is fine. */
	{
		char	body[2048];
		int	i, n;

		n = snprintf(body, sizeof body, "{'requests':[{'type':'batch',"
		    "'batch':{'steps':[{'stmt':{'sql':'A'}},{'condition':");
		for (i = 0; i < 10; i++)
			n += snprintf(body + n, sizeof body - n,
			    "{'type':'not','cond':");
		n += snprintf(body + n, sizeof body - n,
		    "{'type':'ok','step':0}");
		for (i = 0; i < 10; i++)
			n += snprintf(body + n, sizeof body - n, "}");
		snprintf(body + n, sizeof body - n,
		    ",'stmt':{'sql':'B'}}]}}]}");
		if (dec_good(body, 2, &p, "condition nested 10 deep")) {
			c = p.reqs[0].steps[1].cond;
			for (i = 0; i < 10 && c != NULL && c->type == HC_NOT;
			    i++)
				c = c->nkids == 1 ? &c->kids[0] : NULL;
			ok(i == 10 && c != NULL && c->type == HC_OK &&
			    c->step == 0, "10 nots around ok(0)");
			hrana_pipeline_free(&p);
		}
	}
}

static void
test_other_requests(void)
{
	struct hrana_pipeline	 p;
	struct hrana_req	*r;

	if (!dec_good("{'baton':'xyz','requests':["
	    "{'type':'store_sql','sql_id':1,'sql':'SELECT 1'},"
	    "{'type':'sequence','sql_id':1},"
	    "{'type':'sequence','sql':'CREATE TABLE t(x); INSERT INTO t "
	    "VALUES(1)'},"
	    "{'type':'describe','sql':'SELECT ?'},"
	    "{'type':'describe','sql_id':1},"
	    "{'type':'close_sql','sql_id':1},"
	    "{'type':'get_autocommit'},"
	    "{'type':'close'}]}", 3, &p, "store/sequence/describe/close"))
		return;
	ok(bytes_eq(p.baton, p.baton_len, "xyz", 3), "baton xyz");
	is_int(p.nreqs, 8, "8 requests");
	if (p.nreqs != 8) {
		hrana_pipeline_free(&p);
		return;
	}
	r = p.reqs;
	ok(r[0].type == HR_STORE_SQL && r[0].has_sql_id && r[0].sql_id == 1 &&
	    bytes_eq(r[0].sql, r[0].sql_len, "SELECT 1", 8),
	    "store_sql: id 1, its sql");
	ok(r[1].type == HR_SEQUENCE && r[1].has_sql_id && r[1].sql_id == 1 &&
	    r[1].sql == NULL, "sequence by sql_id");
	ok(r[2].type == HR_SEQUENCE && !r[2].has_sql_id && r[2].sql != NULL &&
	    strncmp(r[2].sql, "CREATE TABLE", 12) == 0, "sequence by sql");
	ok(r[3].type == HR_DESCRIBE && bytes_eq(r[3].sql, r[3].sql_len,
	    "SELECT ?", 8), "describe by sql");
	ok(r[4].type == HR_DESCRIBE && r[4].has_sql_id && r[4].sql_id == 1,
	    "describe by sql_id");
	ok(r[5].type == HR_CLOSE_SQL && r[5].has_sql_id && r[5].sql_id == 1,
	    "close_sql: id 1");
	is_int(r[6].type, HR_GET_AUTOCOMMIT, "get_autocommit on v3");
	is_int(r[7].type, HR_CLOSE, "close");
	is_str(hrana_rtype_name(r[6].type), "get_autocommit",
	    "rtype name get_autocommit");
	hrana_pipeline_free(&p);

	is_str(hrana_rtype_name(HR_EXECUTE), "execute", "rtype name execute");
	is_str(hrana_rtype_name(99), "unknown", "rtype name out of range");

	if (dec_good("{'requests':[{'type':'store_sql','sql_id':2147483647,"
	    "'sql':'x'},{'type':'close_sql','sql_id':-2147483648}]}", 2, &p,
	    "sql_id at the int32 limits")) {
		ok(p.reqs[0].sql_id == INT32_MAX && p.reqs[1].sql_id == INT32_MIN,
		    "sql_id INT32_MAX and INT32_MIN kept");
		hrana_pipeline_free(&p);
	}
}

static char *
nested_conds(int depth)
{
	size_t	 cap = 256 + (size_t)depth * 32, n;
	char	*b = malloc(cap);
	int	 i;

	if (b == NULL)
		abort();
	n = (size_t)snprintf(b, cap, "{'requests':[{'type':'batch','batch':"
	    "{'steps':[{'stmt':{'sql':'A'}},{'condition':");
	for (i = 0; i < depth; i++)
		n += (size_t)snprintf(b + n, cap - n, "{'type':'not','cond':");
	n += (size_t)snprintf(b + n, cap - n, "{'type':'ok','step':0}");
	for (i = 0; i < depth; i++)
		n += (size_t)snprintf(b + n, cap - n, "}");
	snprintf(b + n, cap - n, ",'stmt':{'sql':'B'}}]}}]}");
	return (b);
}

static char *
many_requests(int n)
{
	size_t	 cap = 64 + (size_t)n * 20, o;
	char	*b = malloc(cap);
	int	 i;

	if (b == NULL)
		abort();
	o = (size_t)snprintf(b, cap, "{'requests':[");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o, "%s{'type':'close'}",
		    i ? "," : "");
	snprintf(b + o, cap - o, "]}");
	return (b);
}

#define EXEC(args)	"{'requests':[{'type':'execute','stmt':{'sql':'S'," \
			    "'args':[" args "]}}]}"
#define STEPS(steps)	"{'requests':[{'type':'batch','batch':{'steps':[" \
			    steps "]}}]}"

static void
test_bad(void)
{
	static const struct {
		const char	*name;
		const char	*body;
		int		 version;
		const char	*says;	/* the message must contain this */
	} bad[] = {
		{ "not JSON", "{'requests':", 2, "not valid JSON" },
		{ "empty body", "", 2, "not valid JSON" },
		{ "JSON array", "[{'type':'close'}]", 2, "JSON object" },
		{ "requests missing", "{'baton':null}", 2, "requests" },
		{ "requests not an array", "{'requests':{'type':'close'}}", 2,
		    "requests" },
		{ "request not an object", "{'requests':['close']}", 2,
		    "request 0" },
		{ "request without type", "{'requests':[{}]}", 2, "type" },
		{ "unknown request type",
		    "{'requests':[{'type':'close'},{'type':'explode'}]}", 2,
		    "request 1: unknown request type" },
		{ "duplicate keys", "{'requests':[],'requests':[]}", 2,
		    "duplicate" },
		{ "duplicate keys deep", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'a','sql':'b'}}]}", 2, "duplicate" },
		{ "baton a number", "{'baton':5,'requests':[]}", 2, "baton" },
		{ "baton an object", "{'baton':{},'requests':[]}", 2, "baton" },
		{ "execute without stmt", "{'requests':[{'type':'execute'}]}",
		    2, "stmt" },
		{ "stmt not an object",
		    "{'requests':[{'type':'execute','stmt':'SELECT 1'}]}", 2,
		    "stmt" },
		{ "stmt with sql and sql_id", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'S','sql_id':1}}]}", 2, "both" },
		{ "stmt with neither sql nor sql_id",
		    "{'requests':[{'type':'execute','stmt':{'args':[]}}]}", 2,
		    "neither" },
		{ "sql not a string", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':1}}]}", 2, "sql" },
		{ "sql_id above int32", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql_id':2147483648}}]}", 2, "32-bit" },
		{ "sql_id a string", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql_id':'1'}}]}", 2, "32-bit" },
		{ "args not an array", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'S','args':{}}}]}", 2, "args" },
		{ "value not an object", EXEC("5"), 2, "arg 1" },
		{ "value without type", EXEC("{'value':'1'}"), 2, "type" },
		{ "unknown value type",
		    EXEC("{'type':'null'},{'type':'boolean','value':true}"), 2,
		    "arg 2: unknown value type" },
		{ "integer 12x", EXEC("{'type':'integer','value':'12x'}"), 2,
		    "integer" },
		{ "integer overflow",
		    EXEC("{'type':'integer','value':'9223372036854775808'}"),
		    2, "integer" },
		{ "integer underflow",
		    EXEC("{'type':'integer','value':'-9223372036854775809'}"),
		    2, "integer" },
		{ "integer empty string",
		    EXEC("{'type':'integer','value':''}"), 2, "integer" },
		{ "integer leading space",
		    EXEC("{'type':'integer','value':' 1'}"), 2, "integer" },
		{ "integer trailing space",
		    EXEC("{'type':'integer','value':'1 '}"), 2, "integer" },
		{ "integer with a decimal point",
		    EXEC("{'type':'integer','value':'1.0'}"), 2, "integer" },
		{ "integer a lone minus",
		    EXEC("{'type':'integer','value':'-'}"), 2, "integer" },
		{ "integer with an embedded NUL",
		    EXEC("{'type':'integer','value':'1\\u00002'}"), 2,
		    "integer" },
		{ "integer as a JSON float",
		    EXEC("{'type':'integer','value':1.5}"), 2, "integer" },
		{ "integer without value", EXEC("{'type':'integer'}"), 2,
		    "integer" },
		{ "float as a string", EXEC("{'type':'float','value':'1.5'}"),
		    2, "float" },
		{ "float without value", EXEC("{'type':'float'}"), 2,
		    "float" },
		{ "text not a string", EXEC("{'type':'text','value':5}"), 2,
		    "text" },
		{ "blob with invalid base64",
		    EXEC("{'type':'blob','base64':'Zm9!'}"), 2, "base64" },
		{ "blob with non-canonical base64",
		    EXEC("{'type':'blob','base64':'Zh=='}"), 2, "base64" },
		{ "blob after a good blob",
		    EXEC("{'type':'blob','base64':'Zm9v'},"
		    "{'type':'blob','base64':'Z'}"), 2, "arg 2" },
		{ "blob without base64", EXEC("{'type':'blob','value':'Zg=='}"),
		    2, "base64" },
		{ "named arg without name", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'S','named_args':[{'value':"
		    "{'type':'null'}}]}}]}", 2, "name" },
		{ "named arg with a bad value", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'S','named_args':[{'name':'a','value':"
		    "{'type':'blob','base64':'Zm9v'}},{'name':'b','value':"
		    "{'type':'integer','value':'x'}}]}}]}", 2, "named arg 2" },
		{ "named_args not an array", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'S','named_args':{'a':1}}}]}", 2,
		    "named_args" },
		{ "want_rows not a boolean", "{'requests':[{'type':'execute',"
		    "'stmt':{'sql':'S','want_rows':1}}]}", 2, "want_rows" },
		{ "batch without steps",
		    "{'requests':[{'type':'batch','batch':{}}]}", 2, "steps" },
		{ "batch without batch", "{'requests':[{'type':'batch'}]}", 2,
		    "steps" },
		{ "batch step not an object", STEPS("1"), 2, "step 0" },
		{ "batch step without stmt", STEPS("{'condition':null}"), 2,
		    "stmt" },
		{ "condition on the same step",
		    STEPS("{'stmt':{'sql':'A'}},{'condition':{'type':'ok',"
		    "'step':1},'stmt':{'sql':'B'}}"), 2, "earlier step" },
		{ "condition on a later step",
		    STEPS("{'condition':{'type':'error','step':1},"
		    "'stmt':{'sql':'A'}},{'stmt':{'sql':'B'}}"), 2,
		    "earlier step" },
		{ "condition on a later step, nested",
		    STEPS("{'stmt':{'sql':'A'}},{'condition':{'type':'and',"
		    "'conds':[{'type':'ok','step':0},{'type':'not','cond':"
		    "{'type':'ok','step':5}}]},'stmt':{'sql':'B'}}"), 2,
		    "earlier step" },
		{ "condition on a negative step",
		    STEPS("{'stmt':{'sql':'A'}},{'condition':{'type':'ok',"
		    "'step':-1},'stmt':{'sql':'B'}}"), 2, "step" },
		{ "condition step not a number",
		    STEPS("{'stmt':{'sql':'A'}},{'condition':{'type':'ok',"
		    "'step':'0'},'stmt':{'sql':'B'}}"), 2, "step" },
		{ "unknown condition type",
		    STEPS("{'stmt':{'sql':'A'}},{'condition':{'type':'maybe'},"
		    "'stmt':{'sql':'B'}}"), 2, "unknown condition" },
		{ "condition not an object",
		    STEPS("{'condition':'ok','stmt':{'sql':'A'}}"), 2,
		    "condition" },
		{ "not without cond",
		    STEPS("{'condition':{'type':'not'},'stmt':{'sql':'A'}}"),
		    2, "condition" },
		{ "and without conds",
		    STEPS("{'condition':{'type':'and'},'stmt':{'sql':'A'}}"),
		    2, "conds" },
		{ "is_autocommit on v2",
		    STEPS("{'condition':{'type':'is_autocommit'},"
		    "'stmt':{'sql':'A'}}"), 2, "Hrana 3" },
		{ "is_autocommit nested on v2",
		    STEPS("{'condition':{'type':'or','conds':["
		    "{'type':'is_autocommit'}]},'stmt':{'sql':'A'}}"), 2,
		    "Hrana 3" },
		{ "get_autocommit on v2",
		    "{'requests':[{'type':'get_autocommit'}]}", 2, "Hrana 3" },
		{ "store_sql without sql",
		    "{'requests':[{'type':'store_sql','sql_id':1}]}", 2,
		    "sql" },
		{ "store_sql without sql_id",
		    "{'requests':[{'type':'store_sql','sql':'S'}]}", 2,
		    "sql_id" },
		{ "close_sql without sql_id",
		    "{'requests':[{'type':'close_sql'}]}", 2, "sql_id" },
		{ "sequence with both",
		    "{'requests':[{'type':'sequence','sql':'S','sql_id':1}]}",
		    2, "both" },
		{ "describe with neither",
		    "{'requests':[{'type':'describe'}]}", 2, "neither" },
	};
	struct hrana_pipeline	 p;
	size_t			 i;
	char			*b;
	int			 rc;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&p, 0x5a, sizeof p);
		rc = dec(bad[i].body, bad[i].version, &p);
		ok(rc == -1 && err[0] != '\0' &&
		    strstr(err, bad[i].says) != NULL, "reject %s (%s)",
		    bad[i].name, err);
		if (rc == 0) {
			printf("#   accepted\n");
			hrana_pipeline_free(&p);
		} else
			ok(p.doc.v == NULL && p.reqs == NULL && p.nreqs == 0,
			    "reject %s: pipeline left empty", bad[i].name);
	}

	b = nested_conds(100);
	rc = dec(b, 3, &p);
	ok(rc == -1 && strstr(err, "nested too deeply") != NULL,
	    "reject condition nested 100 deep (%s)", err);
	if (rc == 0)
		hrana_pipeline_free(&p);
	free(b);

	b = many_requests(1024);
	if (dec_good(b, 2, &p, "1024 requests"))
		hrana_pipeline_free(&p);
	free(b);
	b = many_requests(1025);
	rc = dec(b, 2, &p);
	ok(rc == -1 && strstr(err, "too many requests") != NULL,
	    "reject 1025 requests (%s)", err);
	if (rc == 0)
		hrana_pipeline_free(&p);
	free(b);

	/* A short error buffer is truncated, not overrun. */
	{
		char	small[8];

		memset(small, 'Z', sizeof small);
		rc = hrana_decode_pipeline("[]", 2, 2, &p, small, 5);
		ok(rc == -1 && strlen(small) == 4 && small[5] == 'Z',
		    "error message fits a 5-byte buffer");
	}
}

/* --- encoding ------------------------------------------------------- */

/* Parse what is in b as one JSON value; NULL (and a diagnostic) if not. */
static json_t *
parse(const struct buf *b)
{
	json_error_t	 je;
	json_t		*j;

	j = json_loadb(b->p, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (j == NULL)
		printf("#   jansson: %s in %.*s\n", je.text, (int)b->len, b->p);
	return (j);
}

static int
buf_is(const struct buf *b, const char *want, size_t wlen)
{
	int	r = b->len == wlen && memcmp(b->p, want, wlen) == 0;

	if (!r)
		printf("#   buf: %.*s\n", (int)b->len, b->p);
	return (r);
}

static void
test_put_str(void)
{
	static const struct {
		const char	*name;
		const char	*in;
		size_t		 inlen;
		const char	*json;	/* exact encoding */
		const char	*back;	/* bytes jansson reads back */
		size_t		 backlen;
	} cases[] = {
#define C(name, in, json, back) \
	{ name, in, sizeof(in) - 1, json, back, sizeof(back) - 1 }
		C("empty", "", "\"\"", ""),
		C("plain", "hello", "\"hello\"", "hello"),
		C("quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\"",
		    "a\"b\\c"),
		C("newline tab cr", "a\nb\tc\r", "\"a\\nb\\tc\\r\"",
		    "a\nb\tc\r"),
		C("NUL", "a\0b", "\"a\\u0000b\"", "a\0b"),
		C("control 0x01", "\x01", "\"\\u0001\"", "\x01"),
		C("control 0x1f", "\x1f", "\"\\u001f\"", "\x1f"),
		C("backspace and formfeed", "\b\f", "\"\\u0008\\u000c\"",
		    "\b\f"),
		C("DEL passes", "\x7f", "\"\x7f\"", "\x7f"),
		C("slash passes", "a/b", "\"a/b\"", "a/b"),
		C("2-byte UTF-8", "caf\xc3\xa9", "\"caf\xc3\xa9\"",
		    "caf\xc3\xa9"),
		C("3-byte UTF-8", "\xe2\x98\x83", "\"\xe2\x98\x83\"",
		    "\xe2\x98\x83"),
		C("4-byte UTF-8", "\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"",
		    "\xf0\x9f\x98\x80"),
		C("U+10FFFF", "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"",
		    "\xf4\x8f\xbf\xbf"),
		C("byte 0xff", "a\xff" "b", "\"a\xef\xbf\xbd" "b\"",
		    "a\xef\xbf\xbd" "b"),
		C("lone continuation", "\x80", "\"\xef\xbf\xbd\"",
		    "\xef\xbf\xbd"),
		C("truncated at end", "a\xc3", "\"a\xef\xbf\xbd\"",
		    "a\xef\xbf\xbd"),
		C("truncated before ASCII", "\xe2\x98x",
		    "\"\xef\xbf\xbd\xef\xbf\xbdx\"",
		    "\xef\xbf\xbd\xef\xbf\xbdx"),
		C("overlong 2-byte", "\xc0\xaf",
		    "\"\xef\xbf\xbd\xef\xbf\xbd\"", "\xef\xbf\xbd\xef\xbf\xbd"),
		C("overlong 3-byte", "\xe0\x80\xaf",
		    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
		C("surrogate", "\xed\xa0\x80",
		    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
		C("above U+10FFFF", "\xf4\x90\x80\x80",
		    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
		C("byte 0xf5", "\xf5", "\"\xef\xbf\xbd\"", "\xef\xbf\xbd"),
#undef C
	};
	struct buf	 b;
	json_t		*j;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_init(&b, 1);
		hrana_put_str(&b, cases[i].in, cases[i].inlen);
		ok(buf_is(&b, cases[i].json, strlen(cases[i].json)),
		    "put_str %s: exact bytes", cases[i].name);
		j = parse(&b);
		ok(j != NULL && json_is_string(j) && bytes_eq(
		    json_string_value(j), json_string_length(j),
		    cases[i].back, cases[i].backlen),
		    "put_str %s: jansson reads it back", cases[i].name);
		json_decref(j);
		buf_free(&b);
	}

	/* Every byte value, in one string: still valid JSON. */
	{
		char	all[256];

		for (i = 0; i < 256; i++)
			all[i] = (char)i;
		buf_init(&b, 0);
		hrana_put_str(&b, all, sizeof all);
		j = parse(&b);
		ok(j != NULL && json_is_string(j) &&
		    json_string_length(j) == 128 + 128 * 3 &&
		    memcmp(json_string_value(j), all, 128) == 0,
		    "put_str all 256 bytes: ASCII kept, the rest U+FFFD");
		json_decref(j);
		buf_free(&b);
	}
}

static void
test_put_numbers(void)
{
	static const struct {
		double		 d;
		const char	*want;	/* exact, or NULL: round trip only */
	} dbl[] = {
		{ 1.5, "1.5" },
		{ 0.1, "0.1" },
		{ -2.25, "-2.25" },
		{ 0.0, "0" },
		{ 1e300, NULL },
		{ -1e-300, NULL },
		{ 1.0 / 3.0, NULL },
		{ DBL_MAX, NULL },
		{ DBL_MIN, NULL },
		{ 5e-324, NULL },
		{ 9007199254740993.0, NULL },
		{ 123456789012345678.0, NULL },
	};
	struct buf	 b;
	json_t		*j;
	size_t		 i;
	double		 back;
	int		 bad = 0, badjson = 0;
	uint64_t	 bits;

	buf_init(&b, 0);
	hrana_put_int_str(&b, INT64_MIN);
	ok(buf_is(&b, "\"-9223372036854775808\"", 22), "put_int_str INT64_MIN");
	buf_free(&b);
	buf_init(&b, 0);
	hrana_put_int_str(&b, INT64_MAX);
	ok(buf_is(&b, "\"9223372036854775807\"", 21), "put_int_str INT64_MAX");
	j = parse(&b);
	ok(j != NULL && json_is_string(j), "put_int_str: a JSON string");
	json_decref(j);
	buf_free(&b);
	buf_init(&b, 0);
	hrana_put_int_str(&b, 0);
	ok(buf_is(&b, "\"0\"", 3), "put_int_str 0");
	buf_free(&b);

	for (i = 0; i < sizeof dbl / sizeof dbl[0]; i++) {
		char	tmp[64];

		buf_init(&b, 1);
		hrana_put_double(&b, dbl[i].d);
		snprintf(tmp, sizeof tmp, "%.*s", (int)b.len, b.p);
		if (dbl[i].want != NULL)
			is_str(tmp, dbl[i].want, "put_double %.17g", dbl[i].d);
		back = strtod(tmp, NULL);
		ok(back == dbl[i].d, "put_double %.17g round-trips (%s)",
		    dbl[i].d, tmp);
		j = parse(&b);
		ok(j != NULL && json_is_number(j) &&
		    json_number_value(j) == dbl[i].d,
		    "put_double %.17g: jansson reads the same number",
		    dbl[i].d);
		json_decref(j);
		buf_free(&b);
	}

	/*
	 * -0.0: "-0" is a JSON number that JavaScript's JSON.parse reads as
	 * -0 (jansson reads it as the integer 0, so check the text).
	 */
	buf_init(&b, 0);
	hrana_put_double(&b, -0.0);
	{
		char	tmp[64];

		snprintf(tmp, sizeof tmp, "%.*s", (int)b.len, b.p);
		ok(strtod(tmp, NULL) == 0.0 && signbit(strtod(tmp, NULL)),
		    "put_double -0.0 keeps its sign (%s)", tmp);
	}
	j = parse(&b);
	ok(j != NULL && json_is_number(j), "put_double -0.0 is a JSON number");
	json_decref(j);
	buf_free(&b);

	buf_init(&b, 0);
	hrana_put_double(&b, INFINITY);
	ok(buf_is(&b, "1e999", 5), "put_double +inf is 1e999");
	buf_free(&b);
	buf_init(&b, 0);
	hrana_put_double(&b, -INFINITY);
	ok(buf_is(&b, "-1e999", 6), "put_double -inf is -1e999");
	buf_free(&b);

	/* Random finite doubles: all round-trip and all are JSON. */
	srandom(754);
	for (i = 0; i < 20000; i++) {
		double	d;
		char	tmp[64];

		bits = ((uint64_t)random() << 42) ^ ((uint64_t)random() << 21) ^
		    (uint64_t)random();
		memcpy(&d, &bits, sizeof d);
		if (!isfinite(d))
			continue;
		buf_init(&b, 0);
		hrana_put_double(&b, d);
		snprintf(tmp, sizeof tmp, "%.*s", (int)b.len, b.p);
		if (strtod(tmp, NULL) != d || signbit(strtod(tmp, NULL)) !=
		    signbit(d))
			bad++;
		if ((j = parse(&b)) == NULL)
			badjson++;
		json_decref(j);
		buf_free(&b);
	}
	is_int(bad, 0, "put_double: random doubles round-trip");
	is_int(badjson, 0, "put_double: random doubles are JSON numbers");
}

static void
test_put_blob_value_error(void)
{
	struct buf		 b;
	struct hrana_value	 v;
	unsigned char		 big[1000], *out;
	size_t			 i, olen;
	json_t			*j, *e;

	buf_init(&b, 0);
	hrana_put_blob(&b, "foob", 4);
	ok(buf_is(&b, "\"Zm9vYg==\"", 10), "put_blob foob is padded base64");
	buf_free(&b);
	buf_init(&b, 0);
	hrana_put_blob(&b, "", 0);
	ok(buf_is(&b, "\"\"", 2), "put_blob empty");
	buf_free(&b);

	/* After other content, in a buffer that must grow. */
	for (i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7 + 3);
	buf_init(&b, 1);
	buf_adds(&b, "[1,");
	hrana_put_blob(&b, big, sizeof big);
	buf_adds(&b, "]");
	j = parse(&b);
	e = json_array_get(j, 1);
	ok(json_is_string(e) && b64_decode(json_string_value(e),
	    json_string_length(e), &out, &olen) == 0 &&
	    bytes_eq(out, olen, big, sizeof big) && (free(out), 1),
	    "put_blob 1000 bytes appended: decodes back");
	json_decref(j);
	buf_free(&b);

	/* Each value type, all in one array, read back with jansson. */
	buf_init(&b, 0);
	buf_adds(&b, "[");
	memset(&v, 0, sizeof v);
	v.type = HV_NULL;
	hrana_put_value(&b, &v);
	buf_adds(&b, ",");
	v.type = HV_INTEGER;
	v.i = INT64_MIN;
	hrana_put_value(&b, &v);
	buf_adds(&b, ",");
	v.type = HV_FLOAT;
	v.f = 1.5;
	hrana_put_value(&b, &v);
	buf_adds(&b, ",");
	v.type = HV_TEXT;
	v.s = "say \"hi\"\0!";
	v.len = 10;
	hrana_put_value(&b, &v);
	buf_adds(&b, ",");
	v.type = HV_BLOB;
	v.blob = (unsigned char *)"\x00\xff\x10";
	v.len = 3;
	hrana_put_value(&b, &v);
	buf_adds(&b, "]");
	j = parse(&b);
	ok(j != NULL && json_array_size(j) == 5, "put_value: 5 values parse");
	e = json_array_get(j, 0);
	ok(json_object_size(e) == 1 && json_is_string(json_object_get(e,
	    "type")) && strcmp(json_string_value(json_object_get(e, "type")),
	    "null") == 0, "put_value null: {\"type\":\"null\"}");
	e = json_array_get(j, 1);
	ok(json_is_string(json_object_get(e, "value")) &&
	    strcmp(json_string_value(json_object_get(e, "type")),
	    "integer") == 0 && strcmp(json_string_value(json_object_get(e,
	    "value")), "-9223372036854775808") == 0,
	    "put_value integer: type integer, value a decimal string");
	e = json_array_get(j, 2);
	ok(json_is_real(json_object_get(e, "value")) &&
	    strcmp(json_string_value(json_object_get(e, "type")),
	    "float") == 0 && json_real_value(json_object_get(e, "value")) ==
	    1.5, "put_value float: type float, value 1.5");
	e = json_array_get(j, 3);
	ok(json_is_string(json_object_get(e, "value")) &&
	    strcmp(json_string_value(json_object_get(e, "type")),
	    "text") == 0 && bytes_eq(json_string_value(json_object_get(e,
	    "value")), json_string_length(json_object_get(e, "value")),
	    "say \"hi\"\0!", 10), "put_value text: exact bytes, NUL included");
	e = json_array_get(j, 4);
	ok(json_is_string(json_object_get(e, "base64")) &&
	    strcmp(json_string_value(json_object_get(e, "type")),
	    "blob") == 0 && strcmp(json_string_value(json_object_get(e,
	    "base64")), "AP8Q") == 0, "put_value blob: type blob, base64");
	json_decref(j);
	buf_free(&b);

	/* Error objects. */
	buf_init(&b, 0);
	hrana_put_error(&b, "near \"SELEC\": syntax error\n", "SQLITE_ERROR");
	j = parse(&b);
	ok(j != NULL && json_object_size(j) == 2 &&
	    json_is_string(json_object_get(j, "message")) &&
	    strcmp(json_string_value(json_object_get(j, "message")),
	    "near \"SELEC\": syntax error\n") == 0 &&
	    json_is_string(json_object_get(j, "code")) &&
	    strcmp(json_string_value(json_object_get(j, "code")),
	    "SQLITE_ERROR") == 0, "put_error: {message, code}");
	json_decref(j);
	buf_free(&b);

	/* buf_addf appends formatted text. */
	buf_init(&b, 2);
	buf_addf(&b, "%s-%d", "abc", 42);
	buf_addf(&b, "/%05d", 7);
	ok(buf_is(&b, "abc-42/00007", 12), "buf_addf appends");
	/* Longer than what is left (formatted again after growing). */
	{
		char	 longtxt[301], want[320];

		memset(longtxt, 'x', 300);
		longtxt[300] = '\0';
		buf_addf(&b, "<%s>", longtxt);
		snprintf(want, sizeof want, "abc-42/00007<%s>", longtxt);
		ok(buf_is(&b, want, 314), "buf_addf grows for a long text");
	}
	buf_free(&b);

	/* buf_add_int: decimal without printf. */
	buf_init(&b, 0);
	buf_add_int(&b, -7);
	buf_add(&b, " ", 1);
	buf_add_int(&b, 1234567890123LL);
	buf_add(&b, " ", 1);
	buf_add_int(&b, INT64_MIN);
	ok(buf_is(&b, "-7 1234567890123 -9223372036854775808", 37),
	    "buf_add_int: negative, large, INT64_MIN");
	buf_free(&b);
}

int
main(void)
{
	test_execute();
	test_batch();
	test_other_requests();
	test_bad();
	test_put_str();
	test_put_numbers();
	test_put_blob_value_error();
	return (tap_done());
}
