/*
 * bench/load.c: the HTTP load generator of bench/run.sh.  Drives tenantd
 * over keep-alive HTTP/1.1, on its unix socket or on TCP: Hrana pipelines
 * (execute + close, the form @libsql/client sends) to
 * /t/{tenant}/v2/pipeline, or tenant creation on /v1/tenants.
 *
 * Closed loop like pgbench: every connection has one request in flight and
 * sends the next when the answer is in (or, with -R, when its slot on a
 * fixed schedule is due).  Each thread runs its share of the connections
 * on an epoll loop of its own; requests are assembled from tails built
 * once per key (only the tenant changes), so a request is one send() and,
 * usually, its answer one recv().  Every answer is parsed (status line,
 * Content-Length, Connection) and checked: the expected status (200, 201
 * for create) and no "type":"error" in a pipeline result.
 *
 * Usage: load (--unix PATH | --url http://HOST:PORT) (-d SECONDS | -n COUNT)
 *             [-c CONNS] [-t THREADS] [-R RATE] [--timeout SECONDS]
 *             [--op select|update|mix|create] [--tenants N]
 *             [--dist uniform|zipf|seq] [--zipf-s S] [--schema NAME]
 *             [--prefix P] [--trace]
 * -n COUNT visits the tenants b0 .. b{COUNT-1} once each (creates them,
 * with --op create), thread i taking b{i}, b{i+T}, ...; --tenants has no
 * use then.  -d runs for SECONDS over b0 .. b{N-1} (--tenants N); creates
 * then make new ids PREFIX{thread}-{n}.
 * Prints one line "RESULT key=value ..." on stdout (the format run.sh
 * parses); with --trace, before it, one "SECOND s=S answers=N
 * over_1ms=N over_2ms=N max_us=N late_1ms=N" line per second of the run
 * (answers by the second they came in), to see whether a p99 comes from a
 * few bad seconds or from all of them; late_1ms counts the requests of
 * that second sent more than 1 ms after their slot (-R), whose lateness
 * is ours, not the server's, and still counts as latency.  Exit status: 0 (even with errors: the caller decides), 1 if
 * the target cannot be reached at the start, 2 for bad usage.
 * Build: gcc -O2 -Wall -Wextra -o load load.c -lpthread -lm
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define NKEYS		100		/* rows per tenant: keys 1..100 */
#define NVALS		8		/* update values per key */
#define RBUF		16384		/* read buffer per connection */
#define SNIP		300		/* body bytes shown for a bad answer */
#define PAT		"\"type\":\"error\""
#define PATLEN		(sizeof(PAT) - 1)
#define RETRY_US	100000		/* reconnect backoff after a failure */
#define BUSY_US		1000		/* unix socket backlog full: retry */
#define SCAN_US		100000		/* timeout scan period */
#define BACKLOG_US	1000000		/* rate mode: most catch-up allowed */
#define NEVENTS		256

/* Latency histogram: exact below 1024 us, then 512 buckets per power of
 * two (relative error below 0.2%). */
#define HBITS		10
#define HSUB		(1 << HBITS)
#define HHALF		(HSUB / 2)
#define HBUCKETS	(HSUB + (64 - HBITS) * HHALF)

enum { OP_SELECT, OP_UPDATE, OP_MIX, OP_CREATE };
enum { D_UNIFORM, D_ZIPF, D_SEQ };
enum {
	C_CONNECTING,	/* non-blocking connect under way */
	C_IDLE,		/* connected, nothing to send (count quota used) */
	C_QUEUED,	/* connected, waiting for a rate slot */
	C_WRITING,	/* request partly sent */
	C_READING,	/* request sent, answer not complete */
	C_RETRY,	/* closed, reconnect at due */
	C_DONE		/* closed for good */
};

struct tail {
	char		*p;
	size_t		 len;
};

struct stats {
	uint64_t	 requests;
	uint64_t	 err_connect, err_read, err_write, err_status;
	uint64_t	 err_timeout, bad;
	uint64_t	 sum_us, max_us;
	uint64_t	 hist[HBUCKETS];
};

/* --trace: one second of the run. */
struct second {
	uint64_t	 n, over1, over2, max_us;
	uint64_t	 late1;		/* -R: sent over 1 ms after the slot */
};

struct thread;

struct conn {
	struct thread	*th;
	int		 fd;
	int		 state;
	int		 queued;	/* in the thread's rate queue */
	int		 out;		/* EPOLLOUT in the interest set */
	uint64_t	 start;		/* latency origin: send or slot, us */
	uint64_t	 due;		/* deadline, or when to reconnect */
	char		*wbuf;
	size_t		 wlen, woff;
	/* answer */
	size_t		 rlen;
	int		 head_done;
	int		 status;
	int64_t		 body_left;	/* -1: until the server closes */
	int		 close_after;
	int		 hrana_err;
	size_t		 sniplen, carrylen;
	char		 snip[SNIP];
	char		 carry[PATLEN];
	struct conn	*qnext;
	char		 rbuf[RBUF];
};

struct thread {
	pthread_t	 pt;
	int		 id;
	int		 ep;
	int		 stopfd;
	int		 stop;
	struct conn	*conns;
	int		 nconns;
	uint64_t	 rng;
	int		 seq_next, seq_first;
	int64_t		 quota, sent, answered;	/* count mode */
	int64_t		 created;
	double		 slot, interval;	/* rate mode, us */
	struct conn	*qhead, *qtail;
	int		 nretry;
	int		 depth;		/* conn_again() nesting */
	uint64_t	 next_scan;
	uint64_t	 last_ok;
	uint64_t	 end;
	struct stats	 st;
	struct second	*secs;		/* --trace */
};

/* options */
static int		 nconns = 64, nthreads = 2, ntenants = 1000;
static int		 op = OP_SELECT, dist = D_UNIFORM;
static int64_t		 count;
static double		 seconds, rate, zipf_s = 1.1, timeout_s = 10;
static int		 trace;			/* per-second lines */
static uint64_t		 run_t0;		/* start, us */
static int		 nsecs;			/* --trace seconds kept */
static const char	*schema = "", *prefix = "c";

static struct sockaddr_storage	 target;
static socklen_t		 targetlen;
static int			 target_tcp;
static char			 target_name[300];
static char			 host[300];		/* Host header */

static uint64_t		 timeout_us;
static double		*cdf;			/* Zipf: P(rank <= r + 1) */
static struct tail	 t_select[NKEYS + 1];
static struct tail	 t_update[NKEYS + 1][NVALS + 1];
static size_t		 wbuf_size;
static int		 have_pwait2 = 1;
static pthread_t	 main_thread;
static atomic_int	 ndone;
static atomic_int	 nreported;
static atomic_int	 said_head, said_malformed, said_chunked, said_gaveup;

static void	bad_usage(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));
static void	conn_connect(struct conn *, uint64_t);
static void	conn_next(struct conn *, uint64_t);

/* Print the usage and exit with status. */
static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: load (--unix PATH | --url http://HOST:PORT) "
	    "(-d SECONDS | -n COUNT)\n"
	    "            [-c CONNS] [-t THREADS] [-R RATE] "
	    "[--timeout SECONDS]\n"
	    "            [--op select|update|mix|create] [--tenants N]\n"
	    "            [--dist uniform|zipf|seq] [--zipf-s S] "
	    "[--schema NAME] [--prefix P]\n"
	    "            [--trace]\n");
	exit(status);
}

/* A usage error: say what is wrong, exit 2. */
static void
bad_usage(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* Fatal error of the tool itself. */
static void
fatal(const char *what)
{
	fprintf(stderr, "load: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The monotonic clock in microseconds. */
static uint64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* splitmix64: the next 64 random bits of a thread. */
static uint64_t
rnd(struct thread *th)
{
	uint64_t	 z = (th->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

/* Uniform in 0 .. n-1. */
static uint32_t
rnd_below(struct thread *th, uint32_t n)
{
	return ((uint32_t)(((rnd(th) >> 32) * n) >> 32));
}

/* Uniform in [0, 1). */
static double
rnd_unit(struct thread *th)
{
	return ((double)(rnd(th) >> 11) * 0x1.0p-53);
}

/* A positive integer option, or a usage error. */
static int64_t
opt_int(const char *name, const char *s, int64_t max)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > max)
		bad_usage("%s must be a positive integer", name);
	return (v);
}

/* A positive number option, or a usage error. */
static double
opt_num(const char *name, const char *s)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v > 0) ||
	    !isfinite(v))
		bad_usage("%s must be a positive number", name);
	return (v);
}

/* Refuse text that would need escaping inside a JSON string. */
static void
opt_plain(const char *name, const char *s)
{
	for (; *s; s++)
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			bad_usage("%s may not hold quotes, backslashes or "
			    "control characters", name);
}

/* Set the target to the unix socket at path. */
static void
target_unix(const char *path)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&target;

	if (*path == '\0' || strlen(path) >= sizeof sun->sun_path)
		bad_usage("--unix: socket path '%s' is empty or too long",
		    path);
	memset(&target, 0, sizeof target);
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, path);
	targetlen = sizeof *sun;
	target_tcp = 0;
	snprintf(target_name, sizeof target_name, "unix:%s", path);
	snprintf(host, sizeof host, "localhost");
}

/* Set the target from an http://HOST[:PORT][/...] URL. */
static void
target_url(const char *url)
{
	struct addrinfo	 hints, *res;
	char		 h[256], port[16] = "80";
	const char	*p, *end, *hp;
	size_t		 n;
	int		 rc;

	if (strncmp(url, "http://", 7) != 0)
		bad_usage("--url must start with http:// (got '%s')", url);
	p = url + 7;
	end = p + strcspn(p, "/?#");
	if (end == p || (size_t)(end - p) >= sizeof host)
		bad_usage("--url has no host or a too long one: '%s'", url);
	memcpy(host, p, end - p);		/* Host header, as given */
	host[end - p] = '\0';
	if (*p == '[') {			/* [v6]:port */
		if ((hp = memchr(p, ']', end - p)) == NULL)
			bad_usage("--url: unterminated [ in '%s'", url);
		n = hp - p - 1;
		p = hp + 1;
		hp = host + 1;
	} else {
		hp = host;
		n = strcspn(host, ":");
		p += n;
	}
	if (n == 0 || n >= sizeof h)
		bad_usage("--url has no host: '%s'", url);
	memcpy(h, hp, n);
	h[n] = '\0';
	if (p < end && *p == ':') {
		p++;
		if (end - p < 1 || end - p > 5 ||
		    strspn(p, "0123456789") < (size_t)(end - p))
			bad_usage("--url has a bad port: '%s'", url);
		memcpy(port, p, end - p);
		port[end - p] = '\0';
		if (atoi(port) < 1 || atoi(port) > 65535)
			bad_usage("--url has a bad port: '%s'", url);
	} else if (p != end)
		bad_usage("--url: cannot parse '%s'", url);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(h, port, &hints, &res)) != 0) {
		fprintf(stderr, "load: %s: %s\n", url, gai_strerror(rc));
		exit(1);
	}
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	targetlen = res->ai_addrlen;
	freeaddrinfo(res);
	target_tcp = 1;
	snprintf(target_name, sizeof target_name, "%s", url);
}

/* One request tail: "/v2/pipeline HTTP/1.1 ... \r\n\r\n" + body. */
static void
tail_make(struct tail *t, const char *body)
{
	size_t	 n;

	n = strlen(body) + strlen(host) + 128;
	if ((t->p = malloc(n)) == NULL)
		fatal("malloc");
	t->len = (size_t)snprintf(t->p, n, "/v2/pipeline HTTP/1.1\r\n"
	    "Host: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", host, strlen(body), body);
	if (t->len + 32 > wbuf_size)
		wbuf_size = t->len + 32;
}

/* The pipeline tails by key, byte for byte as the wrk script bench/hrana.lua
 * (replaced by this program) made them. */
static void
tails_init(void)
{
	char	 body[512];
	size_t	 n;
	int	 k, j;

	n = strlen(host) + 768;		/* a create request: see conn_send */
	if (n > wbuf_size)
		wbuf_size = n;
	for (k = 1; k <= NKEYS; k++) {
		snprintf(body, sizeof body, "{\"requests\":[{\"type\":"
		    "\"execute\",\"stmt\":{\"sql\":\"SELECT v FROM kv WHERE "
		    "k = ?\",\"args\":[{\"type\":\"integer\",\"value\":\"%d\"}],"
		    "\"want_rows\":true}},{\"type\":\"close\"}]}", k);
		tail_make(&t_select[k], body);
		for (j = 1; j <= NVALS; j++) {
			snprintf(body, sizeof body, "{\"requests\":[{\"type\":"
			    "\"execute\",\"stmt\":{\"sql\":\"UPDATE kv SET v = ? "
			    "WHERE k = ?\",\"args\":[{\"type\":\"text\","
			    "\"value\":\"updated-%d-%d\"},{\"type\":\"integer\","
			    "\"value\":\"%d\"}],\"want_rows\":true}},{\"type\":"
			    "\"close\"}]}", k, j, k);
			tail_make(&t_update[k][j], body);
		}
	}
}

/* Zipf over ranks 1..n with exponent s: the cumulative table. */
static void
zipf_init(int n, double s)
{
	double	 sum = 0;
	int	 r;

	if ((cdf = malloc(sizeof *cdf * n)) == NULL)
		fatal("malloc");
	for (r = 1; r <= n; r++) {
		sum += pow(r, -s);
		cdf[r - 1] = sum;
	}
	for (r = 0; r < n; r++)
		cdf[r] /= sum;
	cdf[n - 1] = 1.0;
}

/* A Zipf-distributed tenant: rank 1 is b0. */
static int
zipf_draw(struct thread *th)
{
	double	 u = rnd_unit(th);
	int	 lo = 0, hi = ntenants - 1, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* The tenant of the next request of a thread. */
static int
next_tenant(struct thread *th)
{
	int	 t;

	if (count > 0 || dist == D_SEQ) {
		t = th->seq_next;
		th->seq_next += nthreads;
		if (count == 0 && th->seq_next >= ntenants)
			th->seq_next = th->seq_first;
		return (t);
	}
	if (dist == D_ZIPF)
		return (zipf_draw(th));
	return ((int)rnd_below(th, (uint32_t)ntenants));
}

/* Histogram bucket of a latency. */
static int
hist_index(uint64_t v)
{
	int	 k;

	if (v < HSUB)
		return ((int)v);
	k = 63 - __builtin_clzll(v);
	return (HSUB + (k - HBITS) * HHALF +
	    (int)(v >> (k - HBITS + 1)) - HHALF);
}

/* The middle of a histogram bucket. */
static uint64_t
hist_value(int i)
{
	int	 j, k;

	if (i < HSUB)
		return ((uint64_t)i);
	j = i - HSUB;
	k = j / HHALF + HBITS;
	return (((uint64_t)(j % HHALF + HHALF) << (k - HBITS + 1)) +
	    (((uint64_t)1 << (k - HBITS + 1)) - 1) / 2);
}

/* The latency at quantile q: the value of rank floor((n - 1) q). */
static uint64_t
hist_quantile(const struct stats *st, double q)
{
	uint64_t	 total = 0, rank, cum = 0;
	int		 i;

	for (i = 0; i < HBUCKETS; i++)
		total += st->hist[i];
	if (total == 0)
		return (0);
	rank = (uint64_t)((double)(total - 1) * q);
	for (i = 0; i < HBUCKETS; i++) {
		cum += st->hist[i];
		if (cum > rank)
			break;
	}
	if (i == HBUCKETS)
		i--;
	return (hist_value(i) < st->max_us ? hist_value(i) : st->max_us);
}

/* Print one unexpected answer (the first 3 of the run). */
static void
report_bad(struct conn *c)
{
	if (atomic_fetch_add(&nreported, 1) < 3)
		fprintf(stderr, "load: unexpected response %d: %.*s\n",
		    c->status, (int)c->sniplen, c->snip);
}

/* Print a message about the run, once per kind. */
static void
report_msg(atomic_int *once, const char *msg)
{
	if (atomic_exchange(once, 1) == 0)
		fprintf(stderr, "load: %s\n", msg);
}

/* Set the epoll interest of a connection: EPOLLIN, plus EPOLLOUT if out. */
static void
conn_want(struct conn *c, int out)
{
	struct epoll_event	 ev;

	if (c->out == out)
		return;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(c->th->ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		fatal("epoll_ctl");
	c->out = out;
}

/* Close the socket of a connection. */
static void
conn_close(struct conn *c)
{
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* The connection is gone: connect again now (or after delay us), unless
 * there is nothing left to send. */
static void
conn_again(struct conn *c, uint64_t now, uint64_t delay)
{
	struct thread	*th = c->th;

	conn_close(c);
	if (th->stop || (count > 0 && th->sent >= th->quota)) {
		c->state = C_DONE;
		return;
	}
	if (delay == 0 && th->depth < 4) {	/* no endless recursion */
		th->depth++;
		conn_connect(c, now);
		th->depth--;
		return;
	}
	if (delay == 0)
		delay = BUSY_US;
	c->state = C_RETRY;
	c->due = now + delay;
	th->nretry++;
}

/* A request failed (counter already counted): it is answered, in count
 * mode; the connection starts over. */
static void
conn_fail(struct conn *c, uint64_t now)
{
	if (c->state == C_WRITING || c->state == C_READING)
		c->th->answered++;
	conn_again(c, now, 0);
}

/* Start a non-blocking connect. */
static void
conn_connect(struct conn *c, uint64_t now)
{
	struct thread		*th = c->th;
	struct epoll_event	 ev;
	int			 one = 1;

	c->fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		th->st.err_connect++;
		conn_again(c, now, RETRY_US);
		return;
	}
	if (target_tcp)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->rlen = 0;
	c->head_done = 0;
	c->out = 1;
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	if (epoll_ctl(th->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		fatal("epoll_ctl");
	if (connect(c->fd, (struct sockaddr *)&target, targetlen) == 0) {
		conn_want(c, 0);
		th->last_ok = now;
		conn_next(c, now);
		return;
	}
	if (errno == EINPROGRESS) {
		c->state = C_CONNECTING;
		c->due = now + timeout_us;
		return;
	}
	if (errno == EAGAIN) {		/* unix socket: backlog full */
		conn_again(c, now, BUSY_US);
		return;
	}
	th->st.err_connect++;
	conn_again(c, now, RETRY_US);
}

/* A non-blocking connect finished. */
static void
conn_connected(struct conn *c, uint64_t now)
{
	int		 err = 0;
	socklen_t	 len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		c->th->st.err_connect++;
		conn_again(c, now, RETRY_US);
		return;
	}
	conn_want(c, 0);
	c->th->last_ok = now;
	conn_next(c, now);
}

/* Write what is left of the request. */
static void
conn_write(struct conn *c, uint64_t now)
{
	ssize_t	 n;

	n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			conn_want(c, 1);
			return;
		}
		c->th->st.err_write++;
		conn_fail(c, now);
		return;
	}
	c->woff += (size_t)n;
	if (c->woff < c->wlen) {
		c->state = C_WRITING;
		conn_want(c, 1);
		return;
	}
	c->state = C_READING;
	conn_want(c, 0);
}

/* Build the next request into the connection's buffer and send it;
 * latency counts from start. */
static void
conn_send(struct conn *c, uint64_t start, uint64_t now)
{
	struct thread		*th = c->th;
	const struct tail	*t;
	char			*p = c->wbuf, id[96], body[512];
	int			 tenant, k, n, blen;

	th->sent++;
	if (th->secs != NULL && now >= run_t0 && now > start + 1000 &&
	    (now - run_t0) / 1000000 < (uint64_t)nsecs)
		th->secs[(now - run_t0) / 1000000].late1++;
	if (op == OP_CREATE) {
		if (count > 0)
			snprintf(id, sizeof id, "b%d", next_tenant(th));
		else
			snprintf(id, sizeof id, "%.40s%d-%" PRId64, prefix,
			    th->id, ++th->created);
		if (*schema == '\0')
			blen = snprintf(body, sizeof body,
			    "{\"id\":\"%s\",\"schema\":null}", id);
		else
			blen = snprintf(body, sizeof body,
			    "{\"id\":\"%s\",\"schema\":\"%.400s\"}", id, schema);
		n = snprintf(p, wbuf_size, "POST /v1/tenants HTTP/1.1\r\n"
		    "Host: %s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %d\r\n\r\n%s", host, blen, body);
		c->wlen = (size_t)n;
	} else {
		tenant = next_tenant(th);
		k = (int)rnd_below(th, NKEYS) + 1;
		if (op == OP_UPDATE || (op == OP_MIX && rnd_unit(th) < 0.1))
			t = &t_update[k][rnd_below(th, NVALS) + 1];
		else
			t = &t_select[k];
		memcpy(p, "POST /t/b", 9);
		n = 9 + snprintf(p + 9, 16, "%d", tenant);
		memcpy(p + n, t->p, t->len);
		c->wlen = (size_t)n + t->len;
	}
	c->woff = 0;
	c->start = start;
	c->due = now + timeout_us;
	c->rlen = 0;
	c->head_done = 0;
	c->state = C_WRITING;
	conn_write(c, now);
}

/* The connection is free for another request. */
static void
conn_next(struct conn *c, uint64_t now)
{
	struct thread	*th = c->th;

	if (th->stop || (count > 0 && th->sent >= th->quota)) {
		c->state = C_IDLE;
		return;
	}
	if (rate > 0) {
		c->state = C_QUEUED;
		if (!c->queued) {
			c->queued = 1;
			c->qnext = NULL;
			if (th->qtail != NULL)
				th->qtail->qnext = c;
			else
				th->qhead = c;
			th->qtail = c;
		}
		return;
	}
	conn_send(c, now, now);
}

/* Parse the head of an answer in rbuf[0..len): 0, -1 if malformed, -2 if
 * it has a Transfer-Encoding. */
static int
parse_head(struct conn *c, size_t len)
{
	const char	*p = c->rbuf, *end = c->rbuf + len, *eol, *colon;
	const char	*v, *ve, *tok;
	size_t		 namelen, toklen;
	int64_t		 cl = -1;
	int		 te = 0;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return (-1);
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	c->close_after = p[7] == '0';
	p = (const char *)memchr(p, '\n', len) + 1;
	while (p < end && (eol = memchr(p, '\n', end - p)) != NULL) {
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break;
		if ((colon = memchr(p, ':', ve - p)) == NULL)
			return (-1);
		namelen = colon - p;
		for (v = colon + 1; v < ve && (*v == ' ' || *v == '\t'); v++)
			;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (namelen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			if (v == ve || ve - v > 18)
				return (-1);
			for (cl = 0; v < ve; v++) {
				if (*v < '0' || *v > '9')
					return (-1);
				cl = cl * 10 + (*v - '0');
			}
		} else if (namelen == 17 &&
		    strncasecmp(p, "Transfer-Encoding", 17) == 0) {
			if (ve - v != 8 || strncasecmp(v, "identity", 8) != 0)
				te = 1;
		} else if (namelen == 10 &&
		    strncasecmp(p, "Connection", 10) == 0) {
			for (tok = v; tok < ve; tok += toklen + 1) {
				while (tok < ve && (*tok == ' ' || *tok == ','))
					tok++;
				toklen = strcspn(tok, ",\r\n");
				if (tok + toklen > ve)
					toklen = ve - tok;
				while (toklen > 0 && tok[toklen - 1] == ' ')
					toklen--;
				if (toklen == 5 && strncasecmp(tok, "close", 5) == 0)
					c->close_after = 1;
				else if (toklen == 10 &&
				    strncasecmp(tok, "keep-alive", 10) == 0)
					c->close_after = 0;
			}
		}
		p = eol + 1;
	}
	if (te)
		return (-2);
	if (c->status < 200 || c->status == 204 || c->status == 304)
		c->body_left = 0;
	else
		c->body_left = cl;		/* -1: until the close */
	c->hrana_err = 0;
	c->sniplen = 0;
	c->carrylen = 0;
	return (0);
}

/* Take n body bytes: keep the start, look for a Hrana error across reads. */
static void
body_feed(struct conn *c, const char *p, size_t n)
{
	char	 join[2 * PATLEN];
	size_t	 m, keep;

	if (c->body_left >= 0 && (int64_t)n > c->body_left) {
		n = (size_t)c->body_left;	/* unasked-for bytes */
		c->close_after = 1;
	}
	if (c->sniplen < SNIP) {
		m = n < SNIP - c->sniplen ? n : SNIP - c->sniplen;
		memcpy(c->snip + c->sniplen, p, m);
		c->sniplen += m;
	}
	if (op != OP_CREATE && !c->hrana_err) {
		if (c->carrylen > 0) {
			m = n < PATLEN - 1 ? n : PATLEN - 1;
			memcpy(join, c->carry, c->carrylen);
			memcpy(join + c->carrylen, p, m);
			if (memmem(join, c->carrylen + m, PAT, PATLEN) != NULL)
				c->hrana_err = 1;
		}
		if (memmem(p, n, PAT, PATLEN) != NULL)
			c->hrana_err = 1;
		if (n >= PATLEN - 1) {
			memcpy(c->carry, p + n - (PATLEN - 1), PATLEN - 1);
			c->carrylen = PATLEN - 1;
		} else {
			keep = c->carrylen + n > PATLEN - 1 ?
			    PATLEN - 1 - n : c->carrylen;
			memmove(c->carry, c->carry + c->carrylen - keep, keep);
			memcpy(c->carry + keep, p, n);
			c->carrylen = keep + n;
		}
	}
	if (c->body_left > 0)
		c->body_left -= (int64_t)n;
}

/* The whole answer is in: count it, check it, go on. */
static void
conn_complete(struct conn *c, uint64_t now)
{
	struct thread	*th = c->th;
	struct stats	*st = &th->st;
	uint64_t	 lat = now > c->start ? now - c->start : 0;
	int		 want = op == OP_CREATE ? 201 : 200;

	st->requests++;
	st->sum_us += lat;
	if (lat > st->max_us)
		st->max_us = lat;
	st->hist[hist_index(lat)]++;
	if (th->secs != NULL && now >= run_t0 &&
	    (now - run_t0) / 1000000 < (uint64_t)nsecs) {
		struct second	*sec = &th->secs[(now - run_t0) / 1000000];

		sec->n++;
		sec->over1 += lat > 1000;
		sec->over2 += lat > 2000;
		if (lat > sec->max_us)
			sec->max_us = lat;
	}
	if (c->status < 200 || c->status > 299)
		st->err_status++;
	if (c->status != want || c->hrana_err) {
		st->bad++;
		report_bad(c);
	}
	th->answered++;
	th->last_ok = now;
	if (c->close_after || c->state == C_WRITING) {
		c->state = C_IDLE;
		conn_again(c, now, 0);
		return;
	}
	conn_next(c, now);
}

/* Read what the server sent and parse as far as it goes. */
static void
conn_read(struct conn *c, uint64_t now)
{
	struct thread	*th = c->th;
	ssize_t		 n;
	size_t		 old = c->rlen, from;
	char		*e;
	int		 rc, busy = c->state == C_WRITING ||
			    c->state == C_READING;

	n = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (!busy) {			/* an idle connection closed */
			conn_again(c, now, 0);
			return;
		}
		if (n == 0 && c->head_done && c->body_left == -1) {
			c->close_after = 1;	/* the body ran up to the close */
			conn_complete(c, now);
			return;
		}
		th->st.err_read++;
		conn_fail(c, now);
		return;
	}
	if (!busy) {				/* unasked-for bytes */
		th->st.err_read++;
		conn_again(c, now, 0);
		return;
	}
	c->rlen += (size_t)n;
	while (!c->head_done) {
		from = old > 3 ? old - 3 : 0;
		e = memmem(c->rbuf + from, c->rlen - from, "\r\n\r\n", 4);
		if (e == NULL) {
			if (c->rlen == RBUF) {
				report_msg(&said_head, "response head larger "
				    "than 16 KiB: counted as read errors");
				th->st.err_read++;
				conn_fail(c, now);
			}
			return;
		}
		if ((rc = parse_head(c, (size_t)(e + 4 - c->rbuf))) != 0) {
			if (rc == -2)
				report_msg(&said_chunked, "chunked (Transfer-"
				    "Encoding) responses are not supported: "
				    "counted as read errors");
			else
				report_msg(&said_malformed, "malformed response "
				    "head: counted as read errors");
			th->st.err_read++;
			conn_fail(c, now);
			return;
		}
		from = (size_t)(e + 4 - c->rbuf);
		if (c->status >= 200)
			c->head_done = 1;
		else {				/* 1xx: the answer follows */
			memmove(c->rbuf, c->rbuf + from, c->rlen - from);
			c->rlen -= from;
			old = 0;
			continue;
		}
		body_feed(c, c->rbuf + from, c->rlen - from);
		c->rlen = 0;
		if (c->body_left == 0)
			conn_complete(c, now);
		return;
	}
	body_feed(c, c->rbuf, c->rlen);
	c->rlen = 0;
	if (c->body_left == 0)
		conn_complete(c, now);
}

/* Rate mode: send on queued connections whose slots are due. */
static void
dispatch(struct thread *th, uint64_t now)
{
	struct conn	*c;

	while (th->qhead != NULL) {
		if (th->slot < (double)now - BACKLOG_US)
			th->slot = (double)now - BACKLOG_US;
		if (th->slot > (double)now)
			return;
		c = th->qhead;
		th->qhead = c->qnext;
		if (th->qhead == NULL)
			th->qtail = NULL;
		c->queued = 0;
		if (c->state != C_QUEUED)
			continue;
		if (count > 0 && th->sent >= th->quota) {
			c->state = C_IDLE;
			continue;
		}
		conn_send(c, (uint64_t)th->slot, now);
		th->slot += th->interval;
	}
}

/* Timeouts and reconnects, every SCAN_US (or sooner with retries). */
static void
scan(struct thread *th, uint64_t now)
{
	struct conn	*c;
	int		 i, busy = 0;

	th->nretry = 0;
	for (i = 0; i < th->nconns; i++) {
		c = &th->conns[i];
		switch (c->state) {
		case C_CONNECTING:
			if (now >= c->due) {
				th->st.err_connect++;
				conn_again(c, now, RETRY_US);
			}
			break;
		case C_WRITING:
		case C_READING:
			if (now >= c->due) {
				th->st.err_timeout++;
				conn_fail(c, now);
			}
			break;
		case C_RETRY:
			if (now >= c->due)
				conn_connect(c, now);
			else
				th->nretry++;
			break;
		}
		if (c->state == C_WRITING || c->state == C_READING)
			busy++;
	}
	/* Count mode: a target that stays unreachable must not hang us. */
	if (count > 0 && busy == 0 && th->answered < th->quota &&
	    now - th->last_ok > timeout_us + 1000000) {
		report_msg(&said_gaveup, "giving up: the target stays "
		    "unreachable");
		th->stop = 1;
	}
	th->next_scan = now + (th->nretry > 0 ? RETRY_US / 10 : SCAN_US);
}

/* Wait for events until the next thing is due. */
static int
thread_wait(struct thread *th, struct epoll_event *evs, uint64_t now)
{
	struct timespec	 ts;
	uint64_t	 until = th->next_scan, d;
	int		 n;

	if (th->qhead != NULL && th->slot < (double)until)
		until = th->slot > (double)now ? (uint64_t)th->slot : now;
	d = until > now ? until - now : 0;
	if (have_pwait2) {
		ts.tv_sec = (time_t)(d / 1000000);
		ts.tv_nsec = (long)(d % 1000000) * 1000;
		n = epoll_pwait2(th->ep, evs, NEVENTS, &ts, NULL);
		if (n != -1 || errno != ENOSYS)
			return (n);
		have_pwait2 = 0;
	}
	return (epoll_wait(th->ep, evs, NEVENTS, (int)((d + 999) / 1000)));
}

/* A thread: its connections on its own epoll loop. */
static void *
thread_main(void *arg)
{
	struct thread		*th = arg;
	struct epoll_event	 evs[NEVENTS];
	struct conn		*c;
	uint64_t		 now = now_us(), v;
	int			 i, n;

	th->slot = (double)now;
	th->last_ok = now;
	th->next_scan = now + SCAN_US;
	for (i = 0; i < th->nconns && !(count > 0 && th->sent >= th->quota);
	    i++)
		conn_connect(&th->conns[i], now);
	for (; i < th->nconns; i++)
		th->conns[i].state = C_DONE;
	while (!th->stop && !(count > 0 && th->answered >= th->quota)) {
		if (rate > 0)
			dispatch(th, now);
		n = thread_wait(th, evs, now);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		now = now_us();
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) == NULL) {
				if (read(th->stopfd, &v, sizeof v) == -1)
					(void)0;
				th->stop = 1;
				continue;
			}
			if (c->fd == -1)
				continue;	/* closed earlier in this batch */
			if (c->state == C_CONNECTING) {
				conn_connected(c, now);
				continue;
			}
			if ((evs[i].events & EPOLLOUT) && c->state == C_WRITING)
				conn_write(c, now);
			if (c->fd != -1 &&
			    (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				conn_read(c, now);
		}
		if (now >= th->next_scan)
			scan(th, now);
	}
	th->end = now_us();
	th->stop = 1;
	for (i = 0; i < th->nconns; i++)
		conn_close(&th->conns[i]);
	if (count > 0) {
		atomic_fetch_add(&ndone, 1);
		pthread_kill(main_thread, SIGUSR1);
	}
	return (NULL);
}

/* Can the target be reached at all?  One blocking connect. */
static int
probe(void)
{
	int	 fd, rc;

	if ((fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1)
		fatal("socket");
	rc = connect(fd, (struct sockaddr *)&target, targetlen);
	if (rc == -1)
		fprintf(stderr, "load: cannot connect to %s: %s\n",
		    target_name, strerror(errno));
	close(fd);
	return (rc);
}

/* Print the RESULT line. */
static void
result(const struct stats *st, uint64_t dur)
{
	printf("RESULT requests=%" PRIu64 " duration_us=%" PRIu64
	    " rps=%.1f p50_us=%" PRIu64 " p99_us=%" PRIu64 " mean_us=%.1f"
	    " max_us=%" PRIu64 " err_connect=%" PRIu64 " err_read=%" PRIu64
	    " err_write=%" PRIu64 " err_status=%" PRIu64 " err_timeout=%"
	    PRIu64 " bad=%" PRIu64 "\n", st->requests, dur,
	    dur ? (double)st->requests * 1e6 / (double)dur : 0.0,
	    hist_quantile(st, 0.50), hist_quantile(st, 0.99),
	    st->requests ? (double)st->sum_us / (double)st->requests : 0.0,
	    st->max_us, st->err_connect, st->err_read, st->err_write,
	    st->err_status, st->err_timeout, st->bad);
	fflush(stdout);
}

/*
 * --trace: a SECOND line per second of the run (by answer time): answers,
 * answers slower than 1 ms and 2 ms, the slowest.  Shows whether a p99
 * comes from a few bad seconds or from all of them.
 */
static void
trace_print(struct thread *ths, uint64_t dur)
{
	struct second	 sum;
	int		 s, i, last = (int)((dur + 999999) / 1000000);

	for (s = 0; s < nsecs && s < last; s++) {
		memset(&sum, 0, sizeof sum);
		for (i = 0; i < nthreads; i++) {
			sum.n += ths[i].secs[s].n;
			sum.over1 += ths[i].secs[s].over1;
			sum.over2 += ths[i].secs[s].over2;
			sum.late1 += ths[i].secs[s].late1;
			if (ths[i].secs[s].max_us > sum.max_us)
				sum.max_us = ths[i].secs[s].max_us;
		}
		printf("SECOND s=%d answers=%" PRIu64 " over_1ms=%" PRIu64
		    " over_2ms=%" PRIu64 " max_us=%" PRIu64 " late_1ms=%" PRIu64
		    "\n", s, sum.n, sum.over1, sum.over2, sum.max_us,
		    sum.late1);
	}
}

/* Options. */
static void
options(int argc, char **argv)
{
	enum { O_UNIX = 256, O_URL, O_TIMEOUT, O_OP, O_TENANTS, O_DIST,
	    O_ZIPF, O_SCHEMA, O_PREFIX, O_TRACE };
	static const struct option longopts[] = {
		{ "unix", required_argument, NULL, O_UNIX },
		{ "url", required_argument, NULL, O_URL },
		{ "conns", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'R' },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "op", required_argument, NULL, O_OP },
		{ "tenants", required_argument, NULL, O_TENANTS },
		{ "dist", required_argument, NULL, O_DIST },
		{ "zipf-s", required_argument, NULL, O_ZIPF },
		{ "schema", required_argument, NULL, O_SCHEMA },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "trace", no_argument, NULL, O_TRACE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*unix_path = NULL, *url = NULL;
	int		 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:t:d:n:R:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case O_UNIX:
			unix_path = optarg;
			break;
		case O_URL:
			url = optarg;
			break;
		case 'c':
			nconns = (int)opt_int("-c", optarg, 100000);
			break;
		case 't':
			nthreads = (int)opt_int("-t", optarg, 1024);
			break;
		case 'd':
			seconds = opt_num("-d", optarg);
			break;
		case 'n':
			count = opt_int("-n", optarg, 1000000000);
			break;
		case 'R':
			rate = opt_num("-R", optarg);
			break;
		case O_TIMEOUT:
			timeout_s = opt_num("--timeout", optarg);
			break;
		case O_OP:
			if (strcmp(optarg, "select") == 0)
				op = OP_SELECT;
			else if (strcmp(optarg, "update") == 0)
				op = OP_UPDATE;
			else if (strcmp(optarg, "mix") == 0)
				op = OP_MIX;
			else if (strcmp(optarg, "create") == 0)
				op = OP_CREATE;
			else
				bad_usage("--op must be select, update, mix or "
				    "create (got '%s')", optarg);
			break;
		case O_TENANTS:
			ntenants = (int)opt_int("--tenants", optarg,
			    1000000000);
			break;
		case O_DIST:
			if (strcmp(optarg, "uniform") == 0)
				dist = D_UNIFORM;
			else if (strcmp(optarg, "zipf") == 0)
				dist = D_ZIPF;
			else if (strcmp(optarg, "seq") == 0)
				dist = D_SEQ;
			else
				bad_usage("--dist must be uniform, zipf or seq "
				    "(got '%s')", optarg);
			break;
		case O_ZIPF:
			zipf_s = opt_num("--zipf-s", optarg);
			break;
		case O_SCHEMA:
			opt_plain("--schema", optarg);
			if (strlen(optarg) > 400)
				bad_usage("--schema is too long");
			schema = optarg;
			break;
		case O_PREFIX:
			opt_plain("--prefix", optarg);
			if (strlen(optarg) > 40)
				bad_usage("--prefix is too long");
			prefix = optarg;
			break;
		case O_TRACE:
			trace = 1;
			break;
		case 'h':
			usage(0);
			break;
		case ':':
			fprintf(stderr, "load: %s needs a value\n",
			    argv[optind - 1]);
			usage(2);
			break;
		default:
			if (optopt != 0)
				fprintf(stderr, "load: unknown option -%c\n",
				    optopt);
			else
				fprintf(stderr, "load: unknown option %s\n",
				    argv[optind - 1]);
			usage(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if ((unix_path == NULL) == (url == NULL))
		bad_usage("give one target: --unix PATH or --url "
		    "http://HOST:PORT");
	if ((seconds > 0) == (count > 0))
		bad_usage("give one of -d SECONDS and -n COUNT");
	if (count > 0 && dist == D_ZIPF)
		bad_usage("-n visits b0 .. b{COUNT-1} once each, in turn: "
		    "not with --dist zipf");
	if (nconns < nthreads)
		bad_usage("-c must be at least -t");
	if (count > 0)
		ntenants = (int)count;
	timeout_us = (uint64_t)(timeout_s * 1e6);
	if (unix_path != NULL)
		target_unix(unix_path);
	else
		target_url(url);
}

int
main(int argc, char **argv)
{
	struct thread		*ths;
	struct stats		*all;
	struct epoll_event	 ev;
	struct timespec		 ts;
	struct conn		*c;
	sigset_t		 set;
	uint64_t		 t0, end, now, dl, one = 1;
	int			 i, j, k, sig;

	options(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if ((all = calloc(1, sizeof *all)) == NULL)
		fatal("calloc");
	if (probe() == -1) {
		all->err_connect = 1;
		result(all, 0);
		return (1);
	}
	tails_init();
	if (dist == D_ZIPF && count == 0)
		zipf_init(ntenants, zipf_s);

	/* Signals go to this thread only, through sigtimedwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	main_thread = pthread_self();

	if ((ths = calloc(nthreads, sizeof *ths)) == NULL)
		fatal("calloc");
	if (trace)	/* the run's seconds, and what answers come after */
		nsecs = (count > 0 ? 3600 : (int)seconds) + (int)timeout_s + 2;
	t0 = run_t0 = now_us();
	for (i = 0; i < nthreads; i++) {
		struct thread	*th = &ths[i];

		th->id = i;
		th->rng = t0 * 6364136223846793005ull + (uint64_t)i *
		    0x9e3779b97f4a7c15ull + (uint64_t)getpid();
		th->nconns = nconns / nthreads + (i < nconns % nthreads);
		th->seq_first = th->seq_next = i % ntenants;
		if (count > 0)
			th->quota = count > i ? (count - i + nthreads - 1) /
			    nthreads : 0;
		if (rate > 0)
			th->interval = 1e6 * nthreads / rate;
		if ((th->conns = calloc(th->nconns, sizeof *th->conns)) ==
		    NULL)
			fatal("calloc");
		if (trace && (th->secs = calloc(nsecs, sizeof *th->secs)) ==
		    NULL)
			fatal("calloc");
		for (j = 0; j < th->nconns; j++) {
			c = &th->conns[j];
			c->th = th;
			c->fd = -1;
			c->state = C_DONE;
			if ((c->wbuf = malloc(wbuf_size)) == NULL)
				fatal("malloc");
		}
		if ((th->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
			fatal("epoll_create1");
		if ((th->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
			fatal("eventfd");
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		if (epoll_ctl(th->ep, EPOLL_CTL_ADD, th->stopfd, &ev) == -1)
			fatal("epoll_ctl");
	}
	for (i = 0; i < nthreads; i++)
		if ((errno = pthread_create(&ths[i].pt, NULL, thread_main,
		    &ths[i])) != 0)
			fatal("pthread_create");

	/* Until the duration is over, every answer is in, or a signal. */
	dl = t0 + (uint64_t)(seconds * 1e6);
	for (;;) {
		if (count > 0 && atomic_load(&ndone) == nthreads)
			break;
		if (count > 0) {
			ts.tv_sec = 3600;
			ts.tv_nsec = 0;
		} else {
			if ((now = now_us()) >= dl)
				break;
			ts.tv_sec = (time_t)((dl - now) / 1000000);
			ts.tv_nsec = (long)((dl - now) % 1000000) * 1000;
		}
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			break;
	}
	for (i = 0; i < nthreads; i++)
		if (write(ths[i].stopfd, &one, sizeof one) == -1)
			fatal("write");
	end = t0;
	for (i = 0; i < nthreads; i++) {
		pthread_join(ths[i].pt, NULL);
		if (ths[i].end > end)
			end = ths[i].end;
		all->requests += ths[i].st.requests;
		all->err_connect += ths[i].st.err_connect;
		all->err_read += ths[i].st.err_read;
		all->err_write += ths[i].st.err_write;
		all->err_status += ths[i].st.err_status;
		all->err_timeout += ths[i].st.err_timeout;
		all->bad += ths[i].st.bad;
		all->sum_us += ths[i].st.sum_us;
		if (ths[i].st.max_us > all->max_us)
			all->max_us = ths[i].st.max_us;
		for (k = 0; k < HBUCKETS; k++)
			all->hist[k] += ths[i].st.hist[k];
	}
	if (trace)
		trace_print(ths, end - t0);
	result(all, end - t0);
	return (0);
}
