/*
 * tenantctl.h: private header of tenantctl, the admin CLI of tenantd.
 *
 * tenantctl is a client of the daemon's admin API (docs/API.md) and holds
 * no logic of its own that the daemon lacks.  It is single-threaded: every
 * function here runs on the one main thread.
 */
#ifndef TENANTCTL_H
#define TENANTCTL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Exit statuses: a contract with scripts, documented in tenantctl(8). */
#define CTL_EXIT_OK		0	/* done */
#define CTL_EXIT_REFUSED	1	/* the daemon said no (HTTP >= 400) */
#define CTL_EXIT_USAGE		2	/* bad command line; nothing was sent */
#define CTL_EXIT_CONNECT	3	/* no usable answer from the daemon */

/* Limits on what the client accepts from the daemon. */
#define CLIENT_MAX_HEAD		(64 * 1024)	  /* status line + headers */
#define CLIENT_MAX_HEADERS	100		  /* header fields */
#define CLIENT_MAX_BODY		(16 * 1024 * 1024) /* decoded body */

enum client_type {
	CLIENT_UNIX,
	CLIENT_TCP
};

/* Where the daemon is.  Every string is owned by the endpoint. */
struct client_endpoint {
	enum client_type	 type;
	char			*path;		/* unix: socket path */
	char			*host;		/* tcp: name or address */
	char			*port;		/* tcp: decimal port */
	char			*base;		/* tcp: "" or "/prefix" */
	char			*hosthdr;	/* value of the Host header */
	char			*name;		/* for messages */
};

/* One request.  Every pointer is borrowed for the duration of the call. */
struct client_request {
	const char		*method;
	const char		*path;		/* "/v1/...", query included */
	const char		*body;		/* NULL: no body */
	size_t			 bodylen;
	const char		*token;		/* NULL: no Authorization */
	int			 timeout_ms;	/* whole exchange */
};

struct client_header {
	char			*name;
	char			*value;
};

/* A parsed response.  Every pointer is owned by the response. */
struct client_response {
	int			 status;
	char			*reason;
	struct client_header	*headers;
	size_t			 nheaders;
	char			*body;		/* decoded, NUL-terminated */
	size_t			 bodylen;
};

/* A table (or key: value list) built cell by cell, printed aligned. */
struct output_table;

/* client.c */
void		 client_endpoint_unix(struct client_endpoint *, const char *);
int		 client_endpoint_url(struct client_endpoint *, const char *,
		     char *, size_t);
void		 client_endpoint_clear(struct client_endpoint *);
int		 client_request(const struct client_endpoint *,
		     const struct client_request *, struct client_response *,
		     char *, size_t);
void		 client_response_clear(struct client_response *);
const char	*client_header(const struct client_response *, const char *);
char		*client_urlencode(const char *);

/* output.c */
struct output_table *output_table_new(int, const char *, ...);
struct output_table *output_kv_new(void);
void		 output_table_cell(struct output_table *, const char *);
void		 output_table_cell_json(struct output_table *, const json_t *);
void		 output_kv(struct output_table *, const char *, const char *);
void		 output_kv_json(struct output_table *, const char *,
		     const json_t *);
size_t		 output_table_rows(const struct output_table *);
void		 output_table_print(const struct output_table *, FILE *);
void		 output_table_free(struct output_table *);
char		*output_scalar(const json_t *);
char		*output_clean(const char *);
void		 output_json(FILE *, const json_t *);

#endif /* TENANTCTL_H */
