/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "firstbytes.h"

static enum reasm_state judge_hello(struct first_bytes *fb,
				    const uint8_t *buf, size_t len)
{
	switch (ch_parse(buf, len, &fb->ch)) {
	case CH_NEED_MORE:
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

enum reasm_state fb_judge(const uint8_t *buf, size_t len, void *arg)
{
	struct first_bytes *fb = arg;

	fb->pg = PG_NOT_PG;
	fb->kind = PAYLOAD_NONE;
	if (len >= 1 && buf[0] == 0x16)
		return judge_hello(fb, buf, len);
	fb->pg = pg_classify(buf, len);
	switch (fb->pg) {
	case PG_NEED_MORE:
		return REASM_NEED_MORE;
	case PG_SSL_REQUEST:
		if (!fb->past_sslrequest)
			return REASM_COMPLETE;
		if (len == PG_REQUEST_LEN)
			return REASM_NEED_MORE;
		return judge_hello(fb, buf + PG_REQUEST_LEN,
				   len - PG_REQUEST_LEN);
	case PG_DIRECT_TLS:	/* handled above */
	case PG_GSSENC_REQUEST:
	case PG_PLAINTEXT:
	case PG_NOT_PG:
		break;
	}
	fb->kind = PAYLOAD_NOT_TLS;
	return REASM_COMPLETE;
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
}
