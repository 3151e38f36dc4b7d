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

#endif
