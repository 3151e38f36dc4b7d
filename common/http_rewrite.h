/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_HTTP_REWRITE_H
#define SBXFW_HTTP_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1.h"
#include "policy.h"

/* What the broker makes of the heads it parsed (common/http1.c): pure,
 * no I/O. Each rewrite has a function giving its exact size first, and
 * writes nothing past the capacity it is given. */

/* The request head b (parsed into h) with the nset headers of set in
 * place of any of the same names; drop_connection: the sandbox's
 * Connection fields go too (its close is for its own hop). */
size_t http_request_rewrite_size(const uint8_t *b, const struct http_head *h,
				 const struct header_kv *set, size_t nset,
				 bool drop_connection);
/* The bytes written, or 0 when they would not fit in cap. */
size_t http_request_rewrite(uint8_t *out, size_t cap, const uint8_t *b,
			    const struct http_head *h,
			    const struct header_kv *set, size_t nset,
			    bool drop_connection);

/* The response head b (parsed into h) without its Connection fields,
 * and with "Connection: close" when add_close. */
size_t http_response_rewrite_size(const uint8_t *b, const struct http_head *h,
				  bool add_close);
size_t http_response_rewrite(uint8_t *out, size_t cap, const uint8_t *b,
			     const struct http_head *h, bool add_close);

/* The path of a request target (before any '?') as the server will see
 * it, for matching: %2e, %2f and %5c decoded (a backslash is a slash),
 * then dot-segments removed (RFC 3986 §5.2.4), a segment whose part
 * before ';' is "." or ".." counting as one. The length written to out
 * (NUL-terminated), or -1: a malformed escape, a NUL, not in origin
 * form, or longer than cap - 1. "*" stays as it is. */
int http_path_normalise(const char *target, size_t len, char *out,
			size_t cap);

#endif
