/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_HTTP1_H
#define SBXFW_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* HTTP/1.1 message heads (RFC 9112), parsed in place: pure, bounded, no
 * allocation. Requests are parsed strictly, so that the broker and the
 * server can never disagree on where a request ends (no smuggling);
 * responses as strictly (the broker rebuilds what it passes on). */

#define HTTP_HEAD_MAX 16384	/* a request head larger than this: 431 */
#define HTTP_RESP_HEAD_MAX 65536
#define HTTP_HEADERS_MAX 128

struct http_span {
	uint32_t off, len;
};

struct http_field {
	struct http_span name, value;	/* value without surrounding OWS */
};

enum http_body { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_UNTIL_CLOSE };

struct http_head {
	size_t len;		/* bytes of the head, its blank line included */
	size_t skip;		/* empty lines before the start line */
	struct http_span method, target;	/* request */
	int status;				/* response */
	int minor;		/* HTTP/1.minor */
	struct http_field f[HTTP_HEADERS_MAX];
	size_t nf;
	enum http_body body;
	uint64_t length;	/* BODY_LENGTH */
	bool close;		/* Connection: close, or HTTP/1.0 */
	bool upgrade;		/* Connection: upgrade and an Upgrade field */
	bool expect_continue;
	struct http_span host;
};

enum http_parse { HTTP_OK, HTTP_PARTIAL, HTTP_BAD };

/* A request head at the start of b. BAD sets *status (400, 431, 501 or
 * 505) and *why (a fixed string). */
enum http_parse http_request_parse(const uint8_t *b, size_t len,
				   struct http_head *h, int *status,
				   const char **why);
/* A response head; head_request: the request was HEAD (no body). */
enum http_parse http_response_parse(const uint8_t *b, size_t len,
				    bool head_request, struct http_head *h);

/* Whether field i is named `name' (case-insensitive). */
bool http_field_is(const uint8_t *b, const struct http_field *f,
		   const char *name);

/* A body's framing as it streams: how many of the next bytes belong to
 * it. Chunk sizes, extensions and trailers are checked as strictly as
 * heads (a bare LF is an error). */
struct http_framing {
	enum http_body kind;
	uint64_t left;		/* of the length, or of the current chunk */
	int state;
	uint32_t line;		/* bytes of the current size/trailer line */
	bool digits;
	/* set by the caller: a feed's bytes are either all trailer field
	 * lines (trailer_bytes, for the caller to drop) or none */
	bool strip_trailers;
	bool trailer_bytes;
};

void http_framing_init(struct http_framing *fr, const struct http_head *h);
/* Feed bytes: *used of them belong to the body; returns 1 when the body
 * ended (within those bytes), 0 when it goes on, -1 on a framing error.
 * With strip_trailers, *used may stop short of len (at least 1 byte is
 * used): feed the rest again. */
int http_framing_feed(struct http_framing *fr, const uint8_t *b, size_t len,
		      size_t *used);

#endif
