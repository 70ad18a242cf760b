/*
 * jv_jansson.h: compare jsonr.c's reading of a body with jansson's, for
 * tests/unit/test_jsonr.c and fuzz/fuzz_json.c.
 *
 *	jv_same(v, j)		1 if the jsonr value v and the jansson value j
 *				are the same JSON (types, numbers exactly,
 *				string bytes, members in order)
 *	jansson_read(p, n)	json_loadb as tenantd read bodies before jsonr
 *				(duplicates refused, NUL allowed), or NULL
 */
#ifndef JV_JANSSON_H
#define JV_JANSSON_H

#include <string.h>

#include <jansson.h>

#include "tenantd.h"

static json_t *
jansson_read(const char *p, size_t n)
{
	json_error_t	 jerr;

	return (json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &jerr));
}

static int
jv_same(const struct jv *v, json_t *j)
{
	const struct jv	*e;
	const char	*key;
	json_t		*x;
	size_t		 i;

	switch (v->type) {
	case JV_NULL:
		return (json_is_null(j));
	case JV_TRUE:
		return (json_is_true(j));
	case JV_FALSE:
		return (json_is_false(j));
	case JV_INT:
		return (json_is_integer(j) && json_integer_value(j) == v->u.i);
	case JV_REAL:
		/* the same strtod on the same text: the same bits */
		return (json_is_real(j) && memcmp(&v->u.d,
		    &(double){ json_real_value(j) }, sizeof v->u.d) == 0);
	case JV_STR:
		return (json_is_string(j) && json_string_length(j) == v->n &&
		    memcmp(json_string_value(j), v->u.s, v->n) == 0 &&
		    v->u.s[v->n] == '\0');
	case JV_ARR:
		if (!json_is_array(j) || json_array_size(j) != v->n)
			return (0);
		for (i = 0, e = jv_first(v); i < v->n; i++, e = jv_next(e))
			if (!jv_same(e, json_array_get(j, i)))
				return (0);
		return (e == jv_next(v));
	case JV_OBJ:
		if (!json_is_object(j) || json_object_size(j) != v->n)
			return (0);
		for (i = 0, e = jv_first(v); i < v->n; i++) {
			if (e->type != JV_STR || strlen(e->u.s) != e->n)
				return (0);
			key = e->u.s;
			if ((x = json_object_get(j, key)) == NULL ||
			    !jv_same(e + 1, x) || jv_get(v, key) != e + 1)
				return (0);
			e = jv_next(e + 1);
		}
		return (e == jv_next(v));
	}
	return (0);
}

#endif
