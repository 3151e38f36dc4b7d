/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The broker's rewrites of HTTP/1.1 heads, and the path its rules match.
 * Sizes are computed before anything is written: a head that the
 * rewrite makes longer (a field "a:b" becomes "a: b", secrets of any
 * length come in) can never write past its buffer. */
#include <string.h>
#include <strings.h>

#include "http_rewrite.h"

#define FIELD_EXTRA 4		/* ": " and CRLF */
static const char close_line[] = "Connection: close\r\n";

static bool is_set(const struct header_kv *set, size_t nset,
		   const uint8_t *b, const struct http_field *f)
{
	for (size_t i = 0; i < nset; i++)
		if (http_field_is(b, f, set[i].name))
			return true;
	return false;
}

static bool request_keeps(const uint8_t *b, const struct http_field *f,
			  const struct header_kv *set, size_t nset,
			  bool drop_connection)
{
	return !is_set(set, nset, b, f) &&
	       !(drop_connection && http_field_is(b, f, "connection"));
}

/* The request line from its method to its version, without CRLF. */
static size_t request_line_len(const struct http_head *h)
{
	return h->target.off + h->target.len + 9 - h->method.off;
}

size_t http_request_rewrite_size(const uint8_t *b, const struct http_head *h,
				 const struct header_kv *set, size_t nset,
				 bool drop_connection)
{
	size_t n = request_line_len(h) + 2 + 2;

	for (size_t i = 0; i < h->nf; i++)
		if (request_keeps(b, &h->f[i], set, nset, drop_connection))
			n += h->f[i].name.len + h->f[i].value.len +
			     FIELD_EXTRA;
	for (size_t i = 0; i < nset; i++)
		n += strlen(set[i].name) + strlen(set[i].value) + FIELD_EXTRA;
	return n;
}

static size_t put(uint8_t *out, size_t at, const void *s, size_t n)
{
	memcpy(out + at, s, n);
	return at + n;
}

static size_t put_field(uint8_t *out, size_t at, const void *name,
			size_t nl, const void *value, size_t vl)
{
	at = put(out, at, name, nl);
	at = put(out, at, ": ", 2);
	at = put(out, at, value, vl);
	return put(out, at, "\r\n", 2);
}

size_t http_request_rewrite(uint8_t *out, size_t cap, const uint8_t *b,
			    const struct http_head *h,
			    const struct header_kv *set, size_t nset,
			    bool drop_connection)
{
	size_t at = 0;

	if (http_request_rewrite_size(b, h, set, nset, drop_connection) > cap)
		return 0;
	at = put(out, at, b + h->method.off, request_line_len(h));
	at = put(out, at, "\r\n", 2);
	for (size_t i = 0; i < h->nf; i++) {
		const struct http_field *f = &h->f[i];

		if (request_keeps(b, f, set, nset, drop_connection))
			at = put_field(out, at, b + f->name.off, f->name.len,
				       b + f->value.off, f->value.len);
	}
	for (size_t i = 0; i < nset; i++)
		at = put_field(out, at, set[i].name, strlen(set[i].name),
			       set[i].value, strlen(set[i].value));
	return put(out, at, "\r\n", 2);
}

/* The status line with its line end. */
static size_t status_line_len(const uint8_t *b, const struct http_head *h)
{
	const uint8_t *lf = memchr(b, '\n', h->len);

	return lf ? (size_t)(lf - b) + 1 : h->len;
}

size_t http_response_rewrite_size(const uint8_t *b, const struct http_head *h,
				  bool add_close)
{
	size_t n = status_line_len(b, h) + 2;

	for (size_t i = 0; i < h->nf; i++)
		if (!http_field_is(b, &h->f[i], "connection"))
			n += h->f[i].name.len + h->f[i].value.len +
			     FIELD_EXTRA;
	return n + (add_close ? sizeof(close_line) - 1 : 0);
}

size_t http_response_rewrite(uint8_t *out, size_t cap, const uint8_t *b,
			     const struct http_head *h, bool add_close)
{
	size_t at = 0;

	if (http_response_rewrite_size(b, h, add_close) > cap)
		return 0;
	at = put(out, at, b, status_line_len(b, h));
	for (size_t i = 0; i < h->nf; i++) {
		const struct http_field *f = &h->f[i];

		if (!http_field_is(b, f, "connection"))
			at = put_field(out, at, b + f->name.off, f->name.len,
				       b + f->value.off, f->value.len);
	}
	if (add_close)
		at = put(out, at, close_line, sizeof(close_line) - 1);
	return put(out, at, "\r\n", 2);
}

/* ---- the path rules match ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* %2e, %2f, %5c and '\' decoded into out (other escapes stay as they
 * are); its length, or -1. */
static int path_decode(const char *t, size_t len, char *out, size_t cap)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++) {
		char c = t[i];

		if (c == '%') {
			int hi = i + 2 < len ? hexval(t[i + 1]) : -1,
			    lo = hi >= 0 ? hexval(t[i + 2]) : -1;

			if (lo < 0 || (hi | lo) == 0)
				return -1;	/* malformed, or %00 */
			c = (char)(hi << 4 | lo);
			if (c != '.' && c != '/' && c != '\\')
				c = '%';
			else
				i += 2;
		}
		if (c == '\0' || w + 1 >= cap)
			return -1;
		out[w++] = c == '\\' ? '/' : c;
	}
	out[w] = 0;
	return (int)w;
}

/* Whether the segment s (n bytes), up to any ';', is `dots'. */
static bool segment_is(const char *s, size_t n, const char *dots)
{
	const char *semi = memchr(s, ';', n);

	if (semi)
		n = (size_t)(semi - s);
	return n == strlen(dots) && !memcmp(s, dots, n);
}

/* RFC 3986 §5.2.4 on an absolute path, in place: each "/segment" is
 * appended to the output, "." dropped, ".." drops the last one; either
 * at the end leaves a trailing slash. */
static size_t remove_dot_segments(char *p, size_t n)
{
	size_t w = 0, i = 0;

	while (i < n) {
		const char *slash = memchr(p + i + 1, '/', n - i - 1);
		size_t j = slash ? (size_t)(slash - p) : n;
		bool up = segment_is(p + i + 1, j - i - 1, ".."),
		     here = segment_is(p + i + 1, j - i - 1, ".");

		if (up) {
			while (w > 0 && p[--w] != '/')
				;
		} else if (!here) {
			memmove(p + w, p + i, j - i);
			w += j - i;
		}
		if (j == n && (up || here))
			p[w++] = '/';
		i = j;
	}
	p[w] = 0;
	return w;
}

int http_path_normalise(const char *target, size_t len, char *out,
			size_t cap)
{
	const char *q = memchr(target, '?', len);
	int n;

	if (q)
		len = (size_t)(q - target);
	if (len == 1 && target[0] == '*' && cap > 1) {
		memcpy(out, "*", 2);
		return 1;
	}
	if (!len || (target[0] != '/' && target[0] != '\\'))
		return -1;
	if ((n = path_decode(target, len, out, cap)) < 0)
		return -1;
	return (int)remove_dot_segments(out, (size_t)n);
}
