/*
 * output.c: how tenantctl prints what the daemon said.
 *
 * Three shapes: aligned tables (an uppercase header row, columns separated
 * by two spaces, the last column never padded so lines carry no trailing
 * blanks), "key: value" lists aligned on the values, and --json, which
 * re-prints the daemon's JSON with a two-space indent and its key order.
 *
 * Strings from the daemon are untrusted: before they reach a terminal,
 * output_clean() replaces control characters (C0, DEL and C1) with '?', so
 * a tenant's last_error cannot move the cursor or retitle the window.
 * Widths count UTF-8 code points, not bytes (jansson hands us valid UTF-8).
 *
 * Long operations (export, migrate) draw one progress line on a terminal
 * with struct output_progress: each draw starts with a carriage return and
 * pads over what the previous one left, so no escape sequences are needed,
 * and output_progress_due() keeps redraws to one per interval.  Callers
 * only draw when the stream is a terminal; on anything else they print
 * plain lines or nothing.
 * Single-threaded, like the rest of tenantctl.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tenantctl.h"

struct output_table {
	int		  ncols;
	int		  header;	/* the first row is a header */
	const char	 *sep;		/* between columns */
	char		**cells;	/* row-major, owned */
	size_t		  ncells;
};

static struct output_table *
output_alloc(int ncols, int header, const char *sep)
{
	struct output_table	*t;

	t = xcalloc(1, sizeof *t);
	t->ncols = ncols;
	t->header = header;
	t->sep = sep;
	return (t);
}

static void
output_push(struct output_table *t, char *cell)
{
	t->cells = xreallocarray(t->cells, t->ncells + 1, sizeof *t->cells);
	t->cells[t->ncells++] = cell;
}

/*
 * A new table of ncols columns whose header row is the ncols strings that
 * follow (copied).  Free with output_table_free.
 */
struct output_table *
output_table_new(int ncols, const char *first, ...)
{
	struct output_table	*t;
	va_list			 ap;
	int			 i;

	if (ncols < 1)
		fatalx("%s: no columns", __func__);
	t = output_alloc(ncols, 1, "  ");
	output_push(t, xstrdup(first));
	va_start(ap, first);
	for (i = 1; i < ncols; i++)
		output_push(t, xstrdup(va_arg(ap, const char *)));
	va_end(ap);
	return (t);
}

/* A new, empty key: value list.  Free with output_table_free. */
struct output_table *
output_kv_new(void)
{
	return (output_alloc(2, 0, " "));
}

/* Append the next cell (a cleaned copy of s); rows fill left to right. */
void
output_table_cell(struct output_table *t, const char *s)
{
	output_push(t, output_clean(s));
}

/* Append the next cell from a JSON value (borrowed; NULL shows "-"). */
void
output_table_cell_json(struct output_table *t, const json_t *v)
{
	output_push(t, output_scalar(v));
}

/* Append "key: value" to a list made by output_kv_new. */
void
output_kv(struct output_table *t, const char *key, const char *value)
{
	char	*k;

	xasprintf(&k, "%s:", key);
	output_push(t, k);
	output_push(t, output_clean(value));
}

/* Append "key: value" from a JSON value (borrowed). */
void
output_kv_json(struct output_table *t, const char *key, const json_t *v)
{
	char	*k;

	xasprintf(&k, "%s:", key);
	output_push(t, k);
	output_push(t, output_scalar(v));
}

/* Rows added so far, not counting the header. */
size_t
output_table_rows(const struct output_table *t)
{
	size_t	rows = t->ncells / t->ncols;

	return (t->header ? rows - 1 : rows);
}

/* Display width of a UTF-8 string: its code points. */
static size_t
output_width(const char *s)
{
	size_t	w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return (w);
}

/* Print every complete row, columns aligned. */
void
output_table_print(const struct output_table *t, FILE *fp)
{
	size_t	*widths, i, n, w, nrows;
	int	 col;

	nrows = t->ncells / t->ncols;
	if (nrows == 0)
		return;
	widths = xcalloc(t->ncols, sizeof *widths);
	for (i = 0; i < nrows * t->ncols; i++) {
		w = output_width(t->cells[i]);
		if (w > widths[i % t->ncols])
			widths[i % t->ncols] = w;
	}
	for (i = 0; i < nrows; i++) {
		for (col = 0; col < t->ncols; col++) {
			const char *cell = t->cells[i * t->ncols + col];

			fputs(cell, fp);
			if (col == t->ncols - 1)
				break;
			fputs(t->sep, fp);
			for (n = output_width(cell); n < widths[col]; n++)
				fputc(' ', fp);
		}
		fputc('\n', fp);
	}
	free(widths);
}

/* Free a table and its cells.  NULL is allowed. */
void
output_table_free(struct output_table *t)
{
	size_t	i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

/*
 * A copy of s safe to print on a terminal: C0 controls, DEL and the C1
 * controls (U+0080 to U+009F) become '?'.  Returns a new string.
 */
char *
output_clean(const char *s)
{
	const unsigned char	*p;
	char			*out, *o;

	out = o = xmalloc(strlen(s) + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*o++ = '?';
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			*o++ = '?';
			p++;
		} else
			*o++ = (char)*p;
	}
	*o = '\0';
	return (out);
}

/*
 * A JSON value as one line of text: strings cleaned, numbers in decimal,
 * null (or a missing value) as "-", arrays and objects as compact JSON.
 * Returns a new string.
 */
char *
output_scalar(const json_t *v)
{
	char	*s, *tmp;

	if (v == NULL)
		return (xstrdup("-"));
	switch (json_typeof(v)) {
	case JSON_STRING:
		return (output_clean(json_string_value(v)));
	case JSON_INTEGER:
		xasprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return (s);
	case JSON_REAL:
		xasprintf(&s, "%.15g", json_real_value(v));
		return (s);
	case JSON_TRUE:
		return (xstrdup("true"));
	case JSON_FALSE:
		return (xstrdup("false"));
	case JSON_NULL:
		return (xstrdup("-"));
	default:
		tmp = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_ENCODE_ANY);
		if (tmp == NULL)
			fatalx("%s: json_dumps failed", __func__);
		s = output_clean(tmp);
		free(tmp);
		return (s);
	}
}

/*
 * Print a JSON value (borrowed) with a two-space indent and a newline.  A
 * write error is left in ferror(fp) for the caller, as with stdio.
 */
void
output_json(FILE *fp, const json_t *v)
{
	if (json_dumpf(v, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY) == 0)
		fputc('\n', fp);
}

/* A byte count for people: "512 B", "1.5 KiB", "120.0 MiB", "3.21 GiB". */
void
output_size(char *buf, size_t len, double bytes)
{
	static const char	*units[] = { "KiB", "MiB", "GiB", "TiB" };
	size_t			 i = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%.0f B", bytes);
		return;
	}
	bytes /= 1024;
	while (bytes >= 1024 && i < sizeof units / sizeof units[0] - 1) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, len, bytes < 10 ? "%.2f %s" : "%.1f %s", bytes,
	    units[i]);
}

/* Seconds as "m:ss" or "h:mm:ss"; a negative or absurd value as "--:--". */
void
output_duration(char *buf, size_t len, double secs)
{
	unsigned long	s;

	if (!(secs >= 0) || secs > 100.0 * 86400) {
		snprintf(buf, len, "--:--");
		return;
	}
	s = (unsigned long)(secs + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60,
		    s % 60);
	else
		snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
}

/*
 * A bar "[=====>    ]" of width cells between the brackets, filled to
 * fraction (clamped to 0..1).  Returns a new string.
 */
char *
output_bar(double fraction, int width)
{
	char	*bar;
	int	 fill, i;

	if (width < 1)
		width = 1;
	if (!(fraction >= 0))
		fraction = 0;
	if (fraction > 1)
		fraction = 1;
	fill = (int)(fraction * width);
	bar = xmalloc((size_t)width + 3);
	bar[0] = '[';
	for (i = 0; i < width; i++) {
		if (i < fill)
			bar[i + 1] = '=';
		else if (i == fill && fill > 0)
			bar[i + 1] = '>';
		else
			bar[i + 1] = ' ';
	}
	bar[width + 1] = ']';
	bar[width + 2] = '\0';
	return (bar);
}

struct output_progress {
	FILE		*fp;
	uint64_t	 interval_us;
	uint64_t	 last_us;	/* time_mono_us() of the last draw */
	size_t		 lastw;		/* width of the last line drawn */
	int		 drawn;		/* something is on the line */
};

/*
 * A progress line on fp (borrowed; a terminal), redrawn at most once per
 * interval_ms.  Free with output_progress_free.
 */
struct output_progress *
output_progress_new(FILE *fp, int interval_ms)
{
	struct output_progress	*p;

	p = xcalloc(1, sizeof *p);
	p->fp = fp;
	p->interval_us = (uint64_t)interval_ms * 1000;
	return (p);
}

/* Is it time to draw again?  Always true before the first draw. */
int
output_progress_due(const struct output_progress *p)
{
	return (!p->drawn || time_mono_us() - p->last_us >= p->interval_us);
}

/* Replace the line with a new one (printf format; no newline). */
void
output_progress_draw(struct output_progress *p, const char *fmt, ...)
{
	va_list	 ap;
	char	*line;
	size_t	 w;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) == -1)
		fatalx("%s: vasprintf failed", __func__);
	va_end(ap);
	w = output_width(line);
	fprintf(p->fp, "\r%s", line);
	for (; w < p->lastw; w++)
		fputc(' ', p->fp);
	fflush(p->fp);
	p->lastw = output_width(line);
	p->last_us = time_mono_us();
	p->drawn = 1;
	free(line);
}

/* End the line, if one was drawn, so that what follows starts clean. */
void
output_progress_end(struct output_progress *p)
{
	if (p == NULL || !p->drawn)
		return;
	fputc('\n', p->fp);
	fflush(p->fp);
	p->drawn = 0;
	p->lastw = 0;
}

/* End the line and free.  NULL is allowed. */
void
output_progress_free(struct output_progress *p)
{
	if (p == NULL)
		return;
	output_progress_end(p);
	free(p);
}
