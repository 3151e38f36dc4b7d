/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The broker's rewrites of HTTP/1.1 heads. Sizes are computed before
 * anything is written: a head that the rewrite makes longer (a field
 * "a:b" becomes "a: b", secrets of any length come in) can never write
 * past its buffer. */
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
