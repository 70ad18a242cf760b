/*
 * log.c: OpenBSD-style logging.
 *
 * Foreground: stderr with an ISO timestamp; otherwise syslog.  Any thread
 * may call these; each message is written with one write(2)/syslog(3)
 * call so lines from different threads do not interleave.  errno is
 * preserved across calls.  Never pass secrets or tenant data; escape
 * client-supplied strings with log_escape() first.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static int	log_foreground = 1;
static int	log_level_verbose;

void
log_init(int foreground, int verbose, const char *ident)
{
	log_foreground = foreground;
	log_level_verbose = verbose;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_verbose(void)
{
	return (log_level_verbose);
}

static void
vlog(int pri, const char *prefix, const char *fmt, va_list ap, int with_errno,
    int saved_errno)
{
	char		 msg[2048], line[2304], ts[32];
	struct timespec	 now;
	struct tm	 tm;
	int		 n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof msg - len, ": %s",
		    strerror(saved_errno));
	}
	if (!log_foreground) {
		syslog(pri, "%s%s", prefix, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof line, "%s.%03ldZ %s%s\n", ts,
	    now.tv_nsec / 1000000, prefix, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	(void)!write(STDERR_FILENO, line, n);
}

void
log_warn(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "warning: ", fmt, ap, 1, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, "warning: ", fmt, ap, 0, 0);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, "", fmt, ap, 0, 0);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	if (!log_level_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, "debug: ", fmt, ap, 0, 0);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap, 1, saved);
	va_end(ap);
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, "fatal: ", fmt, ap, 0, 0);
	va_end(ap);
	abort();
}

/*
 * Copy at most len bytes of a client string into buf as printable ASCII:
 * control bytes, quotes, backslashes and non-ASCII become \xNN.  Output is
 * truncated to fit buf (always NUL-terminated).  Returns buf.
 */
char *
log_escape(const char *s, size_t len, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;

	if (size == 0)
		return (buf);
	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			buf[o++] = (char)c;
			continue;
		}
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 15];
	}
	buf[o] = '\0';
	return (buf);
}
