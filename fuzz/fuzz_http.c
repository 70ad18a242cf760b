/*
 * fuzz_http.c: libFuzzer target for the HTTP/1.1 request head parser in
 * tenantd/http.c, the first code every byte from a client reaches.
 *
 * The input is a request head as conn_process() hands it over: the bytes
 * before the first blank line (CRLF CRLF), NUL-terminated, possibly with
 * NUL bytes inside.  On success the parse must give what the rest of the
 * daemon relies on, and what RFC 9110/9112 require of a server:
 * - a method of 1..16 token characters; a path starting with '/' and a
 *   query of visible ASCII only, no '?' left in the path;
 * - at most HTTP_MAX_HEADERS headers, each name a non-empty token, each
 *   value trimmed of blanks and free of CR, LF and NUL (RFC 9110 5.5: a
 *   recipient must reject or replace them; accepting a head that holds
 *   NUL or a bare CR or LF lets a proxy and tenantd disagree about where
 *   headers end: request smuggling);
 * - at most one Host (RFC 9112 3.2: more than one must get 400), at most
 *   one Content-Length and no Transfer-Encoding; content_length equal to
 *   the header's value and at most max_body;
 * - keep-alive exactly as HTTP/1.0 and 1.1 define it.
 * A refusal must be one of 400, 413, 431, 501 with a message.  Every
 * pointer must stay inside the head.  abort() on a broken promise.
 * Single-threaded.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tenantd.h"


#define FUZZ_MAX_BODY	(8u * 1024 * 1024)	/* --max-body default */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_http: broken: %s\n", what);
		abort();
	}
}

static int
tchar(unsigned char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || (ch != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", ch) != NULL));
}

/* A NUL-terminated string that lies inside head[0..len]. */
static void
check_inside(const char *s, const char *head, size_t len, const char *what)
{
	check(s != NULL && s >= head && s <= head + len &&
	    s + strlen(s) <= head + len, what);
}

static void
check_visible(const char *s, const char *what)
{
	for (; *s != '\0'; s++)
		check((unsigned char)*s > 0x20 && (unsigned char)*s < 0x7f, what);
}

/* The HTTP minor version from the input's request line, or -1. */
static int
input_minor(const uint8_t *data, size_t size)
{
	const uint8_t	*eol;
	size_t		 n;

	eol = memchr(data, '\r', size);
	n = eol != NULL ? (size_t)(eol - data) : size;
	if (n >= 9 && memcmp(data + n - 9, " HTTP/1.1", 9) == 0)
		return (1);
	if (n >= 9 && memcmp(data + n - 9, " HTTP/1.0", 9) == 0)
		return (0);
	return (-1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req	*req;
	char		*head;
	const char	*msg = NULL, *conn = NULL, *cl = NULL, *v;
	size_t		 clen = (size_t)-1, nhost = 0, ncl = 0;
	int		 rc, keepalive = -1, i, minor;

	if ((head = malloc(size + 1)) == NULL ||
	    (req = calloc(1, sizeof *req)) == NULL)
		abort();
	memcpy(head, data, size);
	head[size] = '\0';

	rc = http_parse_request(head, size, req, FUZZ_MAX_BODY, &clen,
	    &keepalive, &msg);
	if (rc != 0) {
		check(rc == 400 || rc == 413 || rc == 431 || rc == 501,
		    "refused with an unexpected status");
		check(msg != NULL && msg[0] != '\0', "refused without a reason");
		goto out;
	}

	check(memchr(data, '\0', size) == NULL,
	    "accepted a head with a NUL byte");

	check_inside(req->method, head, size, "method outside the head");
	check(req->method[0] != '\0' && strlen(req->method) <= 16,
	    "method empty or too long");
	for (v = req->method; *v != '\0'; v++)
		check(tchar((unsigned char)*v), "method is not a token");

	check_inside(req->path, head, size, "path outside the head");
	check(req->path[0] == '/', "path does not start with '/'");
	check(strchr(req->path, '?') == NULL, "'?' left in the path");
	check_visible(req->path, "path holds a blank or control byte");
	if (req->query != NULL) {
		check_inside(req->query, head, size, "query outside the head");
		check_visible(req->query, "query holds a blank or control byte");
	}

	check(req->nheaders >= 0 && req->nheaders <= HTTP_MAX_HEADERS,
	    "header count out of range");
	for (i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name;
		const char *value = req->headers[i].value;
		size_t vlen;

		check_inside(name, head, size, "header name outside the head");
		check_inside(value, head, size,
		    "header value outside the head");
		check(name[0] != '\0', "empty header name");
		for (v = name; *v != '\0'; v++)
			check(tchar((unsigned char)*v),
			    "header name is not a token");
		vlen = strlen(value);
		check(vlen == 0 || (value[0] != ' ' && value[0] != '\t' &&
		    value[vlen - 1] != ' ' && value[vlen - 1] != '\t'),
		    "header value not trimmed");
		check(strpbrk(value, "\r\n") == NULL,
		    "header value holds CR or LF (RFC 9110 5.5)");
		if (strcasecmp(name, "Host") == 0)
			nhost++;
		if (strcasecmp(name, "Content-Length") == 0) {
			ncl++;
			cl = value;
		}
		if (strcasecmp(name, "Connection") == 0 && conn == NULL)
			conn = value;
		check(strcasecmp(name, "Transfer-Encoding") != 0,
		    "accepted Transfer-Encoding");
	}
	check(nhost <= 1, "accepted more than one Host (RFC 9112 3.2)");
	check(ncl <= 1, "accepted more than one Content-Length");
	check(clen <= FUZZ_MAX_BODY, "content length over max_body");
	if (cl != NULL)
		check(strspn(cl, "0123456789") == strlen(cl) && cl[0] != '\0' &&
		    strtoull(cl, NULL, 10) == clen,
		    "content length differs from the header");
	else
		check(clen == 0, "content length without a header");

	minor = input_minor(data, size);
	check(minor == 0 || minor == 1, "accepted a version other than 1.0/1.1");
	if (minor == 0)
		check(keepalive == (conn != NULL &&
		    strcasecmp(conn, "keep-alive") == 0),
		    "HTTP/1.0 keep-alive wrong");
	else
		check(keepalive == (conn == NULL ||
		    strcasecmp(conn, "close") != 0),
		    "HTTP/1.1 keep-alive wrong");
out:
	free(req);
	free(head);
	return (0);
}
