/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "firstbytes.h"

static enum reasm_state judge_hello(struct first_bytes *fb,
				    const uint8_t *buf, size_t len)
{
	switch (ch_peek_sni(buf, len, &fb->ch)) {
	case CH_NEED_MORE:
		fb->peeked = fb->ch.has_sni;
		return REASM_NEED_MORE;
	case CH_OK:
		fb->kind = PAYLOAD_TLS;
		break;
	case CH_NOT_TLS:
		fb->kind = PAYLOAD_NOT_TLS;
		break;
	case CH_MALFORMED:
		fb->kind = PAYLOAD_MALFORMED;
		break;
	}
	return REASM_COMPLETE;
}

static unsigned request_bit(enum pg_start pg)
{
	return pg == PG_GSSENC_REQUEST ? FB_REQ_GSSENC : FB_REQ_SSL;
}

/* A GSSENCRequest first or not at all, an SSLRequest once. */
static bool request_may_come(unsigned done, enum pg_start pg)
{
	if (pg == PG_GSSENC_REQUEST)
		return done == 0;
	return pg == PG_SSL_REQUEST && !(done & FB_REQ_SSL);
}

enum reasm_state fb_judge(const uint8_t *buf, size_t len, void *arg)
{
	struct first_bytes *fb = arg;
	unsigned done = fb->requests;
	size_t at = fb->skip;

	if (!at)
		fb->pg = PG_NOT_PG;
	fb->kind = PAYLOAD_NONE;
	fb->request = PG_NOT_PG;
	fb->peeked = false;
	for (;;) {
		const uint8_t *p = buf + at;
		size_t n = len > at ? len - at : 0;
		enum pg_start pg;

		if (n >= 1 && p[0] == 0x16)
			return judge_hello(fb, p, n);
		pg = pg_classify(p, n);
		if (pg == PG_NEED_MORE)
			return REASM_NEED_MORE;
		if (fb->pg == PG_NOT_PG)
			fb->pg = pg;
		if (!request_may_come(done, pg))
			break;
		if (!fb->past_sslrequest) {
			fb->request = pg;
			return REASM_COMPLETE;
		}
		done |= request_bit(pg);
		at += PG_REQUEST_LEN;
	}
	fb->kind = PAYLOAD_NOT_TLS;
	return REASM_COMPLETE;
}

bool fb_postgres(const struct first_bytes *fb)
{
	return fb->pg == PG_SSL_REQUEST || fb->pg == PG_GSSENC_REQUEST;
}

void fb_passed(struct first_bytes *fb)
{
	fb->requests |= request_bit(fb->request);
	fb->skip += PG_REQUEST_LEN;
	fb->request = PG_NOT_PG;
}

enum payload_kind fb_payload(const struct first_bytes *fb,
			     const struct reasm *r)
{
	if (r && r->state == REASM_GIVE_UP)
		return r->why == REASM_WHY_CONFLICT ? PAYLOAD_CONFLICT
						    : PAYLOAD_INCOMPLETE;
	return fb->kind == PAYLOAD_NONE ? PAYLOAD_INCOMPLETE : fb->kind;
}

void fb_query(const struct first_bytes *fb, const struct reasm *r,
	      struct flow_query *q)
{
	q->payload = fb_payload(fb, r);
	if (q->payload == PAYLOAD_TLS && fb->ch.has_sni) {
		q->sni = fb->ch.sni;
		q->sni_len = fb->ch.sni_len;
	}
	q->ech = fb->ch.ech;
	q->postgres = fb->requests != 0;
}
