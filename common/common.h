/*
 * common.h: code shared by tenantd, tenantctl and the tests.
 *
 * Everything here is thread-safe unless a comment says otherwise.  The
 * x-functions never return failure: they call fatal() on out-of-memory, so
 * callers need no NULL checks (tier 1 errors in docs/ARCHITECTURE.md).
 */
#ifndef COMMON_H
#define COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define TENANTD_VERSION		PACKAGE_VERSION

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif
#define printflike(a, b) __attribute__((format(printf, a, b)))

/* log.c */
void		 log_init(int foreground, int verbose, const char *ident);
int		 log_verbose(void);
void		 log_warn(const char *, ...) printflike(1, 2);
void		 log_warnx(const char *, ...) printflike(1, 2);
void		 log_info(const char *, ...) printflike(1, 2);
void		 log_debug(const char *, ...) printflike(1, 2);
__dead void	 fatal(const char *, ...) printflike(1, 2);
__dead void	 fatalx(const char *, ...) printflike(1, 2);
char		*log_escape(const char *, size_t, char *, size_t);

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xrealloc(void *, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
char		*xstrndup(const char *, size_t);
int		 xasprintf(char **, const char *, ...) printflike(2, 3);
size_t		 strlcpy_x(char *, const char *, size_t);

/* tid.c: tenant ids */
#define TID_MAX		64
int		 tid_valid(const char *, size_t);
const char	*tid_error(const char *, size_t);
uint32_t	 tid_hash(const char *, size_t);
int		 tid_shard(const char *, size_t);
#define TID_SHARDS	256

/* b64.c: standard alphabet; decoding accepts missing padding */
size_t		 b64_encoded_len(size_t);
size_t		 b64_encode(const unsigned char *, size_t, char *, int);
int		 b64_decode(const char *, size_t, unsigned char **, size_t *);
int		 b64url_decode(const char *, size_t, unsigned char *, size_t,
		     size_t *);
size_t		 b64url_encode(const unsigned char *, size_t, char *);

/* fsutil.c: durable file system changes */
#include <sys/types.h>
int		 fsync_path(const char *, int);
int		 fsync_parent(const char *);
int		 mkdir_parent(const char *, mode_t);

/* timeutil.c */
uint64_t	 time_now_ms(void);
uint64_t	 time_mono_us(void);
void		 time_format_iso(int64_t, char *, size_t);

#endif /* COMMON_H */
