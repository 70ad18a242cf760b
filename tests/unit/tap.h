/*
 * tap.h: a tiny TAP producer for unit tests.
 *
 *	ok(cond, "name %d", i);		one test line
 *	is_int(got, want, "name");	with a diagnostic on mismatch
 *	is_str(got, want, "name");
 *	return tap_done();		prints the plan, exit status
 *
 * Header-only so each test binary stays one file.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static void __attribute__((format(printf, 2, 3)))
tap_ok(int cond, const char *fmt, ...)
{
	va_list	ap;

	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define ok(cond, ...)	tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, ...) do {					\
	long long tap_g = (long long)(got), tap_w = (long long)(want);	\
	tap_ok(tap_g == tap_w, __VA_ARGS__);				\
	if (tap_g != tap_w)						\
		printf("#   got %lld, want %lld (%s:%d)\n", tap_g, tap_w,	\
		    __FILE__, __LINE__);				\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g = (got), *tap_w = (want);			\
	int tap_c = (tap_g != NULL && tap_w != NULL) ?			\
	    strcmp(tap_g, tap_w) == 0 : tap_g == tap_w;			\
	tap_ok(tap_c, __VA_ARGS__);					\
	if (!tap_c)							\
		printf("#   got \"%s\", want \"%s\" (%s:%d)\n",		\
		    tap_g ? tap_g : "(null)", tap_w ? tap_w : "(null)",	\
		    __FILE__, __LINE__);				\
} while (0)

static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return (tap_failed ? 1 : 0);
}

#endif /* TAP_H */
