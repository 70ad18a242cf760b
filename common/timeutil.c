/*
 * timeutil.c: clocks and timestamps.  Any thread.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "common.h"

/* Wall clock in milliseconds since the epoch (catalog timestamps). */
uint64_t
time_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Monotonic clock in microseconds (latencies, expiry). */
uint64_t
time_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* Format epoch milliseconds as RFC 3339 UTC, e.g. 2026-11-21T10:00:00.123Z. */
void
time_format_iso(int64_t ms, char *buf, size_t size)
{
	time_t		secs = (time_t)(ms / 1000);
	struct tm	tm;
	char		tmp[32];

	gmtime_r(&secs, &tm);
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", tmp, (int)(ms % 1000));
}
