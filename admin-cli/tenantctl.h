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
#include <stdint.h>
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

/* What client_request, client_download and client_upload return. */
#define CLIENT_OK		0
#define CLIENT_ERR_DAEMON	-1	/* unreachable, timeout, bad HTTP */
#define CLIENT_ERR_SINK		-2	/* the sink refused the body */
#define CLIENT_ERR_SOURCE	-3	/* the file to upload failed */

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
	const char		*accept;	/* NULL: application/json */
	const char		*content_type;	/* NULL: application/json */
	int			 timeout_ms;	/* exchange; download and
						   upload: silence */
	int			 reply_timeout_ms; /* upload: for the answer
						   once the body is sent;
						   0: timeout_ms */
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

/*
 * Where client_download puts the body of a 2xx response instead of memory.
 * start is called once, when the final head has arrived, with the body's
 * length (-1 when it is not known: chunked, or until EOF); write is then
 * called with each decoded piece in order.  Either returns 0, or -1 after
 * writing a message into err to abort the download.  Both run on the main
 * thread, inside client_download.
 */
struct client_sink {
	int	(*start)(void *, const struct client_response *, int64_t,
		    char *, size_t);
	int	(*write)(void *, const char *, size_t, char *, size_t);
	void	 *arg;
};

/*
 * Where client_upload takes the request body from instead of memory: the
 * first length bytes of fd (borrowed; a regular file, read with pread(2)
 * so its offset does not matter).  progress, when not NULL, is called with
 * the body bytes sent so far after each piece leaves, on the main thread
 * inside client_upload.
 */
struct client_source {
	int	 fd;
	uint64_t length;
	void	(*progress)(void *, uint64_t);
	void	*arg;
};

/* A progress line redrawn in place on a terminal. */
struct output_progress;

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
int		 client_download(const struct client_endpoint *,
		     const struct client_request *, const struct client_sink *,
		     struct client_response *, char *, size_t);
int		 client_upload(const struct client_endpoint *,
		     const struct client_request *, const struct client_source *,
		     struct client_response *, char *, size_t);
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
void		 output_size(char *, size_t, double);
void		 output_duration(char *, size_t, double);
char		*output_bar(double, int);
struct output_progress *output_progress_new(FILE *, int);
int		 output_progress_due(const struct output_progress *);
void		 output_progress_draw(struct output_progress *, const char *,
		     ...) printflike(2, 3);
void		 output_progress_end(struct output_progress *);
void		 output_progress_free(struct output_progress *);

#endif /* TENANTCTL_H */
