/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "clienthello.h"

#define TLS_HANDSHAKE 22
#define TLS_RECORD_MAX (16384 + 2048)
#define HS_CLIENT_HELLO 1
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_ECH 0xfe0d

/* A cursor over bytes that refuses to run past the end. */
struct rd {
	const uint8_t *p;
	size_t n;
	bool bad;
};

static uint32_t rd_uint(struct rd *r, size_t width)
{
	uint32_t v = 0;
	size_t i;

	if (r->bad || r->n < width) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < width; i++)
		v = v << 8 | r->p[i];
	r->p += width;
	r->n -= width;
	return v;
}

/* A sub-cursor over the next `len` bytes. */
static struct rd rd_sub(struct rd *r, size_t len)
{
	struct rd s = { .p = r->p, .n = len };

	if (r->bad || r->n < len) {
		r->bad = true;
		s.bad = true;
		s.n = 0;
		return s;
	}
	r->p += len;
	r->n -= len;
	return s;
}

static struct rd rd_vec(struct rd *r, size_t lenwidth)
{
	return rd_sub(r, rd_uint(r, lenwidth));
}

const char *ch_status_name(enum ch_status s)
{
	static const char *const names[] = { "ok", "need-more", "not-tls",
					     "malformed" };
	return names[s];
}

static bool parse_sni(struct rd e, struct client_hello *ch)
{
	struct rd list = rd_vec(&e, 2);

	if (e.bad || e.n || list.n == 0)
		return false;
	while (list.n && !list.bad) {
		uint32_t type = rd_uint(&list, 1);
		struct rd name = rd_vec(&list, 2);

		if (list.bad)
			return false;
		if (type != 0)
			continue;
		if (ch->has_sni || name.n == 0 || name.n > CH_SNI_MAX)
			return false;
		memcpy(ch->sni, name.p, name.n);
		ch->sni[name.n] = '\0';
		ch->sni_len = name.n;
		ch->has_sni = true;
	}
	return !list.bad;
}

static bool parse_alpn(struct rd e, struct client_hello *ch)
{
	struct rd list = rd_vec(&e, 2);

	if (e.bad || e.n || list.n == 0)
		return false;
	while (list.n) {
		struct rd proto = rd_vec(&list, 1);

		if (list.bad || proto.n == 0)
			return false;
		if (ch->nalpn < CH_ALPN_MAX) {
			memcpy(ch->alpn[ch->nalpn], proto.p, proto.n);
			ch->alpn[ch->nalpn++][proto.n] = '\0';
		}
	}
	return true;
}

static bool parse_versions(struct rd e, struct client_hello *ch)
{
	struct rd list = rd_vec(&e, 1);

	if (e.bad || e.n || list.n == 0 || list.n % 2)
		return false;
	while (list.n) {
		uint16_t v = (uint16_t)rd_uint(&list, 2);
		if (ch->nversions < CH_VERSIONS_MAX)
			ch->versions[ch->nversions++] = v;
	}
	return true;
}

/* Remembers which extension types were seen: duplicates are refused. */
struct seen {
	uint16_t types[128];
	size_t n;
};

static bool seen_add(struct seen *s, uint16_t type)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->types[i] == type)
			return false;
	if (s->n == sizeof(s->types) / sizeof(s->types[0]))
		return false;
	s->types[s->n++] = type;
	return true;
}

static bool parse_extensions(struct rd exts, struct client_hello *ch)
{
	struct seen seen = { .n = 0 };

	while (exts.n) {
		uint16_t type = (uint16_t)rd_uint(&exts, 2);
		struct rd e = rd_vec(&exts, 2);
		bool ok = true;

		if (exts.bad || !seen_add(&seen, type))
			return false;
		if (type == EXT_SERVER_NAME)
			ok = parse_sni(e, ch);
		else if (type == EXT_ALPN)
			ok = parse_alpn(e, ch);
		else if (type == EXT_SUPPORTED_VERSIONS)
			ok = parse_versions(e, ch);
		else if (type == EXT_ECH)
			ch->ech = true;
		if (!ok)
			return false;
	}
	return true;
}

static enum ch_status parse_body(struct rd r, struct client_hello *ch)
{
	struct rd sid, suites, comp, exts;

	ch->legacy_version = (uint16_t)rd_uint(&r, 2);
	rd_sub(&r, 32);				/* random */
	sid = rd_vec(&r, 1);
	suites = rd_vec(&r, 2);
	comp = rd_vec(&r, 1);
	if (r.bad || sid.n > 32 || suites.n < 2 || suites.n % 2 ||
	    comp.n < 1 || (ch->legacy_version >> 8) != 3)
		return CH_MALFORMED;
	if (r.n == 0)				/* no extensions at all */
		return CH_OK;
	exts = rd_vec(&r, 2);
	if (r.bad || r.n)
		return CH_MALFORMED;
	return parse_extensions(exts, ch) ? CH_OK : CH_MALFORMED;
}

/* Length of a handshake message from its 4-byte header. */
static size_t hs_want(const uint8_t *h)
{
	return 4 + ((size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]);
}

static enum ch_status partial(const uint8_t *scratch, size_t have,
			      const uint8_t **msg, size_t *msglen)
{
	*msg = scratch;
	*msglen = have;
	return CH_NEED_MORE;
}

/* Gather the handshake message from consecutive records into msg; returns
 * its stream end in *end. Single-record messages are not copied. On
 * CH_NEED_MORE, msg holds the part gathered so far. */
static enum ch_status gather(const uint8_t *buf, size_t len,
			     uint8_t *scratch, const uint8_t **msg,
			     size_t *msglen, struct client_hello *ch)
{
	size_t off = 0, have = 0, want = 0;

	for (;;) {
		size_t rlen, take;

		if (len - off < 5)
			return partial(scratch, have, msg, msglen);
		if (buf[off] != TLS_HANDSHAKE || buf[off + 1] != 3)
			return off ? CH_MALFORMED : CH_NOT_TLS;
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > TLS_RECORD_MAX)
			return CH_MALFORMED;
		ch->records++;
		off += 5;
		take = rlen < len - off ? rlen : len - off;
		if (have == 0 && take >= 4) {
			if (buf[off] != HS_CLIENT_HELLO)
				return CH_MALFORMED;
			want = hs_want(buf + off);
			if (want > CH_MAX)
				return CH_MALFORMED;
			if (rlen >= want && take >= want) {
				*msg = buf + off;
				*msglen = want;
				/* bytes past the message in its record are
				 * the next handshake message: fine */
				ch->length = off + rlen;
				return CH_OK;
			}
		}
		if (have + take > CH_MAX)
			return CH_MALFORMED;
		memcpy(scratch + have, buf + off, take);
		have += take;
		if (take < rlen)
			return partial(scratch, have, msg, msglen);
		off += rlen;
		if (want == 0 && have >= 4) {
			if (scratch[0] != HS_CLIENT_HELLO)
				return CH_MALFORMED;
			want = hs_want(scratch);
			if (want > CH_MAX)
				return CH_MALFORMED;
		}
		if (want && have >= want) {
			*msg = scratch;
			*msglen = want;
			ch->length = off;
			return CH_OK;
		}
	}
}

enum ch_status ch_parse_message(const uint8_t *msg, size_t len,
				struct client_hello *out)
{
	size_t want;

	memset(out, 0, sizeof(*out));
	if (len >= 1 && msg[0] != HS_CLIENT_HELLO)
		return CH_MALFORMED;
	if (len < 4)
		return CH_NEED_MORE;
	want = hs_want(msg);
	if (want > CH_MAX)
		return CH_MALFORMED;
	if (len < want)
		return CH_NEED_MORE;
	out->length = want;
	return parse_body((struct rd){ .p = msg + 4, .n = want - 4 }, out);
}

/* The fields before the extensions, then each whole extension in turn,
 * until server_name: enough of a message cut short to read its name. */
static bool peek_body(struct rd r, struct client_hello *ch)
{
	struct rd exts;
	size_t total;

	rd_sub(&r, 2 + 32);			/* version, random */
	rd_vec(&r, 1);				/* session id */
	rd_vec(&r, 2);				/* cipher suites */
	rd_vec(&r, 1);				/* compression */
	total = rd_uint(&r, 2);
	if (r.bad)
		return false;
	exts = (struct rd){ .p = r.p, .n = r.n < total ? r.n : total };
	while (exts.n >= 4) {
		uint16_t type = (uint16_t)rd_uint(&exts, 2);
		struct rd e = rd_vec(&exts, 2);

		if (exts.bad)
			return false;
		if (type == EXT_SERVER_NAME)
			return parse_sni(e, ch) && ch->has_sni;
	}
	return false;
}

/* The message gathered from the records, parsed whole, or (peek) the
 * server_name of the part there is. */
static enum ch_status parse(const uint8_t *buf, size_t len,
			    struct client_hello *out, bool peek)
{
	uint8_t scratch[CH_MAX];
	const uint8_t *msg = NULL;
	size_t msglen = 0;
	enum ch_status st;

	memset(out, 0, sizeof(*out));
	if (len >= 1 && buf[0] != TLS_HANDSHAKE)
		return CH_NOT_TLS;
	if (len >= 2 && buf[1] != 3)
		return CH_NOT_TLS;
	st = gather(buf, len, scratch, &msg, &msglen, out);
	if (st == CH_OK)
		return parse_body((struct rd){ .p = msg + 4,
					       .n = msglen - 4 }, out);
	if (st == CH_NEED_MORE && peek && msglen >= 4 &&
	    msg[0] == HS_CLIENT_HELLO &&
	    !peek_body((struct rd){ .p = msg + 4, .n = msglen - 4 }, out))
		memset(out, 0, sizeof(*out));
	return st;
}

enum ch_status ch_parse(const uint8_t *buf, size_t len,
			struct client_hello *out)
{
	return parse(buf, len, out, false);
}

enum ch_status ch_peek_sni(const uint8_t *buf, size_t len,
			   struct client_hello *out)
{
	return parse(buf, len, out, true);
}
