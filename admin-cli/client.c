/*
 * client.c: a small blocking HTTP/1.1 client for tenantctl.
 *
 * One request per connection: connect (a unix socket, or TCP to whatever
 * getaddrinfo(3) returns for the host, IPv4 or IPv6), send the request with
 * "Connection: close", read until the response is complete and close.  The
 * end of the body is found from chunked transfer-encoding, Content-Length,
 * or EOF, in that order of precedence (RFC 9112 section 6.3).  Interim 1xx
 * responses are skipped.
 *
 * Every wait (connect, send, receive) is a poll(2) against one deadline
 * taken when the request starts, so a daemon that stops answering costs at
 * most the timeout.  The socket is non-blocking throughout.
 *
 * The daemon's bytes are untrusted input: the parser checks every length
 * before it copies, caps the head at CLIENT_MAX_HEAD bytes and
 * CLIENT_MAX_HEADERS fields and the decoded body at CLIENT_MAX_BODY, and
 * turns anything malformed into an error message, never a crash.  Input is
 * parsed incrementally as it arrives and consumed bytes are dropped, so
 * the input buffer never holds more than one unfinished line plus one read.
 *
 * client_download is the same exchange with the body of a 2xx response
 * handed to a sink (struct client_sink) piece by piece instead of kept in
 * memory, so an export of any size streams to a file: every check above
 * still applies but the CLIENT_MAX_BODY cap (a Content-Length must only
 * fit in 63 bits).  Other statuses are buffered as usual, so error bodies
 * still arrive as JSON.  A download's timeout is a limit on silence: each
 * read that brings bytes moves the deadline, so a slow but steady transfer
 * of a large file is not cut off while a stalled one still is.
 *
 * client_upload sends the request body from a file (struct client_source)
 * in pieces instead of from memory, so an import of any size streams from
 * its file descriptor.  The head carries "Expect: 100-continue" and the
 * body waits up to CLIENT_CONTINUE_MS for the interim 100: a daemon that
 * refuses from the head alone (413 for a body over its limit) answers
 * instead, and that answer is read and returned without sending the body,
 * so the user sees the daemon's reason rather than a broken pipe.  A server that ignores Expect costs that wait once.  While the
 * body goes out, the socket is polled for input too: a daemon that gives
 * up midway (disk full) answers and closes, and the upload stops to read
 * that answer.  The timeout is a limit on silence while the body is sent,
 * then the wait for the answer is reply_timeout_ms (the daemon checks the
 * upload before it answers).
 *
 * Errors are returned as text in a caller's buffer, each naming the
 * endpoint.  Nothing here prints, and the bearer token never appears in a
 * message.  Single-threaded; no global state.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"
#include "tenantctl.h"

#define CLIENT_READ_SIZE	16384
#define CLIENT_UPLOAD_SIZE	65536	/* one read of the file to upload */
#define CLIENT_CONTINUE_MS	1000	/* wait for 100 Continue */
#define CLIENT_MAX_CHUNK_LINE	1024	/* chunk size plus extensions */

enum client_state {
	CLIENT_STATUS,		/* waiting for a status line */
	CLIENT_HEADERS,		/* header fields, until an empty line */
	CLIENT_BODY_LENGTH,	/* Content-Length bytes */
	CLIENT_BODY_EOF,	/* everything until the peer closes */
	CLIENT_CHUNK_SIZE,	/* chunk-size [; ext] CRLF */
	CLIENT_CHUNK_DATA,	/* chunk bytes */
	CLIENT_CHUNK_END,	/* the CRLF after a chunk */
	CLIENT_TRAILERS,	/* trailer fields, until an empty line */
	CLIENT_DONE
};

/* One exchange: the socket, the unparsed input and the parser state. */
struct client_conn {
	const struct client_endpoint	*ep;
	struct client_response		*resp;
	int				 fd;
	uint64_t			 deadline;	/* time_mono_us() */
	int				 timeout_ms;

	char				*in;		/* unconsumed input */
	size_t				 inlen;
	size_t				 insize;

	const struct client_sink	*sink;		/* NULL: buffer */
	const struct client_source	*src;		/* NULL: body in memory */
	int				 src_failed;
	int				 interim;	/* 1xx heads seen */
	int				 streaming;	/* body to the sink */
	int				 sink_failed;
	uint64_t			 received;	/* body bytes so far */

	enum client_state		 state;
	size_t				 headbytes;	/* head + trailers */
	uint64_t			 remaining;	/* in body or chunk */
	size_t				 bodysize;	/* allocated */
	int				 has_length;
	uint64_t			 length;
	int				 has_te;
	int				 te_chunked;

	char				*err;
	size_t				 errlen;
};

static void	client_error(struct client_conn *, const char *, ...)
		    printflike(2, 3);

static void
client_error(struct client_conn *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* A protocol error: the daemon sent something that is not HTTP/1.1. */
static int
client_malformed(struct client_conn *c, const char *why)
{
	client_error(c, "malformed response from %s: %s", c->ep->name, why);
	return (-1);
}

/*
 * Point an endpoint at a unix socket.  The endpoint must be empty or
 * cleared; it copies the path.
 */
void
client_endpoint_unix(struct client_endpoint *ep, const char *path)
{
	memset(ep, 0, sizeof *ep);
	ep->type = CLIENT_UNIX;
	ep->path = xstrdup(path);
	ep->hosthdr = xstrdup("localhost");
	xasprintf(&ep->name, "unix socket %s", path);
}

/*
 * Point an endpoint at an http://HOST[:PORT][/PREFIX] URL.  HOST is a
 * name, an IPv4 address or a bracketed IPv6 address; PORT defaults to 80;
 * a path prefix is put in front of every request path.  Returns 0, or -1
 * with a message in err (the endpoint is then left cleared).
 */
int
client_endpoint_url(struct client_endpoint *ep, const char *url, char *err,
    size_t errlen)
{
	const char	*auth, *p, *hostend, *portstr = NULL;
	char		*host = NULL, *port = NULL, *base = NULL;
	size_t		 authlen, hostlen, i;
	long		 portnum;
	char		*end;

	memset(ep, 0, sizeof *ep);
	if (strncasecmp(url, "http://", 7) != 0) {
		if (strstr(url, "://") != NULL)
			snprintf(err, errlen, "unsupported URL %s: only "
			    "http:// URLs are supported", url);
		else
			snprintf(err, errlen, "invalid URL %s: expected "
			    "http://HOST:PORT", url);
		return (-1);
	}
	for (p = url; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			snprintf(err, errlen, "invalid URL %s: it contains "
			    "spaces or control characters", url);
			return (-1);
		}
	}
	auth = url + 7;
	authlen = strcspn(auth, "/?#");
	if (auth[authlen] == '?' || auth[authlen] == '#' ||
	    strpbrk(auth + authlen, "?#") != NULL) {
		snprintf(err, errlen, "invalid URL %s: a query or fragment "
		    "is not allowed", url);
		return (-1);
	}
	if (memchr(auth, '@', authlen) != NULL) {
		snprintf(err, errlen, "invalid URL %s: user information is "
		    "not supported", url);
		return (-1);
	}

	if (authlen > 0 && auth[0] == '[') {
		hostend = memchr(auth, ']', authlen);
		if (hostend == NULL || hostend == auth + 1) {
			snprintf(err, errlen, "invalid URL %s: bad IPv6 "
			    "address", url);
			return (-1);
		}
		host = xstrndup(auth + 1, hostend - auth - 1);
		p = hostend + 1;
		if (p < auth + authlen) {
			if (*p != ':') {
				snprintf(err, errlen, "invalid URL %s: "
				    "expected ':' after ']'", url);
				goto fail;
			}
			portstr = p + 1;
		}
	} else {
		hostend = memchr(auth, ':', authlen);
		if (hostend == NULL)
			hostend = auth + authlen;
		else
			portstr = hostend + 1;
		hostlen = hostend - auth;
		if (hostlen == 0) {
			snprintf(err, errlen, "invalid URL %s: no host", url);
			return (-1);
		}
		host = xstrndup(auth, hostlen);
	}

	if (portstr != NULL) {
		port = xstrndup(portstr, auth + authlen - portstr);
		for (i = 0; port[i] != '\0'; i++) {
			if (port[i] < '0' || port[i] > '9')
				break;
		}
		errno = 0;
		portnum = strtol(port, &end, 10);
		if (port[0] == '\0' || port[i] != '\0' || *end != '\0' ||
		    errno != 0 || portnum < 1 || portnum > 65535) {
			snprintf(err, errlen, "invalid URL %s: bad port", url);
			goto fail;
		}
		free(port);
		xasprintf(&port, "%ld", portnum);
	} else
		port = xstrdup("80");

	/* The prefix keeps its inner slashes but loses the trailing ones. */
	base = xstrdup(auth + authlen);
	i = strlen(base);
	while (i > 0 && base[i - 1] == '/')
		base[--i] = '\0';

	ep->type = CLIENT_TCP;
	ep->host = host;
	ep->port = port;
	ep->base = base;
	if (strchr(host, ':') != NULL)
		xasprintf(&ep->hosthdr, "[%s]:%s", host, port);
	else
		xasprintf(&ep->hosthdr, "%s:%s", host, port);
	xasprintf(&ep->name, "http://%s%s", ep->hosthdr, base);
	return (0);

fail:
	free(port);
	free(host);
	return (-1);
}

/* Free what an endpoint owns and zero it.  Safe on a zeroed endpoint. */
void
client_endpoint_clear(struct client_endpoint *ep)
{
	free(ep->path);
	free(ep->host);
	free(ep->port);
	free(ep->base);
	free(ep->hosthdr);
	free(ep->name);
	memset(ep, 0, sizeof *ep);
}

/* Free what a response owns and zero it.  Safe on a zeroed response. */
void
client_response_clear(struct client_response *resp)
{
	size_t	i;

	for (i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->reason);
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}

/*
 * The value of the last header called name (case-insensitive), or NULL.
 * Borrowed from the response.
 */
const char *
client_header(const struct client_response *resp, const char *name)
{
	size_t	i;

	for (i = resp->nheaders; i > 0; i--) {
		if (strcasecmp(resp->headers[i - 1].name, name) == 0)
			return (resp->headers[i - 1].value);
	}
	return (NULL);
}

/*
 * Percent-encode s for a query value: everything but the RFC 3986
 * unreserved characters.  Returns a new string.
 */
char *
client_urlencode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			*out, *o;

	out = o = xmalloc(strlen(s) * 3 + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			*o++ = (char)*p;
		else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return (out);
}

/* Milliseconds left before the deadline, 0 when it has passed. */
static int
client_left_ms(struct client_conn *c)
{
	uint64_t	now = time_mono_us(), left;

	if (now >= c->deadline)
		return (0);
	left = (c->deadline - now + 999) / 1000;
	if (left > INT_MAX)
		return (INT_MAX);
	return ((int)left);
}

/*
 * Wait until the socket is ready for events.  Returns 1 when ready, 0 when
 * the deadline passed, -1 with errno set if poll failed.
 */
static int
client_wait(struct client_conn *c, short events)
{
	struct pollfd	pfd;
	int		ms, n;

	for (;;) {
		if ((ms = client_left_ms(c)) == 0)
			return (0);
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n > 0)
			return (1);
	}
}

static int
client_socket(int domain, int type, int protocol)
{
	int	fd, flags;

	if ((fd = socket(domain, type, protocol)) == -1)
		return (-1);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		close(fd);
		return (-1);
	}
#ifdef SO_NOSIGPIPE
	flags = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &flags, sizeof flags);
#endif
	return (fd);
}

/*
 * Connect c->fd to addr before the deadline.  Returns 0, or -1 with errno
 * set (ETIMEDOUT when the deadline passed).
 */
static int
client_connect_fd(struct client_conn *c, const struct sockaddr *addr,
    socklen_t addrlen)
{
	int		error, r;
	socklen_t	len;

	for (;;) {
		if (connect(c->fd, addr, addrlen) == 0)
			return (0);
		if (errno == EINPROGRESS || errno == EINTR)
			break;
		if (errno != EAGAIN)
			return (-1);
		/* A unix socket whose backlog is full: try again soon. */
		if ((r = client_left_ms(c)) == 0) {
			errno = ETIMEDOUT;
			return (-1);
		}
		poll(NULL, 0, r < 10 ? r : 10);
	}

	if ((r = client_wait(c, POLLOUT)) == -1)
		return (-1);
	if (r == 0) {
		errno = ETIMEDOUT;
		return (-1);
	}
	len = sizeof error;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		return (-1);
	if (error != 0) {
		errno = error;
		return (-1);
	}
	return (0);
}

static int
client_connect_unix(struct client_conn *c)
{
	struct sockaddr_un	sun;
	size_t			len = strlen(c->ep->path);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (len >= sizeof sun.sun_path) {
		client_error(c, "cannot connect to %s: the path is longer "
		    "than %zu bytes", c->ep->name, sizeof sun.sun_path - 1);
		return (-1);
	}
	memcpy(sun.sun_path, c->ep->path, len);

	if ((c->fd = client_socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		goto fail;
	if (client_connect_fd(c, (struct sockaddr *)&sun, sizeof sun) == -1)
		goto fail;
	return (0);

fail:
	client_error(c, "cannot connect to %s: %s", c->ep->name,
	    strerror(errno));
	return (-1);
}

static int
client_connect_tcp(struct client_conn *c)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 error, saved = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	error = getaddrinfo(c->ep->host, c->ep->port, &hints, &res);
	if (error != 0) {
		client_error(c, "cannot connect to %s: %s: %s", c->ep->name,
		    c->ep->host, error == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(error));
		return (-1);
	}

	/* Try each address in turn, as long as the deadline allows. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = client_socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol);
		if (c->fd == -1) {
			saved = errno;
			continue;
		}
		if (client_connect_fd(c, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(c->fd);
		c->fd = -1;
		if (saved == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (c->fd == -1) {
		client_error(c, "cannot connect to %s: %s", c->ep->name,
		    strerror(saved != 0 ? saved : ECONNREFUSED));
		return (-1);
	}
	return (0);
}

/* Wipe memory that held the bearer token before it is freed. */
static void
client_wipe(char *p, size_t len)
{
	volatile char	*v = p;

	while (len-- > 0)
		*v++ = '\0';
}

/*
 * Send the head and, unless the body comes from a file (c->src), the body.
 * Returns 0, 1 if the daemon closed the connection early (its response may
 * still be waiting to be read), or -1 with an error.
 */
static int
client_send(struct client_conn *c, const struct client_request *req)
{
	const struct client_source	*src = c->src;
	const char			*base = "", *p;
	char				*head, *auth = NULL;
	size_t				 headlen, off = 0, total, n;
	uint64_t			 length;
	ssize_t				 w;
	int				 r, flags = 0, ret = -1;

	for (p = req->path; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			fatalx("%s: bad request path", __func__);
	}
	if (c->ep->type == CLIENT_TCP)
		base = c->ep->base;
	if (req->token != NULL)
		xasprintf(&auth, "Authorization: Bearer %s\r\n", req->token);
	if (src != NULL)
		length = src->length;
	else
		length = req->body != NULL ? req->bodylen : 0;
	headlen = xasprintf(&head,
	    "%s %s%s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: tenantctl/%s\r\n"
	    "Accept: %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %llu\r\n"
	    "%s%s"
	    "Connection: close\r\n"
	    "\r\n",
	    req->method, base, req->path, c->ep->hosthdr, TENANTD_VERSION,
	    req->accept != NULL ? req->accept : "application/json",
	    req->content_type != NULL ? req->content_type : "application/json",
	    (unsigned long long)length,
	    src != NULL && length > 0 ? "Expect: 100-continue\r\n" : "",
	    auth != NULL ? auth : "");

#ifdef MSG_NOSIGNAL
	flags = MSG_NOSIGNAL;
#endif
	total = headlen;
	if (src == NULL && req->body != NULL)
		total += req->bodylen;
	while (off < total) {
		if (off < headlen)
			w = send(c->fd, head + off, headlen - off, flags);
		else {
			n = off - headlen;
			w = send(c->fd, req->body + n, req->bodylen - n, flags);
		}
		if (w >= 0) {
			off += (size_t)w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET) {
			ret = 1;
			goto out;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			goto fail;
		if ((r = client_wait(c, POLLOUT)) == -1)
			goto fail;
		if (r == 0) {
			client_error(c, "timed out sending the request to %s "
			    "after %g seconds", c->ep->name,
			    c->timeout_ms / 1000.0);
			goto out;
		}
	}
	ret = 0;
	goto out;

fail:
	client_error(c, "cannot send the request to %s: %s", c->ep->name,
	    strerror(errno));
out:
	client_wipe(head, headlen);
	free(head);
	if (auth != NULL) {
		client_wipe(auth, strlen(auth));
		free(auth);
	}
	return (ret);
}

/*
 * Find the next line at c->in + off, at most limit bytes long with its
 * line end.  On success the line is NUL-terminated in place without its
 * CRLF (or bare LF), and *used is its length on the wire.  Returns 1 with a
 * line, 0 if more input is needed, -1 if the line is too long.
 */
static int
client_line(struct client_conn *c, size_t off, size_t limit, char **line,
    size_t *len, size_t *used)
{
	char	*start = c->in + off, *nl;
	size_t	 avail = c->inlen - off;

	nl = memchr(start, '\n', avail);
	if (nl == NULL)
		return (avail >= limit ? -1 : 0);
	*used = nl - start + 1;
	if (*used > limit)
		return (-1);
	*len = nl - start;
	if (*len > 0 && start[*len - 1] == '\r')
		(*len)--;
	start[*len] = '\0';
	*line = start;
	return (1);
}

static int
client_parse_status(struct client_conn *c, const char *line, size_t len)
{
	struct client_response	*resp = c->resp;

	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 ||
	    line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
	    line[9] < '1' || line[9] > '5' ||
	    line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9' ||
	    (line[12] != '\0' && line[12] != ' '))
		return (client_malformed(c, "bad status line"));
	resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	free(resp->reason);
	resp->reason = xstrdup(line[12] == ' ' ? line + 13 : "");
	c->state = CLIENT_HEADERS;
	return (0);
}

static int
client_token_char(unsigned char ch)
{
	return (ch > 0x20 && ch < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", ch)
	    == NULL);
}

/* Is the last element of a comma-separated list "chunked"? */
static int
client_te_chunked(const char *value)
{
	const char	*last = strrchr(value, ',');
	size_t		 len;

	last = last != NULL ? last + 1 : value;
	while (*last == ' ' || *last == '\t')
		last++;
	len = strlen(last);
	while (len > 0 && (last[len - 1] == ' ' || last[len - 1] == '\t'))
		len--;
	return (len == 7 && strncasecmp(last, "chunked", 7) == 0);
}

/*
 * Will the body of the response being parsed go to a sink?  Only a 2xx
 * response of a download does; its body has no size cap.
 */
static int
client_to_sink(struct client_conn *c)
{
	return (c->sink != NULL && c->resp->status >= 200 &&
	    c->resp->status <= 299);
}

/* Is a body or chunk of n bytes too large?  Sets the error if so. */
static int
client_too_large(struct client_conn *c, uint64_t n)
{
	if (client_to_sink(c) || n <= CLIENT_MAX_BODY)
		return (0);
	client_error(c, "response from %s is too large (the limit is %d "
	    "bytes)", c->ep->name, CLIENT_MAX_BODY);
	return (1);
}

static int
client_parse_length(struct client_conn *c, const char *value)
{
	uint64_t	n = 0;
	unsigned	d;

	if (*value == '\0')
		return (client_malformed(c, "empty Content-Length"));
	for (; *value != '\0'; value++) {
		if (*value < '0' || *value > '9')
			return (client_malformed(c, "bad Content-Length"));
		d = (unsigned)(*value - '0');
		if (n > ((uint64_t)INT64_MAX - d) / 10)
			return (client_malformed(c, "Content-Length is too "
			    "large"));
		n = n * 10 + d;
		if (client_too_large(c, n))
			return (-1);
	}
	if (c->has_length && c->length != n)
		return (client_malformed(c, "conflicting Content-Length"));
	c->has_length = 1;
	c->length = n;
	return (0);
}

static int
client_parse_header(struct client_conn *c, char *line, size_t len)
{
	struct client_response	*resp = c->resp;
	struct client_header	*h;
	char			*colon, *value;
	size_t			 i, vlen;

	if (line[0] == ' ' || line[0] == '\t')
		return (client_malformed(c, "folded header line"));
	if ((colon = memchr(line, ':', len)) == NULL || colon == line)
		return (client_malformed(c, "bad header line"));
	for (i = 0; line + i < colon; i++) {
		if (!client_token_char((unsigned char)line[i]))
			return (client_malformed(c, "bad header name"));
	}
	if (resp->nheaders == CLIENT_MAX_HEADERS)
		return (client_malformed(c, "too many header fields"));

	value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	vlen = strlen(value);
	while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		vlen--;
	value[vlen] = '\0';

	resp->headers = xreallocarray(resp->headers, resp->nheaders + 1,
	    sizeof *resp->headers);
	h = &resp->headers[resp->nheaders++];
	h->name = xstrndup(line, colon - line);
	h->value = xstrdup(value);

	if (strcasecmp(h->name, "Transfer-Encoding") == 0) {
		c->has_te = 1;
		c->te_chunked = client_te_chunked(value);
	} else if (strcasecmp(h->name, "Content-Length") == 0)
		return (client_parse_length(c, value));
	return (0);
}

/* The empty line after the headers: decide how the body ends. */
static int
client_parse_head_end(struct client_conn *c)
{
	struct client_response	*resp = c->resp;
	size_t			 i;

	if (resp->status >= 100 && resp->status < 200) {
		if (resp->status == 101)
			return (client_malformed(c, "unexpected 101 "
			    "Switching Protocols"));
		/* An interim response: forget it, read the next head. */
		c->interim++;
		for (i = 0; i < resp->nheaders; i++) {
			free(resp->headers[i].name);
			free(resp->headers[i].value);
		}
		free(resp->headers);
		resp->headers = NULL;
		resp->nheaders = 0;
		c->has_length = c->has_te = c->te_chunked = 0;
		c->state = CLIENT_STATUS;
		return (0);
	}
	if (client_to_sink(c)) {
		c->streaming = 1;
		if (c->sink->start(c->sink->arg, resp, c->has_length &&
		    !c->has_te && resp->status != 204 ? (int64_t)c->length :
		    -1, c->err, c->errlen) != 0) {
			c->sink_failed = 1;
			return (-1);
		}
	}
	if (resp->status == 204 || resp->status == 304)
		c->state = CLIENT_DONE;
	else if (c->has_te)
		c->state = c->te_chunked ? CLIENT_CHUNK_SIZE : CLIENT_BODY_EOF;
	else if (c->has_length) {
		c->remaining = c->length;
		c->state = c->length == 0 ? CLIENT_DONE : CLIENT_BODY_LENGTH;
	} else
		c->state = CLIENT_BODY_EOF;
	return (0);
}

static int
client_parse_chunk_size(struct client_conn *c, const char *line)
{
	const char	*p;
	uint64_t	 n = 0;
	unsigned	 d;

	for (p = line; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (n > (UINT64_MAX - d) / 16)
			return (client_malformed(c, "chunk size does not fit "
			    "in 64 bits"));
		n = n * 16 + d;
		if (client_too_large(c, n))
			return (-1);
	}
	if (p == line)
		return (client_malformed(c, "bad chunk size"));
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0' && *p != ';')
		return (client_malformed(c, "bad chunk size"));
	if (n == 0)
		c->state = CLIENT_TRAILERS;
	else {
		c->remaining = n;
		c->state = CLIENT_CHUNK_DATA;
	}
	return (0);
}

/* Handle one complete line in whichever state wants lines. */
static int
client_parse_line(struct client_conn *c, char *line, size_t len)
{
	if (memchr(line, '\0', len) != NULL)
		return (client_malformed(c, "a line contains a NUL byte"));
	switch (c->state) {
	case CLIENT_STATUS:
		return (client_parse_status(c, line, len));
	case CLIENT_HEADERS:
		if (len == 0)
			return (client_parse_head_end(c));
		return (client_parse_header(c, line, len));
	case CLIENT_CHUNK_SIZE:
		return (client_parse_chunk_size(c, line));
	case CLIENT_CHUNK_END:
		if (len != 0)
			return (client_malformed(c, "chunk data is longer "
			    "than its size"));
		c->state = CLIENT_CHUNK_SIZE;
		return (0);
	case CLIENT_TRAILERS:
		if (len == 0)
			c->state = CLIENT_DONE;
		return (0);
	default:
		fatalx("%s: bad state %d", __func__, c->state);
	}
}

static int
client_body_append(struct client_conn *c, const char *data, size_t len)
{
	struct client_response	*resp = c->resp;
	size_t			 want;

	if (c->streaming) {
		if (c->sink->write(c->sink->arg, data, len, c->err,
		    c->errlen) != 0) {
			c->sink_failed = 1;
			return (-1);
		}
		c->received += len;
		return (0);
	}
	if (len > CLIENT_MAX_BODY - resp->bodylen) {
		client_error(c, "response from %s is too large (the limit is "
		    "%d bytes)", c->ep->name, CLIENT_MAX_BODY);
		return (-1);
	}
	want = resp->bodylen + len + 1;
	if (want > c->bodysize) {
		if (c->bodysize == 0)
			c->bodysize = 1024;
		while (c->bodysize < want)
			c->bodysize *= 2;
		resp->body = xrealloc(resp->body, c->bodysize);
	}
	memcpy(resp->body + resp->bodylen, data, len);
	resp->bodylen += len;
	resp->body[resp->bodylen] = '\0';
	return (0);
}

/* The daemon closed the connection before the response was complete. */
static int
client_parse_eof(struct client_conn *c)
{
	switch (c->state) {
	case CLIENT_STATUS:
		if (c->headbytes == 0 && c->inlen == 0) {
			client_error(c, "%s closed the connection without a "
			    "response", c->ep->name);
			return (-1);
		}
		/* FALLTHROUGH */
	case CLIENT_HEADERS:
		return (client_malformed(c, "the connection closed inside "
		    "the headers"));
	case CLIENT_BODY_LENGTH:
		client_error(c, "malformed response from %s: the connection "
		    "closed after %llu of %llu body bytes", c->ep->name,
		    (unsigned long long)(c->length - c->remaining),
		    (unsigned long long)c->length);
		return (-1);
	case CLIENT_BODY_EOF:
		c->state = CLIENT_DONE;
		return (1);
	case CLIENT_TRAILERS:
		/* Only the final empty line is missing: be lenient. */
		if (c->inlen == 0) {
			c->state = CLIENT_DONE;
			return (1);
		}
		/* FALLTHROUGH */
	default:
		return (client_malformed(c, "the connection closed inside "
		    "the chunked body"));
	}
}

/*
 * Parse what is in c->in and drop the consumed bytes.  eof says the peer
 * closed the connection.  Returns 1 when the response is complete, 0 if
 * more input is needed, -1 on error.
 */
static int
client_parse(struct client_conn *c, int eof)
{
	char	*line;
	size_t	 off = 0, len, used, n, limit;
	int	 r, head;

	while (c->state != CLIENT_DONE) {
		head = c->state == CLIENT_STATUS ||
		    c->state == CLIENT_HEADERS || c->state == CLIENT_TRAILERS;
		if (head || c->state == CLIENT_CHUNK_SIZE ||
		    c->state == CLIENT_CHUNK_END) {
			if (head)
				limit = CLIENT_MAX_HEAD - c->headbytes;
			else
				limit = CLIENT_MAX_CHUNK_LINE;
			r = client_line(c, off, limit, &line, &len, &used);
			if (r == -1)
				return (client_malformed(c, head ?
				    "the response head is too large" :
				    "a chunk size line is too long"));
			if (r == 0)
				break;
			off += used;
			if (head)
				c->headbytes += used;
			if (client_parse_line(c, line, len) != 0)
				return (-1);
			continue;
		}

		n = c->inlen - off;
		if (c->state != CLIENT_BODY_EOF && n > c->remaining)
			n = (size_t)c->remaining;
		if (n == 0)
			break;
		if (client_body_append(c, c->in + off, n) != 0)
			return (-1);
		off += n;
		if (c->state == CLIENT_BODY_EOF)
			continue;
		c->remaining -= n;
		if (c->remaining > 0)
			continue;
		if (c->state == CLIENT_CHUNK_DATA)
			c->state = CLIENT_CHUNK_END;
		else
			c->state = CLIENT_DONE;
	}

	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	if (c->state == CLIENT_DONE)
		return (1);
	if (eof)
		return (client_parse_eof(c));
	return (0);
}

/* Read and parse until the response is complete. */
static int
client_receive(struct client_conn *c, int peer_closed)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if (c->insize - c->inlen < CLIENT_READ_SIZE) {
			c->insize = c->inlen + CLIENT_READ_SIZE;
			c->in = xrealloc(c->in, c->insize);
		}
		n = recv(c->fd, c->in + c->inlen, c->insize - c->inlen, 0);
		if (n > 0) {
			if (c->sink != NULL)
				c->deadline = time_mono_us() +
				    (uint64_t)c->timeout_ms * 1000;
			c->inlen += (size_t)n;
			if ((r = client_parse(c, 0)) != 0)
				return (r == 1 ? 0 : -1);
			continue;
		}
		if (n == 0)
			return (client_parse(c, 1) == 1 ? 0 : -1);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			if (peer_closed && c->headbytes == 0 && c->inlen == 0)
				client_error(c, "%s closed the connection "
				    "before reading the request: %s",
				    c->ep->name, strerror(errno));
			else
				client_error(c, "cannot read the response "
				    "from %s: %s", c->ep->name,
				    strerror(errno));
			return (-1);
		}
		if ((r = client_wait(c, POLLIN)) == -1) {
			client_error(c, "cannot read the response from %s: "
			    "%s", c->ep->name, strerror(errno));
			return (-1);
		}
		if (r == 0 && c->streaming)
			client_error(c, "timed out: no data from %s for %g "
			    "seconds, after %llu body bytes", c->ep->name,
			    c->timeout_ms / 1000.0,
			    (unsigned long long)c->received);
		else if (r == 0)
			client_error(c, "timed out waiting for a response "
			    "from %s after %g seconds", c->ep->name,
			    c->timeout_ms / 1000.0);
		if (r == 0)
			return (-1);
	}
}

/*
 * An upload's head is sent: wait up to CLIENT_CONTINUE_MS for the interim
 * 100 Continue, or for the final answer a daemon gives from the head alone
 * (413 when the body is over its limit).  Returns 1 to send the body (the
 * 100 came, or nothing did: the server may ignore Expect), 0 when a final
 * response has started or the daemon closed the connection (client_receive
 * reads it), -1 with an error.
 */
static int
client_await_continue(struct client_conn *c)
{
	struct pollfd	pfd;
	uint64_t	until, now;
	ssize_t		n;
	int		r;

	until = time_mono_us() + (uint64_t)CLIENT_CONTINUE_MS * 1000;
	if (until > c->deadline)
		until = c->deadline;
	for (;;) {
		if (c->insize - c->inlen < CLIENT_READ_SIZE) {
			c->insize = c->inlen + CLIENT_READ_SIZE;
			c->in = xrealloc(c->in, c->insize);
		}
		n = recv(c->fd, c->in + c->inlen, c->insize - c->inlen, 0);
		if (n > 0) {
			c->inlen += (size_t)n;
			if ((r = client_parse(c, 0)) == -1)
				return (-1);
			if (r == 1 || c->resp->status >= 200)
				return (0);
			if (c->interim > 0 && c->state == CLIENT_STATUS &&
			    c->inlen == 0)
				return (1);
			continue;
		}
		if (n == 0)
			return (0);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			client_error(c, "cannot read the response from %s: %s",
			    c->ep->name, strerror(errno));
			return (-1);
		}
		if ((now = time_mono_us()) >= until)
			return (1);
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)((until - now + 999) / 1000)) == -1 &&
		    errno != EINTR) {
			client_error(c, "cannot read the response from %s: %s",
			    c->ep->name, strerror(errno));
			return (-1);
		}
	}
}

/*
 * Send the body of an upload from c->src, a piece at a time, while
 * watching the socket for an early answer.  Each send that makes progress
 * moves the deadline.  Returns 0 when the whole body is sent, 1 when the
 * daemon answered or closed the connection first (client_receive reads
 * what it said), -1 with an error (c->src_failed is set when the file was
 * at fault).
 */
static int
client_send_body(struct client_conn *c)
{
	const struct client_source	*src = c->src;
	struct pollfd			 pfd;
	char				*buf;
	size_t				 len = 0, off = 0, want;
	uint64_t			 sent = 0;
	ssize_t				 n;
	int				 flags = 0, ret = -1, ms;

#ifdef MSG_NOSIGNAL
	flags = MSG_NOSIGNAL;
#endif
	buf = xmalloc(CLIENT_UPLOAD_SIZE);
	c->deadline = time_mono_us() + (uint64_t)c->timeout_ms * 1000;
	while (sent < src->length) {
		if (off == len) {
			want = CLIENT_UPLOAD_SIZE;
			if (want > src->length - sent)
				want = (size_t)(src->length - sent);
			n = pread(src->fd, buf, want, (off_t)sent);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				client_error(c, "cannot read the file to "
				    "upload: %s", strerror(errno));
				c->src_failed = 1;
				goto out;
			}
			if (n == 0) {
				client_error(c, "the file to upload shrank "
				    "while it was sent: %llu of %llu bytes "
				    "were there", (unsigned long long)sent,
				    (unsigned long long)src->length);
				c->src_failed = 1;
				goto out;
			}
			len = (size_t)n;
			off = 0;
		}
		n = send(c->fd, buf + off, len - off, flags);
		if (n >= 0) {
			off += (size_t)n;
			sent += (uint64_t)n;
			c->deadline = time_mono_us() +
			    (uint64_t)c->timeout_ms * 1000;
			if (src->progress != NULL)
				src->progress(src->arg, sent);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET) {
			ret = 1;
			goto out;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			client_error(c, "cannot send the request to %s: %s",
			    c->ep->name, strerror(errno));
			goto out;
		}

		/* Writable again, or an answer before the end. */
		if ((ms = client_left_ms(c)) == 0) {
			client_error(c, "timed out: %s took no data for %g "
			    "seconds, after %llu of %llu body bytes",
			    c->ep->name, c->timeout_ms / 1000.0,
			    (unsigned long long)sent,
			    (unsigned long long)src->length);
			goto out;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN | POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, ms) == -1) {
			if (errno == EINTR)
				continue;
			client_error(c, "cannot send the request to %s: %s",
			    c->ep->name, strerror(errno));
			goto out;
		}
		if (pfd.revents & (POLLIN | POLLHUP)) {
			ret = 1;
			goto out;
		}
	}
	ret = 0;

out:
	free(buf);
	return (ret);
}

static int
client_exchange(const struct client_endpoint *ep,
    const struct client_request *req, const struct client_sink *sink,
    const struct client_source *src, struct client_response *resp,
    char *err, size_t errlen)
{
	struct client_conn	c;
	int			r, closed, ret = CLIENT_ERR_DAEMON;

	memset(resp, 0, sizeof *resp);
	memset(&c, 0, sizeof c);
	c.ep = ep;
	c.resp = resp;
	c.sink = sink;
	c.src = src;
	c.fd = -1;
	c.timeout_ms = req->timeout_ms;
	c.deadline = time_mono_us() + (uint64_t)req->timeout_ms * 1000;
	c.state = CLIENT_STATUS;
	c.err = err;
	c.errlen = errlen;

	if (ep->type == CLIENT_UNIX)
		r = client_connect_unix(&c);
	else
		r = client_connect_tcp(&c);
	if (r != 0)
		goto out;
	if ((closed = client_send(&c, req)) == -1)
		goto out;
	if (!closed && src != NULL && src->length > 0) {
		if ((r = client_await_continue(&c)) == -1)
			goto out;
		if (r == 1 && (closed = client_send_body(&c)) == -1)
			goto out;
		/* The daemon checks the upload before it answers. */
		if (req->reply_timeout_ms > 0)
			c.timeout_ms = req->reply_timeout_ms;
		c.deadline = time_mono_us() + (uint64_t)c.timeout_ms * 1000;
	}
	if (client_receive(&c, closed == 1) != 0)
		goto out;
	if (resp->body == NULL)
		resp->body = xcalloc(1, 1);
	ret = CLIENT_OK;

out:
	if (c.fd != -1)
		close(c.fd);
	free(c.in);
	if (ret != CLIENT_OK) {
		client_response_clear(resp);
		if (c.sink_failed)
			ret = CLIENT_ERR_SINK;
		else if (c.src_failed)
			ret = CLIENT_ERR_SOURCE;
	}
	return (ret);
}

/*
 * Send one request to the endpoint and read its response.  Returns
 * CLIENT_OK with the response in resp (new: clear it with
 * client_response_clear), whatever its HTTP status.  Returns
 * CLIENT_ERR_DAEMON with a message naming the endpoint in err if the
 * daemon could not be reached, did not answer in time, or sent something
 * that is not a valid HTTP response; resp is then cleared.
 */
int
client_request(const struct client_endpoint *ep,
    const struct client_request *req, struct client_response *resp,
    char *err, size_t errlen)
{
	return (client_exchange(ep, req, NULL, NULL, resp, err, errlen));
}

/*
 * Like client_request, but the body of a 2xx response goes to the sink
 * (borrowed) as it arrives: resp->body is then empty.  Any other status
 * comes back buffered in resp, as from client_request.  Returns CLIENT_OK
 * when the whole body was delivered and the sink accepted it,
 * CLIENT_ERR_SINK with the sink's message in err if it refused (the
 * transfer stops there), or CLIENT_ERR_DAEMON as client_request does, also
 * when the body was cut short after the sink had part of it.
 */
int
client_download(const struct client_endpoint *ep,
    const struct client_request *req, const struct client_sink *sink,
    struct client_response *resp, char *err, size_t errlen)
{
	return (client_exchange(ep, req, sink, NULL, resp, err, errlen));
}

/*
 * Like client_request, but the body is the first src->length bytes of
 * src->fd (borrowed), sent in pieces after an "Expect: 100-continue" wait;
 * req->body is not used.  An answer the daemon gives before the body is
 * complete (413 from the head, or a refusal midway) comes back in resp as
 * any other.  Returns CLIENT_OK with the response, CLIENT_ERR_SOURCE with a
 * message in err if the file could not be read to the end, or
 * CLIENT_ERR_DAEMON as client_request does.
 */
int
client_upload(const struct client_endpoint *ep,
    const struct client_request *req, const struct client_source *src,
    struct client_response *resp, char *err, size_t errlen)
{
	return (client_exchange(ep, req, NULL, src, resp, err, errlen));
}
