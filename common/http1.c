/* SPDX-License-Identifier: GPL-2.0-or-later */
/* HTTP/1.1 heads and body framing (RFC 9112). A request that two parsers
 * could read two ways is refused: bare CR or LF, obs-fold, whitespace
 * before a colon, Content-Length twice or with Transfer-Encoding, a
 * transfer coding other than chunked, a bad chunk line. Response heads
 * are read with the same strictness: the broker rebuilds them. */
#include <string.h>
#include <strings.h>

#include "http1.h"

#define LEADING_EMPTY_MAX 4
#define CHUNK_LINE_MAX 4096
#define TRAILER_MAX 16384

static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_vchar(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e;
}

/* field-vchar, SP, HTAB, obs-text */
static bool is_value_char(uint8_t c)
{
	return is_vchar(c) || c == ' ' || c == '\t' || c >= 0x80;
}

static bool span_is(const uint8_t *b, struct http_span s, const char *text)
{
	size_t n = strlen(text);

	return s.len == n && !strncasecmp((const char *)b + s.off, text, n);
}

bool http_field_is(const uint8_t *b, const struct http_field *f,
		   const char *name)
{
	return span_is(b, f->name, name);
}

/* The next line from *pos: [*pos, end) without its CRLF; 0 with the
 * line, 1 when no LF came yet, -1 on a bare CR or LF. */
static int next_line(const uint8_t *b, size_t len, size_t *pos,
		     struct http_span *line)
{
	const uint8_t *lf = memchr(b + *pos, '\n', len - *pos);
	size_t end;

	if (!lf)
		return 1;
	end = (size_t)(lf - b);
	if (end > *pos && b[end - 1] == '\r')
		end--;
	else
		return -1;
	if (memchr(b + *pos, '\r', end - *pos))
		return -1;
	line->off = (uint32_t)*pos;
	line->len = (uint32_t)(end - *pos);
	*pos = (size_t)(lf - b) + 1;
	return 0;
}

/* name ":" OWS value OWS */
static int field_parse(const uint8_t *b, struct http_span line,
		       struct http_field *f)
{
	size_t i = line.off, end = line.off + line.len, vs, ve;

	if (b[i] == ' ' || b[i] == '\t')
		return -1;	/* obs-fold */
	while (i < end && is_tchar(b[i]))
		i++;
	if (i == line.off || i == end || b[i] != ':')
		return -1;
	f->name = (struct http_span){ line.off, (uint32_t)(i - line.off) };
	vs = i + 1;
	ve = end;
	while (vs < ve && (b[vs] == ' ' || b[vs] == '\t'))
		vs++;
	while (ve > vs && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
		ve--;
	for (size_t j = vs; j < ve; j++)
		if (!is_value_char(b[j]))
			return -1;
	f->value = (struct http_span){ (uint32_t)vs, (uint32_t)(ve - vs) };
	return 0;
}

static bool digits_u64(const uint8_t *b, struct http_span s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s.len || s.len > 18)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		if (b[s.off + i] < '0' || b[s.off + i] > '9')
			return false;
		v = v * 10 + (uint64_t)(b[s.off + i] - '0');
	}
	*out = v;
	return true;
}

/* Each comma-separated token of a field value. */
static bool has_token(const uint8_t *b, struct http_span v, const char *tok)
{
	size_t i = v.off, end = v.off + v.len, n = strlen(tok);

	while (i < end) {
		size_t s, e;

		while (i < end && (b[i] == ' ' || b[i] == '\t' || b[i] == ','))
			i++;
		s = i;
		while (i < end && b[i] != ',')
			i++;
		e = i;
		while (e > s && (b[e - 1] == ' ' || b[e - 1] == '\t'))
			e--;
		if (e - s == n && !strncasecmp((const char *)b + s, tok, n))
			return true;
	}
	return false;
}

/* The fields of a head from *pos to its blank line. */
static enum http_parse fields_parse(const uint8_t *b, size_t len,
				    size_t *pos, struct http_head *h,
				    const char **why)
{
	struct http_span line;
	int rc;

	for (;;) {
		rc = next_line(b, len, pos, &line);
		if (rc > 0)
			return HTTP_PARTIAL;
		if (rc < 0) {
			*why = "bare CR or LF";
			return HTTP_BAD;
		}
		if (!line.len)
			break;
		if (h->nf == HTTP_HEADERS_MAX) {
			*why = "too many header fields";
			return HTTP_BAD;
		}
		if (field_parse(b, line, &h->f[h->nf]) < 0) {
			*why = b[line.off] == ' ' || b[line.off] == '\t' ?
			       "obs-fold" : "malformed header field";
			return HTTP_BAD;
		}
		h->nf++;
	}
	h->len = *pos;
	return HTTP_OK;
}

/* "HTTP/1.x" at s: the minor digit, -1 not HTTP, -2 another version */
static int version_parse(const uint8_t *b, struct http_span s)
{
	const uint8_t *v = b + s.off;

	if (s.len != 8 || memcmp(v, "HTTP/", 5) || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return -1;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return -2;
	return v[7] - '0';
}

static enum http_parse bad(int *status, const char **why, int code,
			   const char *text)
{
	*status = code;
	*why = text;
	return HTTP_BAD;
}

static enum http_parse request_line(const uint8_t *b, struct http_span l,
				    struct http_head *h, int *status,
				    const char **why)
{
	size_t i = l.off, end = l.off + l.len, s;
	struct http_span ver;

	while (i < end && is_tchar(b[i]))
		i++;
	if (i == l.off || i == end || b[i] != ' ')
		return bad(status, why, 400, "malformed request line");
	h->method = (struct http_span){ l.off, (uint32_t)(i - l.off) };
	s = ++i;
	while (i < end && is_vchar(b[i]))
		i++;
	if (i == s || i == end || b[i] != ' ')
		return bad(status, why, 400, "malformed request target");
	h->target = (struct http_span){ (uint32_t)s, (uint32_t)(i - s) };
	ver = (struct http_span){ (uint32_t)(i + 1), (uint32_t)(end - i - 1) };
	h->minor = version_parse(b, ver);
	if (h->minor == -2)
		return bad(status, why, 505, "HTTP version not supported");
	if (h->minor < 0)
		return bad(status, why, 400, "malformed HTTP version");
	return HTTP_OK;
}

/* Framing and connection fields of a request, strictly. */
static enum http_parse request_semantics(const uint8_t *b,
					 struct http_head *h, int *status,
					 const char **why)
{
	const struct http_field *cl = NULL, *te = NULL, *host = NULL;
	bool keep_alive = false, has_upgrade = false, conn_upgrade = false;

	for (size_t i = 0; i < h->nf; i++) {
		const struct http_field *f = &h->f[i];

		if (http_field_is(b, f, "content-length")) {
			if (cl)
				return bad(status, why, 400,
					   "more than one Content-Length");
			cl = f;
		} else if (http_field_is(b, f, "transfer-encoding")) {
			if (te)
				return bad(status, why, 400,
					   "more than one Transfer-Encoding");
			te = f;
		} else if (http_field_is(b, f, "host")) {
			if (host)
				return bad(status, why, 400,
					   "more than one Host");
			host = f;
		} else if (http_field_is(b, f, "connection")) {
			h->close |= has_token(b, f->value, "close");
			keep_alive |= has_token(b, f->value, "keep-alive");
			conn_upgrade |= has_token(b, f->value, "upgrade");
		} else if (http_field_is(b, f, "upgrade")) {
			has_upgrade = true;
		} else if (http_field_is(b, f, "expect")) {
			h->expect_continue |= span_is(b, f->value,
						      "100-continue");
		}
	}
	if (cl && te)
		return bad(status, why, 400,
			   "Content-Length with Transfer-Encoding");
	if (te && h->minor == 0)
		return bad(status, why, 400, "Transfer-Encoding in HTTP/1.0");
	if (te && !span_is(b, te->value, "chunked"))
		return bad(status, why, 501,
			   "transfer coding other than chunked");
	if (cl && !digits_u64(b, cl->value, &h->length))
		return bad(status, why, 400, "malformed Content-Length");
	if (!host && h->minor == 1)
		return bad(status, why, 400, "no Host");
	if (host)
		h->host = host->value;
	h->body = te ? BODY_CHUNKED : cl && h->length ? BODY_LENGTH :
		  BODY_NONE;
	if (h->minor == 0 && !keep_alive)
		h->close = true;
	h->upgrade = has_upgrade && conn_upgrade;
	return HTTP_OK;
}

enum http_parse http_request_parse(const uint8_t *b, size_t len,
				   struct http_head *h, int *status,
				   const char **why)
{
	size_t pos = 0, limit = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	struct http_span line;
	enum http_parse r;
	int rc;

	memset(h, 0, sizeof(*h));
	*status = 400;
	*why = "";
	for (;;) {
		rc = next_line(b, limit, &pos, &line);
		if (rc < 0)
			return bad(status, why, 400, "bare CR or LF");
		if (rc > 0)
			goto partial;
		if (line.len)
			break;
		if (++h->skip > LEADING_EMPTY_MAX)
			return bad(status, why, 400, "empty lines");
	}
	if ((r = request_line(b, line, h, status, why)) != HTTP_OK)
		return r;
	r = fields_parse(b, limit, &pos, h, why);
	if (r == HTTP_PARTIAL)
		goto partial;
	if (r == HTTP_BAD)
		return bad(status, why, h->nf == HTTP_HEADERS_MAX ? 431 : 400,
			   *why);
	return request_semantics(b, h, status, why);
partial:
	if (len >= HTTP_HEAD_MAX)
		return bad(status, why, 431, "request head too large");
	return HTTP_PARTIAL;
}

static void response_semantics(const uint8_t *b, bool head_request,
			       struct http_head *h)
{
	const struct http_field *cl = NULL, *te = NULL;

	for (size_t i = 0; i < h->nf; i++) {
		const struct http_field *f = &h->f[i];

		if (http_field_is(b, f, "content-length"))
			cl = f;
		else if (http_field_is(b, f, "transfer-encoding"))
			te = f;
		else if (http_field_is(b, f, "connection"))
			h->close |= has_token(b, f->value, "close");
	}
	h->upgrade = h->status == 101;
	if (h->minor == 0)
		h->close = true;
	if (head_request || h->status < 200 || h->status == 204 ||
	    h->status == 304)
		h->body = BODY_NONE;
	else if (te && has_token(b, te->value, "chunked"))
		h->body = BODY_CHUNKED;
	else if (cl && !te && digits_u64(b, cl->value, &h->length))
		h->body = h->length ? BODY_LENGTH : BODY_NONE;
	else
		h->body = BODY_UNTIL_CLOSE;
}

enum http_parse http_response_parse(const uint8_t *b, size_t len,
				    bool head_request, struct http_head *h)
{
	size_t pos = 0, limit = len < HTTP_RESP_HEAD_MAX ? len :
				HTTP_RESP_HEAD_MAX;
	struct http_span line;
	const char *why;
	const uint8_t *s;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = next_line(b, limit, &pos, &line);
	if (rc > 0)
		return len >= HTTP_RESP_HEAD_MAX ? HTTP_BAD : HTTP_PARTIAL;
	if (rc < 0)
		return HTTP_BAD;
	s = b + line.off;
	if (line.len < 12 || (line.len > 12 && s[12] != ' ') || s[8] != ' ' ||
	    (h->minor = version_parse(b, (struct http_span){ line.off, 8 })) <
	    0 || s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9')
		return HTTP_BAD;
	h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	switch (fields_parse(b, limit, &pos, h, &why)) {
	case HTTP_PARTIAL:
		return len >= HTTP_RESP_HEAD_MAX ? HTTP_BAD : HTTP_PARTIAL;
	case HTTP_BAD:
		return HTTP_BAD;
	case HTTP_OK:
		break;
	}
	response_semantics(b, head_request, h);
	return HTTP_OK;
}

/* ---- bodies ---- */

enum { C_SIZE, C_EXT, C_SIZE_LF, C_DATA, C_DATA_CR, C_DATA_LF, C_TRAILER,
       C_TRAILER_LINE, C_TRAILER_LF, C_END_LF, C_DONE };

void http_framing_init(struct http_framing *fr, const struct http_head *h)
{
	memset(fr, 0, sizeof(*fr));
	fr->kind = h->body;
	fr->left = h->body == BODY_LENGTH ? h->length : 0;
	fr->state = C_SIZE;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One byte of chunked framing outside chunk data: 0 on, 1 end, -1 bad. */
static int chunk_byte(struct http_framing *fr, uint8_t c)
{
	int v;

	if (++fr->line > (fr->state >= C_TRAILER ? TRAILER_MAX :
			  CHUNK_LINE_MAX))
		return -1;
	switch (fr->state) {
	case C_SIZE:
		if ((v = hexval(c)) >= 0) {
			if (fr->left >> 56)
				return -1;
			fr->left = fr->left << 4 | (uint64_t)v;
			fr->digits = true;
			return 0;
		}
		if (!fr->digits)
			return -1;
		if (c == ';' || c == ' ' || c == '\t')
			fr->state = C_EXT;
		else if (c == '\r')
			fr->state = C_SIZE_LF;
		else
			return -1;
		return 0;
	case C_EXT:
		if (c == '\r')
			fr->state = C_SIZE_LF;
		else if (!is_value_char(c))
			return -1;
		return 0;
	case C_SIZE_LF:
		if (c != '\n')
			return -1;
		fr->state = fr->left ? C_DATA : C_TRAILER;
		fr->line = 0;
		return 0;
	case C_DATA_CR:
		if (c != '\r')
			return -1;
		fr->state = C_DATA_LF;
		return 0;
	case C_DATA_LF:
		if (c != '\n')
			return -1;
		fr->state = C_SIZE;
		fr->digits = false;
		fr->line = 0;
		return 0;
	case C_TRAILER:
		if (c == '\r') {
			fr->state = C_END_LF;
			return 0;
		}
		if (!is_tchar(c))
			return -1;	/* obs-fold or junk */
		fr->state = C_TRAILER_LINE;
		return 0;
	case C_TRAILER_LINE:
		if (c == '\r')
			fr->state = C_TRAILER_LF;
		else if (!is_value_char(c) && c != ':')
			return -1;
		return 0;
	case C_TRAILER_LF:
		if (c != '\n')
			return -1;
		fr->state = C_TRAILER;
		return 0;
	case C_END_LF:
		if (c != '\n')
			return -1;
		fr->state = C_DONE;
		return 1;
	}
	return -1;
}

/* Whether the byte c, read in the state fr is in, is part of a trailer
 * field line (not the blank line that ends the body). */
static bool trailer_field_byte(const struct http_framing *fr, uint8_t c)
{
	return (fr->state == C_TRAILER && c != '\r') ||
	       fr->state == C_TRAILER_LINE || fr->state == C_TRAILER_LF;
}

static int chunked_feed(struct http_framing *fr, const uint8_t *b, size_t len,
			size_t *used)
{
	size_t i = 0;
	int rc;

	fr->trailer_bytes = false;
	while (i < len) {
		if (fr->strip_trailers) {
			bool t = trailer_field_byte(fr, b[i]);

			if (i == 0)
				fr->trailer_bytes = t;
			else if (t != fr->trailer_bytes)
				break;	/* the caller drops one run, not the other */
		}
		if (fr->state == C_DATA) {
			size_t n = len - i < fr->left ? len - i :
				   (size_t)fr->left;

			i += n;
			fr->left -= n;
			if (!fr->left)
				fr->state = C_DATA_CR;
			continue;
		}
		rc = chunk_byte(fr, b[i++]);
		if (rc) {
			*used = i;
			return rc;
		}
	}
	*used = i;
	return 0;
}

int http_framing_feed(struct http_framing *fr, const uint8_t *b, size_t len,
		      size_t *used)
{
	size_t n;

	*used = 0;
	switch (fr->kind) {
	case BODY_NONE:
		return 1;
	case BODY_UNTIL_CLOSE:
		*used = len;
		return 0;
	case BODY_LENGTH:
		n = len < fr->left ? len : (size_t)fr->left;
		fr->left -= n;
		*used = n;
		return fr->left == 0;
	case BODY_CHUNKED:
		if (fr->state == C_DONE)
			return 1;
		return chunked_feed(fr, b, len, used);
	}
	return -1;
}
