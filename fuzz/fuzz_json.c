/*
 * fuzz_json.c: libFuzzer target for tenantd/jsonr.c, the reader of
 * request bodies, against jansson.
 *
 * Each input is a body.  The target checks, and abort()s when one does
 * not hold:
 * - jdoc_parse() accepts exactly what json_loadb(JSON_REJECT_DUPLICATES |
 *   JSON_ALLOW_NUL) accepts, except that jansson skips a NUL byte that
 *   ends a number or a literal ("[1\0]" reads as [1]), where jsonr
 *   refuses a NUL byte outside a string as any other stray byte: with a
 *   NUL byte in the input, only a refusal by jansson must be shared;
 * - what it accepts reads as the same values (jv_same: types, integers,
 *   the bits of reals, string bytes, members in order, every key found
 *   by jv_get), and every node is inside the document;
 * - a refusal comes with a message and leaves the document empty.
 * ASan, UBSan and LeakSanitizer catch the rest.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/jv_jansson.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_json: broken: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jdoc	 d;
	json_t		*j;
	char		 err[256];
	int		 rc;

	err[0] = '\0';
	rc = jdoc_parse(&d, (const char *)data, size, err, sizeof err);
	j = jansson_read((const char *)data, size);
	check(rc == 0 || rc == -1, "return code not 0 or -1");
	if (rc != 0) {
		check(j == NULL || memchr(data, '\0', size) != NULL,
		    "refused what jansson reads");
		check(err[0] != '\0', "refusal without a message");
		check(d.v == NULL && d.s == NULL && d.nv == 0,
		    "refusal left a document");
		json_decref(j);
		return (0);
	}
	check(j != NULL, "read what jansson refuses");
	check(d.nv > 0 && d.v[0].skip == d.nv, "top value does not span "
	    "the document");
	check(jv_same(&d.v[0], j), "read differently from jansson");
	json_decref(j);
	jdoc_free(&d);
	return (0);
}
