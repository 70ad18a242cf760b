/*
 * http.c: a small HTTP/1.1 server on libevent.
 *
 * Why not evhttp: its own error answers (413, 400, timeouts) are HTML, and
 * every error tenantd sends must be JSON {"message","code"}.  This file
 * parses requests with hard limits (header bytes, header count, body
 * size), answers every protocol error in JSON, handles keep-alive and
 * pipelining (one request at a time per connection), Expect: 100-continue,
 * idle and slow-client timeouts, and backs off accepting when out of file
 * descriptors.
 *
 * I/O: a connection reads through an event of its own into an evbuffer
 * (conn_read_cb: one read per readiness) and writes through a
 * socket bufferevent's output (conn_flush writes at once; the
 * bufferevent's EV_WRITE only for what the socket does not take).  Not
 * the bufferevent's reading: libevent's evbuffer_read asks the socket
 * how much it holds (an ioctl FIONREAD) before every read, a system call
 * per request that was 4% of the daemon's CPU in a point-select run
 * (bench/README.md), and reads at most 4 KiB at a time.
 *
 * Lifetime: a connection reads one request and hands it to the handler.
 * The request (and so the connection) stays valid until the handler calls
 * http_reply*(), exactly once; only then is the next request parsed.
 *
 * Threads: loop 0 accepts and hands each connection to a loop in turn
 * (loop.c); only that loop touches the connection afterwards.  An answer
 * may be given on another thread (a done callback that answers several
 * requests, say): it is built into a buffer of the request's own and
 * posted to the connection's loop, which sends it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "tenantd.h"

#define HTTP_HEAD_MAX		(16 * 1024)
/*
 * At most this much is read per readiness, into a buffer on the loop's
 * stack, then copied to the connection's input: a request of a few
 * hundred bytes then takes a small chain, where reading into reserved
 * space took one of 16 KiB, and each malloc of that size made glibc
 * consolidate its fast bins (malloc_consolidate, 1.2% of the daemon on
 * cold requests).
 */
#define HTTP_READ_MAX		(16 * 1024)
/* event_active() on a connection's read event: parse, read nothing. */
#define CONN_PARSE		0x1000

enum { C_HEAD, C_BODY, C_BUSY, C_CLOSING };

struct http_conn {
	TAILQ_ENTRY(http_conn)	 entry;
	int			 to_file;	/* body goes to a temp file */
	size_t			 written;
	struct bufferevent	*bev;		/* the output side */
	struct evbuffer		*in;		/* read, not yet parsed */
	struct event		*rev;		/* readable, or idle too long */
	int			 reading;	/* rev added */
	int			 state;
	int			 tcp;
	int			 keepalive;
	struct http_req		*req;
	char			*head;		/* header bytes, parsed in place */
	size_t			 need;
	uint64_t		 head_start;
	int			 rpaused;	/* EV_READ off while busy */
	int			 wpending;	/* EV_WRITE on: output left */
	struct loop		*loop;		/* [const] the owner */
	struct flushq		*fq;		/* [const] its loop's */
	TAILQ_ENTRY(http_conn)	 fentry;	/* on fq: answer to send */
	int			 flushing;	/* on fq */
};

/*
 * Answers are sent at the end of the loop iteration that produced them,
 * all together (conn_flush_later): a client thread with several
 * connections ready is woken once, not once per answer.
 */
struct flushq {
	TAILQ_HEAD(, http_conn)	 conns;
	struct event		*ev;
	/* Group commit: answers built but not sent until their commit's
	 * sync round is done (reply_done).  nheld and posted are read by
	 * the sync thread (http_durable_notify). */
	TAILQ_HEAD(, http_req)	 held;
	_Atomic int		 nheld;
	_Atomic int		 posted;
	struct job		 release;
	struct loop		*loop;
	size_t			 inflight;	/* its conns' requests in hand */
};
static _Thread_local struct flushq *loop_fq;
static struct flushq	*flushqs[64];	/* all of them, for shutdown */
static int		 nflushqs;

struct http_listener {
	struct evconnlistener	*lev;
	int			 tcp;
	char			*unix_path;
	struct event		*resume;
};

static struct http_listener	 listeners[8];
static int			 nlisteners;
static http_handler		 handler;
static http_body_policy		 body_policy;
static _Atomic size_t		 nconns;
static pthread_mutex_t		 conns_mtx = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, http_conn)	 conns = TAILQ_HEAD_INITIALIZER(conns);
static _Atomic size_t		 ninflight;
static _Atomic uint64_t		 next_reqid;

static void	conn_process(struct http_conn *);
static void	conn_event(struct http_conn *, short);
static void	held_release(struct job *);

struct segment_cb {
	void	(*done)(void *);
	void	 *arg;
};

static struct segment_cb *
http_segment_cb_new(void (*done)(void *), void *arg)
{
	struct segment_cb	*cb = xmalloc(sizeof *cb);

	cb->done = done;
	cb->arg = arg;
	return (cb);
}

static void
http_segment_done(const struct evbuffer_file_segment *seg, int flags,
    void *arg)
{
	struct segment_cb	*cb = arg;

	state_lock();		/* the owner's cleanup touches shared state */
	cb->done(cb->arg);
	state_unlock();
	free(cb);
}

/* Open DATA/tmp/upload-<id> for the request's body. */
static int
http_body_file_open(struct http_conn *c)
{
	struct http_req	*req = c->req;

	xasprintf(&req->body_path, "%s/tmp/upload-%llu", cfg.data_dir,
	    (unsigned long long)req->id);
	req->body_fd = open(req->body_path, O_RDWR | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600);
	if (req->body_fd == -1) {
		log_warn("%s", req->body_path);
		free(req->body_path);
		req->body_path = NULL;
		return (-1);
	}
	c->written = 0;
	return (0);
}

/* Which requests stream their body to a file (set once by the server). */
void
http_set_body_policy(http_body_policy p)
{
	body_policy = p;
}
static void	conn_free(struct http_conn *);

static const char *
http_reason(int status)
{
	switch (status) {
	case 100: return ("Continue");
	case 200: return ("OK");
	case 201: return ("Created");
	case 204: return ("No Content");
	case 400: return ("Bad Request");
	case 401: return ("Unauthorized");
	case 403: return ("Forbidden");
	case 404: return ("Not Found");
	case 405: return ("Method Not Allowed");
	case 408: return ("Request Timeout");
	case 409: return ("Conflict");
	case 411: return ("Length Required");
	case 413: return ("Payload Too Large");
	case 414: return ("URI Too Long");
	case 415: return ("Unsupported Media Type");
	case 429: return ("Too Many Requests");
	case 431: return ("Request Header Fields Too Large");
	case 500: return ("Internal Server Error");
	case 501: return ("Not Implemented");
	case 503: return ("Service Unavailable");
	case 507: return ("Insufficient Storage");
	}
	return ("Unknown");
}

size_t
http_conn_count(void)
{
	return (nconns);
}

size_t
http_inflight(void)
{
	return (ninflight);
}

/* Requests read and not yet answered on req's loop (req among them).
 * [that loop] */
size_t
http_loop_inflight(const struct http_req *req)
{
	return (req->conn->fq->inflight);
}

/*
 * Percent-decode n bytes of s into out (size bytes).  Returns 0 with *outlen,
 * or -1 on a malformed escape or overflow.  '+' is left alone.
 */
int
http_pct_decode(const char *s, size_t n, char *out, size_t size,
    size_t *outlen)
{
	size_t	i, o = 0;
	int	hi, lo;

	for (i = 0; i < n; i++) {
		if (o >= size)
			return (-1);
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return (-1);
		hi = s[i + 1];
		lo = s[i + 2];
		hi = hi >= '0' && hi <= '9' ? hi - '0' : (hi | 32) >= 'a' &&
		    (hi | 32) <= 'f' ? (hi | 32) - 'a' + 10 : -1;
		lo = lo >= '0' && lo <= '9' ? lo - '0' : (lo | 32) >= 'a' &&
		    (lo | 32) <= 'f' ? (lo | 32) - 'a' + 10 : -1;
		if (hi < 0 || lo < 0)
			return (-1);
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	*outlen = o;
	return (0);
}

const char *
http_header(struct http_req *req, const char *name)
{
	int	i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return (req->headers[i].value);
	return (NULL);
}

static void
req_free(struct http_req *req)
{
	if (req->body_fd != -1 && req->body_fd != 0)
		close(req->body_fd);
	if (req->body_path != NULL) {
		unlink(req->body_path);
		free(req->body_path);
	}
	if (req->stage != NULL)
		evbuffer_free(req->stage);
	free(req->claims);
	free(req->body);
	free(req);
}

/*
 * Where an answer to req is written: the connection's output on its own
 * loop, else a buffer of the request's that reply_done posts there; also
 * that buffer for an answer held until its commit's sync round is done.
 */
static struct evbuffer *
reply_out(struct http_req *req)
{
	struct http_conn	*c = req->conn;

	/* An answer that waits for a sync round is staged too, so that
	 * flushing the connection cannot send it early. */
	if (!req->held && req->sync_ticket != 0 &&
	    !durable_reached(req->sync_ticket))
		req->held = 1;
	if (loop_mine(c->loop) && !req->held)
		return (bufferevent_get_output(c->bev));
	if (req->stage == NULL && (req->stage = evbuffer_new()) == NULL)
		fatalx("evbuffer_new failed");
	return (req->stage);
}

/* The answer under way cannot keep the connection (headers sent). */
static void
reply_close(struct http_req *req)
{
	if (loop_mine(req->conn->loop) && req->stage == NULL)
		req->conn->keepalive = 0;
	else
		req->stage_close = 1;
}

/* Append n bytes at *p (bounded by end); the caller sized the buffer. */
#define HEAD_LIT(p, end, lit)	head_put((p), (end), (lit), sizeof(lit) - 1)
static char *
head_put(char *p, const char *end, const char *s, size_t n)
{
	if (n > (size_t)(end - p))
		n = (size_t)(end - p);
	memcpy(p, s, n);
	return (p + n);
}

/*
 * Write a complete response head; ctype NULL means no body type.  Built by
 * hand, not with evbuffer_add_printf: every answer has one.
 */
static void
conn_head(struct evbuffer *out, struct http_conn *c, int status,
    const char *ctype, size_t len, const char *extra)
{
	char		 head[512], num[24], *p = head, *n;
	const char	*end = head + sizeof head, *reason = http_reason(status);
	int		 keep = __atomic_load_n(&c->keepalive, __ATOMIC_RELAXED);
	size_t		 xlen = extra ? strlen(extra) : 0;

	if (xlen > 256 || status < 100 || status > 999) {
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		    "Content-Length: %zu\r\n%s%s\r\n", status, reason,
		    ctype ? ctype : "application/json", len, extra ? extra : "",
		    keep ? "" : "Connection: close\r\n");
		return;
	}
	if (ctype == NULL)
		ctype = "application/json";
	p = HEAD_LIT(p, end, "HTTP/1.1 ");
	num[0] = (char)('0' + status / 100);
	num[1] = (char)('0' + status / 10 % 10);
	num[2] = (char)('0' + status % 10);
	num[3] = ' ';
	p = head_put(p, end, num, 4);
	p = head_put(p, end, reason, strlen(reason));
	p = HEAD_LIT(p, end, "\r\nContent-Type: ");
	p = head_put(p, end, ctype, strlen(ctype));
	p = HEAD_LIT(p, end, "\r\nContent-Length: ");
	n = num + sizeof num;
	do {
		*--n = (char)('0' + len % 10);
		len /= 10;
	} while (len != 0);
	p = head_put(p, end, n, (size_t)(num + sizeof num - n));
	p = HEAD_LIT(p, end, "\r\n");
	p = head_put(p, end, extra ? extra : "", xlen);
	if (!keep)
		p = HEAD_LIT(p, end, "Connection: close\r\n");
	p = HEAD_LIT(p, end, "\r\n");
	evbuffer_add(out, head, (size_t)(p - head));
}

static void
conn_send(struct evbuffer *out, struct http_conn *c, int status,
    const char *ctype, const void *body, size_t len,
    void (*cleanup)(const void *, size_t, void *), void *cleanup_arg)
{
	conn_head(out, c, status, ctype, len, NULL);
	if (cleanup != NULL && len > 0)
		evbuffer_add_reference(out, body, len, cleanup, cleanup_arg);
	else if (cleanup != NULL)
		cleanup(body, len, cleanup_arg);
	else if (len > 0)
		evbuffer_add(out, body, len);
}

/*
 * Reading on (the idle timeout starts over) or off.  While on, a client
 * that sends nothing for --http-timeout seconds gets conn_event's
 * BEV_EVENT_TIMEOUT, as a bufferevent's read timeout would give it.
 */
static void
conn_read_on(struct http_conn *c)
{
	struct timeval	tv = { cfg.http_timeout_s, 0 };

	if (c->reading)
		return;
	if (event_add(c->rev, &tv) == -1)
		fatalx("http: cannot add a connection's read event");
	c->reading = 1;
}

static void
conn_read_off(struct http_conn *c)
{
	if (!c->reading)
		return;
	event_del(c->rev);
	c->reading = 0;
}

/*
 * Send what is queued at once.  An answer usually fits the socket buffer,
 * so it leaves in one write and no write event is ever armed; whatever
 * the socket does not take (or a closing connection, or an error) is left
 * to EV_WRITE, whose callback disarms it again once the buffer drains.
 */
static void
conn_flush(struct http_conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	int		 fd = bufferevent_getfd(c->bev);

	if (c->wpending)
		return;		/* libevent writes when the socket can take it */
	/* A socket bufferevent keeps its output's start frozen: only its
	 * own write callback may drain it, so thaw it for the write. */
	evbuffer_unfreeze(out, 1);
	while (c->state != C_CLOSING && evbuffer_get_length(out) > 0) {
		if (evbuffer_write(out, fd) > 0)
			continue;
		if (errno == EINTR)
			continue;
		break;		/* EAGAIN, or an error EV_WRITE will report */
	}
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0 || c->state == C_CLOSING) {
		c->wpending = 1;
		bufferevent_enable(c->bev, EV_WRITE);
	}
}

static void
flushq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct flushq		*fq = arg;
	struct http_conn	*c;

	while ((c = TAILQ_FIRST(&fq->conns)) != NULL) {
		TAILQ_REMOVE(&fq->conns, c, fentry);
		c->flushing = 0;
		conn_flush(c);
	}
}

/* The calling loop's flush queue, made on first use. */
static struct flushq *
flushq_get(void)
{
	struct flushq	*fq;

	if (loop_fq != NULL)
		return (loop_fq);
	fq = xcalloc(1, sizeof *fq);
	TAILQ_INIT(&fq->conns);
	TAILQ_INIT(&fq->held);
	fq->loop = loop_self;
	fq->release.onloop = held_release;
	if ((fq->ev = event_new(loop_base(loop_self), -1, 0, flushq_cb,
	    fq)) == NULL)
		fatalx("http: cannot create the flush event");
	pthread_mutex_lock(&conns_mtx);
	if (nflushqs == (int)(sizeof flushqs / sizeof flushqs[0]))
		fatalx("http: too many loops");
	flushqs[nflushqs++] = fq;
	pthread_mutex_unlock(&conns_mtx);
	loop_fq = fq;
	return (fq);
}

/* Send c's answer once this loop iteration's callbacks have run. */
static void
conn_flush_later(struct http_conn *c)
{
	struct flushq	*fq = c->fq;

	if (c->flushing)
		return;
	if (TAILQ_EMPTY(&fq->conns))
		event_active(fq->ev, 0, 0);
	TAILQ_INSERT_TAIL(&fq->conns, c, fentry);
	c->flushing = 1;
}

/* A protocol error before a request reached the handler: answer, close. */
static void
conn_fail(struct http_conn *c, int status, const char *code, const char *msg)
{
	struct buf	b;

	buf_init(&b, 128);
	hrana_put_error(&b, msg, code);
	c->keepalive = 0;
	conn_send(bufferevent_get_output(c->bev), c, status, NULL, b.p, b.len,
	    NULL, NULL);
	buf_free(&b);
	metrics_request(ROUTE_OTHER, status, 0);
	free(c->head);
	c->head = NULL;
	if (c->req != NULL) {
		req_free(c->req);
		c->req = NULL;
	}
	c->state = C_CLOSING;
	conn_read_off(c);
	conn_flush(c);
}

struct reply_post {
	struct job		 job;
	struct http_req		*req;
	int			 status;
};

static void	reply_done(struct http_req *, int);

/* On the connection's loop: send an answer built elsewhere. */
static void
reply_deliver(struct job *j)
{
	struct reply_post	*rp = (struct reply_post *)j;

	reply_done(rp->req, rp->status);
	free(rp);
}

/* Hold req's staged answer until its sync round is done.  Its loop. */
static void
reply_hold(struct http_req *req, int status)
{
	struct flushq	*fq = req->conn->fq;

	req->held_status = status;
	TAILQ_INSERT_TAIL(&fq->held, req, hentry);
	atomic_fetch_add(&fq->nheld, 1);
	atomic_fetch_add(&durable_stats.held, 1);
	/* The round may have ended before nheld went up (and the sync
	 * thread found nothing to release): look again. */
	if (durable_reached(req->sync_ticket)) {
		TAILQ_REMOVE(&fq->held, req, hentry);
		atomic_fetch_sub(&fq->nheld, 1);
		reply_done(req, status);
	}
}

/* On a loop, after a sync round: send the answers it made durable. */
static void
held_release(struct job *j)
{
	struct flushq	*fq = (struct flushq *)((char *)j -
			    offsetof(struct flushq, release));
	struct http_req	*req, *next;

	atomic_store(&fq->posted, 0);
	for (req = TAILQ_FIRST(&fq->held); req != NULL; req = next) {
		next = TAILQ_NEXT(req, hentry);
		if (!durable_reached(req->sync_ticket))
			continue;
		TAILQ_REMOVE(&fq->held, req, hentry);
		atomic_fetch_sub(&fq->nheld, 1);
		reply_done(req, req->held_status);
	}
}

/*
 * The sync thread, after each round: wake the loops holding answers.  A
 * loop whose release is already posted will look at the new round when
 * it runs.
 */
void
http_durable_notify(void)
{
	struct flushq	*fq;
	int		 i, n;

	pthread_mutex_lock(&conns_mtx);
	n = nflushqs;
	pthread_mutex_unlock(&conns_mtx);
	for (i = 0; i < n; i++) {
		fq = flushqs[i];
		if (atomic_load(&fq->nheld) > 0 &&
		    !atomic_exchange(&fq->posted, 1))
			loop_post(fq->loop, &fq->release);
	}
}

static void
reply_done(struct http_req *req, int status)
{
	struct http_conn	*c = req->conn;

	if (!loop_mine(c->loop)) {
		struct reply_post	*rp = xcalloc(1, sizeof *rp);

		reply_out(req);		/* an answer has a buffer, even empty */
		rp->req = req;
		rp->status = status;
		rp->job.onloop = reply_deliver;
		loop_post(c->loop, &rp->job);
		return;
	}
	if (req->held) {
		if (!durable_reached(req->sync_ticket)) {
			reply_hold(req, status);
			return;
		}
		req->held = 0;
	}
	if (req->stage != NULL) {
		evbuffer_add_buffer(bufferevent_get_output(c->bev), req->stage);
		evbuffer_free(req->stage);
		req->stage = NULL;
		if (req->stage_close)
			c->keepalive = 0;
	}
	metrics_request(req->route, status, time_mono_us() - req->t_start);
	req_free(req);
	c->req = NULL;
	free(c->head);
	c->head = NULL;
	ninflight--;
	c->fq->inflight--;
	if (!c->keepalive) {
		c->state = C_CLOSING;
		conn_read_off(c);
		conn_flush(c);
		return;
	}
	c->state = C_HEAD;
	c->head_start = time_mono_us();
	conn_flush_later(c);
	if (c->rpaused) {
		c->rpaused = 0;
		conn_read_on(c);
	}
	/* A pipelined request may already be buffered: parse it from a
	 * fresh callback (CONN_PARSE), not recursively from inside the
	 * handler. */
	if (evbuffer_get_length(c->in) > 0)
		event_active(c->rev, CONN_PARSE, 0);
}

/*
 * Answer req with status and body (copied).  Exactly once per request;
 * req is freed.
 */
void
http_reply(struct http_req *req, int status, const char *ctype,
    const void *body, size_t len)
{
	if (req->replied)
		fatalx("http_reply: request %llu answered twice",
		    (unsigned long long)req->id);
	req->replied = 1;
	conn_send(reply_out(req), req->conn, status, ctype, body, len, NULL,
	    NULL);
	reply_done(req, status);
}

static void
buf_cleanup(const void *data, size_t len, void *arg)
{
	free(arg);	/* the start of the allocation */
}

/* Like http_reply, but steals b's memory (no copy). */
void
http_reply_buf(struct http_req *req, int status, const char *ctype,
    struct buf *b)
{
	http_reply_buf_from(req, status, ctype, b, 0);
}

/* The same, sending b's bytes from offset off (a reserved prefix). */
void
http_reply_buf_from(struct http_req *req, int status, const char *ctype,
    struct buf *b, size_t off)
{
	if (req->replied)
		fatalx("http_reply_buf: request answered twice");
	if (off > b->len)
		fatalx("http_reply_buf: offset past the end");
	req->replied = 1;
	conn_send(reply_out(req), req->conn, status, ctype, b->p + off,
	    b->len - off, buf_cleanup, b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	reply_done(req, status);
}

/*
 * Answer with size bytes of the open file fd (sent with sendfile where the
 * kernel can; steals fd).  extra: more header lines, each ending in CRLF.
 */
void
http_reply_file(struct http_req *req, int status, const char *ctype,
    int fd, size_t size, const char *extra)
{
	struct evbuffer	*out = reply_out(req);

	if (req->replied)
		fatalx("http_reply_file: request answered twice");
	req->replied = 1;
	conn_head(out, req->conn, status, ctype, size, extra);
	if (size == 0 || evbuffer_add_file(out, fd, 0, (ev_off_t)size) != 0) {
		close(fd);
		if (size != 0) {	/* headers promised a body: drop the link */
			reply_close(req);
			log_warnx("http_reply_file: cannot queue the file");
		}
	}
	reply_done(req, status);
}

/*
 * Answer with head (copied; may be NULL) followed by len bytes of fd from
 * offset off, sent with sendfile where possible.  Steals fd.  done(arg)
 * runs on the loop once libevent no longer needs the file (sent, or the
 * connection went away).
 */
void
http_reply_file_segment(struct http_req *req, int status, const char *ctype,
    const void *head, size_t headlen, int fd, size_t off, size_t len,
    const char *extra, void (*done)(void *), void *arg)
{
	struct evbuffer			*out = reply_out(req);
	struct evbuffer_file_segment	*seg;

	if (req->replied)
		fatalx("http_reply_file_segment: request answered twice");
	req->replied = 1;
	conn_head(out, req->conn, status, ctype, headlen + len, extra);
	if (headlen > 0)
		evbuffer_add(out, head, headlen);
	seg = evbuffer_file_segment_new(fd, (ev_off_t)off, (ev_off_t)len,
	    EVBUF_FS_CLOSE_ON_FREE);
	if (seg == NULL) {
		close(fd);
		reply_close(req);	/* headers promised a body */
		log_warnx("http_reply_file_segment: cannot queue the file");
		done(arg);
	} else {
		evbuffer_file_segment_add_cleanup_cb(seg,
		    (evbuffer_file_segment_cleanup_cb)http_segment_done,
		    http_segment_cb_new(done, arg));
		if (evbuffer_add_file_segment(out, seg, 0, (ev_off_t)len) != 0)
			reply_close(req);
		evbuffer_file_segment_free(seg);
	}
	reply_done(req, status);
}

/* Steals obj. */
void
http_reply_json(struct http_req *req, int status, json_t *obj)
{
	char	*s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);

	json_decref(obj);
	if (s == NULL)
		fatalx("http_reply_json: json_dumps failed");
	http_reply(req, status, "application/json", s, strlen(s));
	free(s);
}

void
http_reply_error(struct http_req *req, int status, const char *code,
    const char *fmt, ...)
{
	struct buf	b;
	char		msg[1024];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	buf_init(&b, 128);
	hrana_put_error(&b, msg, code);
	http_reply_buf(req, status, "application/json", &b);
}

static int
tchar(unsigned char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * Parse a request's header block: len bytes at head (the final blank line
 * already cut off, head[len] == NUL), parsed in place into req.  Every
 * line must end in CRLF; a NUL byte, a bare CR or LF, a folded line, two
 * Content-Length or two Host fields are refused, so what this parser sees
 * is what any proxy in front of it sees (no request smuggling).
 * Returns 0 with *content_length and *keepalive, or an HTTP status with a
 * static *msg.  Pure: no globals, any thread (the fuzz target calls it).
 */
int
http_parse_request(char *head, size_t len, struct http_req *req,
    size_t max_body, size_t *content_length, int *keepalive,
    const char **msg)
{
	char		*line, *next, *sp1, *sp2, *colon, *v, *end;
	const char	*cl, *conn;
	unsigned long long n;
	int		 minor, i, count;

	*content_length = 0;
	*keepalive = 0;
	if (strlen(head) != len) {
		*msg = "NUL byte in the request header";
		return (400);
	}
	if ((next = strstr(head, "\r\n")) != NULL) {
		*next = '\0';
		next += 2;
	}
	line = head;
	if (strpbrk(line, "\r\n") != NULL) {
		*msg = "bare CR or LF in the request line";
		return (400);
	}
	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL) {
		*msg = "malformed request line";
		return (400);
	}
	*sp1 = *sp2 = '\0';
	req->method = line;
	if (*req->method == '\0' || strlen(req->method) > 16) {
		*msg = "malformed request method";
		return (400);
	}
	for (v = req->method; *v; v++)
		if (!tchar((unsigned char)*v)) {
			*msg = "malformed request method";
			return (400);
		}
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		minor = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		minor = 0;
	else {
		*msg = "only HTTP/1.0 and HTTP/1.1 are served";
		return (400);
	}
	req->path = sp1 + 1;
	if (strncasecmp(req->path, "http://", 7) == 0 ||
	    strncasecmp(req->path, "https://", 8) == 0) {
		char *p = strstr(req->path, "://") + 3;
		req->path = strchr(p, '/');
		if (req->path == NULL) {
			*msg = "malformed request target";
			return (400);
		}
	}
	if (req->path[0] != '/') {
		*msg = "malformed request target";
		return (400);
	}
	for (v = req->path; *v; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f) {
			*msg = "malformed request target";
			return (400);
		}
	if ((v = strchr(req->path, '?')) != NULL) {
		*v = '\0';
		req->query = v + 1;
	}
	while (next != NULL && *next != '\0') {
		line = next;
		if ((next = strstr(line, "\r\n")) != NULL) {
			*next = '\0';
			next += 2;
		}
		if (strpbrk(line, "\r\n") != NULL) {
			*msg = "bare CR or LF in a header line";
			return (400);
		}
		if (*line == ' ' || *line == '\t') {
			*msg = "folded header lines are not accepted";
			return (400);
		}
		if ((colon = strchr(line, ':')) == NULL || colon == line) {
			*msg = "malformed header line";
			return (400);
		}
		*colon = '\0';
		for (v = line; *v; v++)
			if (!tchar((unsigned char)*v)) {
				*msg = "malformed header name";
				return (400);
			}
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		for (end = v; *end; end++)
			if ((unsigned char)*end < 0x20 && *end != '\t') {
				*msg = "control character in a header value";
				return (400);
			}
		if (req->nheaders == HTTP_MAX_HEADERS) {
			*msg = "too many header fields";
			return (431);
		}
		req->headers[req->nheaders].name = line;
		req->headers[req->nheaders].value = v;
		req->nheaders++;
	}
	if (http_header(req, "Transfer-Encoding") != NULL) {
		*msg = "chunked request bodies are not supported; send "
		    "Content-Length";
		return (501);
	}
	for (i = 0, count = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, "Host") == 0)
			count++;
	if (count > 1) {
		*msg = "more than one Host header";
		return (400);
	}
	if ((cl = http_header(req, "Content-Length")) != NULL) {
		for (i = 0, count = 0; i < req->nheaders; i++)
			if (strcasecmp(req->headers[i].name,
			    "Content-Length") == 0)
				count++;
		if (count > 1 || *cl == '\0' || strlen(cl) > 19 ||
		    strspn(cl, "0123456789") != strlen(cl)) {
			*msg = "malformed Content-Length";
			return (400);
		}
		n = strtoull(cl, NULL, 10);
		if (n > max_body) {
			*msg = "request body is larger than the limit "
			    "(--max-body)";
			return (413);
		}
		*content_length = (size_t)n;
	}
	conn = http_header(req, "Connection");
	if (minor == 0)
		*keepalive = conn != NULL && strcasecmp(conn, "keep-alive") == 0;
	else
		*keepalive = conn == NULL || strcasecmp(conn, "close") != 0;
	return (0);
}

static void
conn_process(struct http_conn *c)
{
	struct evbuffer		*in = c->in;
	struct evbuffer_ptr	 p;
	struct http_req		*req;
	const char		*msg = NULL;
	size_t			 headlen;
	int			 status;
	const char		*expect;

	/* Reading stays on while a request runs (switching it off and on
	 * around every request costs two epoll_ctl calls); only a client
	 * that sends more meanwhile is paused until the answer is out. */
	if (c->state == C_BUSY) {
		conn_read_off(c);
		c->rpaused = 1;
		return;
	}
	if (c->state != C_HEAD && c->state != C_BODY)
		return;
	if (c->state == C_HEAD) {
		p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (p.pos == -1) {
			if (evbuffer_get_length(in) > HTTP_HEAD_MAX)
				conn_fail(c, 431, "HEADERS_TOO_LARGE", "request "
				    "header block is too large");
			else if (evbuffer_get_length(in) > 0 &&
			    time_mono_us() - c->head_start >
			    (uint64_t)cfg.http_timeout_s * 1000000)
				conn_fail(c, 408, "REQUEST_TIMEOUT", "request "
				    "headers took too long");
			return;
		}
		headlen = (size_t)p.pos + 4;
		if (headlen > HTTP_HEAD_MAX) {
			conn_fail(c, 431, "HEADERS_TOO_LARGE", "request header "
			    "block is too large");
			return;
		}
		c->head = xmalloc(headlen + 1);
		evbuffer_remove(in, c->head, headlen);
		c->head[headlen - 4] = '\0';
		req = xcalloc(1, sizeof *req);
		req->body_fd = -1;
		c->to_file = 0;
		req->conn = c;
		req->id = ++next_reqid;
		req->tcp = c->tcp;
		req->t_start = time_mono_us();
		c->req = req;
		status = http_parse_request(c->head, headlen - 4, req,
		    cfg.max_body > cfg.max_import ? cfg.max_body :
		    cfg.max_import, &c->need, &c->keepalive, &msg);
		if (status == 0 || status == 413) {
			/* Large uploads go to a file, within their own cap. */
			size_t limit = cfg.max_body;
			if (body_policy != NULL && body_policy(req)) {
				limit = cfg.max_import;
				c->to_file = 1;
			}
			if (c->need > limit || status == 413) {
				status = 413;
				msg = "request body is larger than the limit "
				    "(--max-body, or --max-import for imports)";
			}
		}
		if (status == 0 && c->to_file && http_body_file_open(c) != 0) {
			conn_fail(c, 507, "INSUFFICIENT_STORAGE", "cannot store "
			    "the upload");
			return;
		}
		if (status == 0 && server_shutting_down())
			c->keepalive = 0;
		if (status != 0) {
			conn_fail(c, status, status == 413 ? "BODY_TOO_LARGE" :
			    status == 431 ? "HEADERS_TOO_LARGE" : status == 501 ?
			    "NOT_IMPLEMENTED" : "BAD_REQUEST", msg);
			return;
		}
		expect = http_header(req, "Expect");
		if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
		    c->need > 0 && evbuffer_get_length(in) < c->need) {
			evbuffer_add_printf(bufferevent_get_output(c->bev),
			    "HTTP/1.1 100 Continue\r\n\r\n");
			conn_flush(c);
		}
		c->state = C_BODY;
	}
	if (c->state == C_BODY && c->to_file) {
		/* Move what has arrived into the file (page cache; the
		 * worker that uses it fsyncs). */
		while (c->written < c->need && evbuffer_get_length(in) > 0) {
			size_t	 want = c->need - c->written;
			int	 n;

			if (want > evbuffer_get_length(in))
				want = evbuffer_get_length(in);
			n = evbuffer_write_atmost(in, c->req->body_fd,
			    (ev_ssize_t)want);
			if (n <= 0) {
				conn_fail(c, 507, "INSUFFICIENT_STORAGE", "cannot "
				    "store the upload (disk full?)");
				return;
			}
			c->written += (size_t)n;
		}
		if (c->written < c->need)
			return;
		req = c->req;
		req->body = xstrdup("");
		req->body_len = c->need;
		c->state = C_BUSY;
		ninflight++;
		c->fq->inflight++;
		handler(req);
		return;
	}
	if (c->state == C_BODY) {
		if (evbuffer_get_length(in) < c->need)
			return;
		req = c->req;
		req->body = xmalloc(c->need + 1);
		evbuffer_remove(in, req->body, c->need);
		req->body[c->need] = '\0';
		req->body_len = c->need;
		c->state = C_BUSY;
		ninflight++;
		c->fq->inflight++;
		handler(req);
	}
}

/*
 * The connection's read event: readable (one read into a buffer on the
 * stack, copied to c->in, then parse), idle past the timeout, or
 * CONN_PARSE (reply_done: parse what is already buffered, read nothing).
 * End of input, an error and the timeout switch reading off and go to
 * conn_event, as a bufferevent's would; a timeout that comes with the
 * socket readable is not one (libevent's bufferevents read then too).
 */
static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	char			 rbuf[HTTP_READ_MAX];
	struct http_conn	*c = arg;
	ssize_t			 n;

	if ((what & (EV_TIMEOUT | EV_READ | CONN_PARSE)) == EV_TIMEOUT) {
		conn_read_off(c);
		conn_event(c, BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
		return;
	}
	loop_note_activity();
	if (what & EV_READ) {
		n = read(fd, rbuf, sizeof rbuf);
		if (n > 0) {
			if (evbuffer_add(c->in, rbuf, (size_t)n) == -1)
				fatalx("http: cannot grow a connection's input");
		} else {
			if (n == 0) {
				conn_read_off(c);
				conn_event(c, BEV_EVENT_READING | BEV_EVENT_EOF);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				conn_read_off(c);
				conn_event(c, BEV_EVENT_READING |
				    BEV_EVENT_ERROR);
				return;
			}
			if (!(what & CONN_PARSE))
				return;
		}
	}
	conn_process(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct http_conn	*c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->state == C_CLOSING) {
		conn_free(c);
		return;
	}
	c->wpending = 0;
	bufferevent_disable(bev, EV_WRITE);
}

/* The output bufferevent's events: an error or timeout while writing. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	conn_event(arg, what);
}

/*
 * End of input, an error, or a timeout (BEV_EVENT_*), reading or writing;
 * reading is off by now.
 */
static void
conn_event(struct http_conn *c, short what)
{
	struct bufferevent	*bev = c->bev;

	if (c->state == C_BUSY) {
		/* Never free a connection whose request the handler still
		 * holds.  An idle read timeout while it runs means nothing
		 * (reading is off; the answer turns it back on); end of
		 * input or an error: answer if we can, then close. */
		c->rpaused = 1;
		if (!(what & BEV_EVENT_TIMEOUT) || (what & BEV_EVENT_WRITING))
			__atomic_store_n(&c->keepalive, 0, __ATOMIC_RELAXED);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->state == C_BODY) {
		conn_fail(c, 408, "REQUEST_TIMEOUT", "request body took too "
		    "long");
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && c->state == C_HEAD &&
	    evbuffer_get_length(c->in) > 0) {
		conn_fail(c, 408, "REQUEST_TIMEOUT", "request headers took too "
		    "long");
		return;
	}
	/* The client finished sending (half-close) while an answer is
	 * still queued: send it, then close. */
	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		c->state = C_CLOSING;
		c->wpending = 1;
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	conn_free(c);
}

static void
conn_free(struct http_conn *c)
{
	if (c->flushing)
		TAILQ_REMOVE(&c->fq->conns, c, fentry);
	if (c->req != NULL)
		req_free(c->req);
	free(c->head);
	event_free(c->rev);	/* before the bufferevent closes the socket */
	evbuffer_free(c->in);
	bufferevent_free(c->bev);
	pthread_mutex_lock(&conns_mtx);
	TAILQ_REMOVE(&conns, c, entry);
	pthread_mutex_unlock(&conns_mtx);
	nconns--;
	free(c);
}

/* Close every connection (after the loops stopped at shutdown). */
void
http_close_all(void)
{
	struct http_conn	*c;
	int			 i;

	for (i = 0; i < nflushqs; i++) {	/* answers not sent yet */
		held_release(&flushqs[i]->release);
		flushq_cb(-1, 0, flushqs[i]);
	}
	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_free(c);
	for (i = 0; i < nflushqs; i++) {
		event_free(flushqs[i]->ev);
		free(flushqs[i]);
	}
	nflushqs = 0;
}

/* Start serving fd on the calling thread's loop. */
static void
conn_new(int fd, int tcp)
{
	struct http_conn	*c;
	struct timeval		 tv = { cfg.http_timeout_s, 0 };

	c = xcalloc(1, sizeof *c);
	c->tcp = tcp;
	c->state = C_HEAD;
	c->head_start = time_mono_us();
	c->loop = loop_self;
	c->fq = flushq_get();
	c->in = evbuffer_new();
	c->rev = event_new(loop_base(loop_self), fd, EV_READ | EV_PERSIST,
	    conn_read_cb, c);
	c->bev = bufferevent_socket_new(loop_base(loop_self), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->in == NULL || c->rev == NULL || c->bev == NULL) {
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->in != NULL)
			evbuffer_free(c->in);
		if (c->bev != NULL)
			bufferevent_free(c->bev);	/* closes fd */
		else
			close(fd);
		free(c);
		nconns--;
		return;
	}
	pthread_mutex_lock(&conns_mtx);
	TAILQ_INSERT_TAIL(&conns, c, entry);
	pthread_mutex_unlock(&conns_mtx);
	bufferevent_setcb(c->bev, NULL, conn_write_cb, conn_event_cb, c);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	/* New bufferevents start with EV_WRITE enabled, which would arm a
	 * write event for every answer: conn_flush writes directly and
	 * enables it only for what the socket does not take.  Reading is
	 * c->rev's (conn_read_cb). */
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	conn_read_on(c);
}

struct conn_post {
	struct job	 job;
	int		 fd;
	int		 tcp;
};

static void
conn_adopt(struct job *j)
{
	struct conn_post	*cp = (struct conn_post *)j;

	if (server_shutting_down()) {
		close(cp->fd);
		nconns--;
	} else
		conn_new(cp->fd, cp->tcp);
	free(cp);
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct http_listener	*l = arg;
	struct conn_post	*cp;
	struct loop		*to;
	int			 one = 1;

	if (nconns >= (size_t)cfg.max_conns || server_shutting_down()) {
		close(fd);
		return;
	}
	if (l->tcp)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	nconns++;
	if (loop_mine(to = loop_next())) {
		conn_new(fd, l->tcp);
		return;
	}
	cp = xcalloc(1, sizeof *cp);
	cp->fd = fd;
	cp->tcp = l->tcp;
	cp->job.onloop = conn_adopt;
	loop_post(to, &cp->job);
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_listener	*l = arg;

	if (l->lev != NULL)
		evconnlistener_enable(l->lev);
}

/* Out of descriptors: stop accepting for a second instead of spinning. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct http_listener	*l = arg;
	struct timeval		 tv = { 1, 0 };
	int			 err = EVUTIL_SOCKET_ERROR();

	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_warnx("accept: %s; pausing new connections for 1 s",
		    strerror(err));
		evconnlistener_disable(lev);
		evtimer_add(l->resume, &tv);
		return;
	}
	log_warnx("accept: %s", strerror(err));
}

static int
listener_add(int fd, int tcp, const char *unix_path)
{
	struct http_listener	*l;

	if (nlisteners == (int)(sizeof listeners / sizeof listeners[0]))
		return (-1);
	l = &listeners[nlisteners];
	l->tcp = tcp;
	l->lev = evconnlistener_new(loop_base(loop_self), accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (l->lev == NULL)
		return (-1);
	l->resume = evtimer_new(loop_base(loop_self), accept_resume_cb, l);
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	l->unix_path = unix_path ? xstrdup(unix_path) : NULL;
	nlisteners++;
	return (0);
}

/*
 * Listen on a unix socket at path (mode 0660, optional group).  Refuses to
 * start if another daemon answers there.  Returns 0 or -1 (logged).
 */
int
http_listen_unix(struct event_base *base, const char *path,
    const char *group, http_handler h)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 old;
	int			 fd;

	handler = h;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("socket path %s is too long", path);
		return (-1);
	}
	strlcpy_x(sun.sun_path, path, sizeof sun.sun_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket");
		return (-1);
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		log_warnx("socket %s: another tenantd is answering there",
		    path);
		close(fd);
		return (-1);
	}
	close(fd);
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("unlink %s", path);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		return (-1);
	}
	old = umask(0117);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(old);
		log_warn("bind %s", path);
		close(fd);
		return (-1);
	}
	umask(old);
	if (chmod(path, 0660) == -1)
		log_warn("chmod %s", path);
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL ||
		    chown(path, (uid_t)-1, gr->gr_gid) == -1)
			log_warn("socket %s: cannot set group %s", path, group);
	}
	if (listen(fd, 1024) == -1 || listener_add(fd, 0, path) == -1) {
		log_warn("listen %s", path);
		close(fd);
		return (-1);
	}
	return (0);
}

/*
 * Listen on TCP at "host:port" ("[v6]:port" for IPv6; port 0 picks a free
 * one).  The bound address goes into bound.  Returns 0 or -1 (logged).
 */
int
http_listen_tcp(struct event_base *base, const char *addr, http_handler h,
    char *bound, size_t boundlen)
{
	struct addrinfo		 hints, *res = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof ss;
	char			 host[256], port[16], hbuf[NI_MAXHOST];
	char			 sbuf[NI_MAXSERV];
	const char		*colon;
	int			 fd = -1, one = 1, rc;

	handler = h;
	if ((colon = strrchr(addr, ':')) == NULL ||
	    (size_t)(colon - addr) >= sizeof host || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= sizeof port) {
		log_warnx("listen address %s: expected HOST:PORT", addr);
		return (-1);
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	strlcpy_x(port, colon + 1, sizeof port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		log_warnx("listen address %s: %s", addr, gai_strerror(rc));
		return (-1);
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, res->ai_protocol);
	if (fd == -1) {
		log_warn("socket");
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		log_warn("bind %s", addr);
		goto fail;
	}
	if (listen(fd, 1024) == -1) {
		log_warn("listen %s", addr);
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sslen, hbuf, sizeof hbuf, sbuf,
	    sizeof sbuf, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		snprintf(bound, boundlen, ss.ss_family == AF_INET6 ?
		    "[%s]:%s" : "%s:%s", hbuf, sbuf);
	else
		strlcpy_x(bound, addr, boundlen);
	if (listener_add(fd, 1, NULL) == -1) {
		log_warnx("listen %s: cannot watch the socket", addr);
		goto fail;
	}
	freeaddrinfo(res);
	return (0);

fail:
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return (-1);
}

/* Close every listener (shutdown) and remove the unix socket. */
void
http_stop_listening(void)
{
	int	i;

	for (i = 0; i < nlisteners; i++) {
		if (listeners[i].lev != NULL)
			evconnlistener_free(listeners[i].lev);
		listeners[i].lev = NULL;
		if (listeners[i].resume != NULL)
			event_free(listeners[i].resume);
		listeners[i].resume = NULL;
		if (listeners[i].unix_path != NULL) {
			unlink(listeners[i].unix_path);
			free(listeners[i].unix_path);
			listeners[i].unix_path = NULL;
		}
	}
	nlisteners = 0;
}
