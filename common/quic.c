/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "quic.h"
#include "reasm.h"
#include "xalloc.h"

#define CID_MAX QUIC_CID_MAX
#define QUIC_MIN_DGRAM 1200	/* RFC 9000 §14.1 */

static const uint8_t salt_v1[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};
static const uint8_t salt_v2[20] = {
	0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};

struct keys {
	uint8_t key[16], iv[12], hp[16];
};

struct quic_initial {
	bool keyed;		/* a packet decrypted: dcid and scid are its */
	bool bad;		/* a decrypted packet broke the frame grammar */
	bool ch_done;		/* ch is whole */
	unsigned datagrams;
	uint32_t version;
	struct keys k;
	uint8_t dcid[CID_MAX], scid[CID_MAX];
	size_t dcid_len, scid_len;
	struct reasm crypto;	/* CRYPTO stream, offset 0 on */
	struct client_hello ch;
	enum ch_status ch_status;
};

/* RFC 9000 §16 variable-length integer; false when cut short. */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	size_t n, i;

	if (*p >= end)
		return false;
	n = (size_t)1 << (**p >> 6);
	if ((size_t)(end - *p) < n)
		return false;
	*v = **p & 0x3f;
	for (i = 1; i < n; i++)
		*v = *v << 8 | (*p)[i];
	*p += n;
	return true;
}

static bool known(uint32_t v)
{
	return v == QUIC_V1 || v == QUIC_V2;
}

static uint8_t initial_type(uint32_t version)
{
	return version == QUIC_V1 ? 0 : 1;	/* RFC 9369 §3.2 */
}

enum quic_form quic_form(const uint8_t *d, size_t len)
{
	uint32_t v;

	if (len < 7)
		return QUIC_NOT;
	if (!(d[0] & 0x80))
		return d[0] & 0x40 ? QUIC_SHORT : QUIC_NOT;
	v = be32(d + 1);
	if (v == 0)
		return QUIC_NOT;	/* Version Negotiation: a server's */
	if (!known(v))
		return QUIC_OTHER_VERSION;
	if (!(d[0] & 0x40))
		return QUIC_NOT;	/* fixed bit clear */
	return ((d[0] >> 4) & 3) == initial_type(v) ? QUIC_INITIAL : QUIC_LONG;
}

bool quic_is_initial(const uint8_t *d, size_t len)
{
	return quic_form(d, len) == QUIC_INITIAL;
}

struct quic_initial *quic_initial_new(void)
{
	struct quic_initial *q = xcalloc(1, sizeof(*q));

	reasm_init(&q->crypto, 0, CH_MAX, 0, UINT64_MAX / 2);
	return q;
}

void quic_initial_free(struct quic_initial *q)
{
	if (!q)
		return;
	reasm_fini(&q->crypto);
	memset(&q->k, 0, sizeof(q->k));
	free(q);
}

size_t quic_initial_bytes(const struct quic_initial *q)
{
	return sizeof(*q) + q->crypto.cap + (q->crypto.cap + 7) / 8;
}

static bool expand_label(const uint8_t *secret, const char *label,
			 uint8_t *out, size_t outlen)
{
	uint8_t info[64];
	size_t l = strlen(label), n = 0;

	info[n++] = 0;
	info[n++] = (uint8_t)outlen;
	info[n++] = (uint8_t)(6 + l);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, l);
	n += l;
	info[n++] = 0;
	return wc_HKDF_Expand(WC_SHA256, secret, 32, info, (word32)n, out,
			      (word32)outlen) == 0;
}

/* The Initial keys of one side (RFC 9001 §5.2, RFC 9369 §3.3.1). */
static bool derive_keys(uint32_t version, bool server, const uint8_t *dcid,
			size_t dcid_len, struct keys *k)
{
	bool v2 = version == QUIC_V2;
	uint8_t initial[32], side[32];
	bool ok;

	ok = wc_HKDF_Extract(WC_SHA256, v2 ? salt_v2 : salt_v1, 20, dcid,
			     (word32)dcid_len, initial) == 0 &&
	     expand_label(initial, server ? "server in" : "client in", side,
			  32) &&
	     expand_label(side, v2 ? "quicv2 key" : "quic key", k->key, 16) &&
	     expand_label(side, v2 ? "quicv2 iv" : "quic iv", k->iv, 12) &&
	     expand_label(side, v2 ? "quicv2 hp" : "quic hp", k->hp, 16);
	memset(initial, 0, sizeof(initial));
	memset(side, 0, sizeof(side));
	return ok;
}

/* The header protection mask of the 16-byte sample. */
static bool hp_mask(const struct keys *k, const uint8_t *sample,
		    uint8_t mask[16])
{
	Aes aes;
	bool ok;

	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return false;
	ok = wc_AesSetKey(&aes, k->hp, 16, NULL, AES_ENCRYPTION) == 0 &&
	     wc_AesEncryptDirect(&aes, mask, sample) == 0;
	wc_AesFree(&aes);
	return ok;
}

static void nonce_of(const struct keys *k, uint32_t pn, uint8_t nonce[12])
{
	memcpy(nonce, k->iv, 12);
	for (size_t i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/* The CRYPTO stream's judge: once the ClientHello is whole it goes on
 * waiting, so that every later byte is still compared with what came. */
static enum reasm_state crypto_judge(const uint8_t *buf, size_t len, void *arg)
{
	struct quic_initial *q = arg;

	if (q->ch_done)
		return REASM_NEED_MORE;
	q->ch_status = ch_parse_message(buf, len, &q->ch);
	if (q->ch_status == CH_OK)
		q->ch_done = true;
	return q->ch_status == CH_OK || q->ch_status == CH_NEED_MORE ?
		       REASM_NEED_MORE : REASM_GIVE_UP;
}

/* Frames of a decrypted Initial payload (RFC 9000 Table 3: only these
 * may be in one); false on a protocol violation. */
static bool frames(struct quic_initial *q, const uint8_t *p, const uint8_t *end)
{
	while (p < end) {
		uint64_t type, a, b, c, n, i;

		if (!varint(&p, end, &type))
			return false;
		switch (type) {
		case 0x00:	/* PADDING */
		case 0x01:	/* PING */
			break;
		case 0x02:	/* ACK */
		case 0x03:
			if (!varint(&p, end, &a) || !varint(&p, end, &b) ||
			    !varint(&p, end, &n) || !varint(&p, end, &c) ||
			    n > (uint64_t)(end - p))
				return false;
			for (i = 0; i < n * 2 + (type == 3 ? 3 : 0); i++)
				if (!varint(&p, end, &a))
					return false;
			break;
		case 0x06:	/* CRYPTO */
			if (!varint(&p, end, &a) || !varint(&p, end, &n) ||
			    n > (uint64_t)(end - p) || a > UINT32_MAX / 2)
				return false;
			reasm_add(&q->crypto, (uint32_t)a, p, (size_t)n, 0,
				  crypto_judge, q);
			p += n;
			break;
		case 0x1c:	/* CONNECTION_CLOSE */
			if (!varint(&p, end, &a) || !varint(&p, end, &b) ||
			    !varint(&p, end, &n) || n > (uint64_t)(end - p))
				return false;
			p += n;
			break;
		default:
			return false;
		}
	}
	return true;
}

/* A long header's connection IDs; its token and Length start at *rest. */
static bool long_cids(const uint8_t *pkt, size_t len, size_t max,
		      const uint8_t **dcid, size_t *dl, const uint8_t **scid,
		      size_t *sl, const uint8_t **rest)
{
	const uint8_t *p = pkt + 5, *end = pkt + len;

	if (len < 6 || *p > max || (size_t)(end - p) < 1u + *p + 1)
		return false;
	*dl = *p;
	*dcid = p + 1;
	p += 1 + *p;
	if (*p > max || (size_t)(end - p) < 1u + *p)
		return false;
	*sl = *p;
	*scid = p + 1;
	*rest = p + 1 + *p;
	return true;
}

bool quic_dcid(const uint8_t *d, size_t len, const uint8_t **cid,
	       size_t *cid_len)
{
	enum quic_form f = quic_form(d, len);
	const uint8_t *scid, *rest;
	size_t sl;

	return (f == QUIC_INITIAL || f == QUIC_LONG) &&
	       long_cids(d, len, CID_MAX, cid, cid_len, &scid, &sl, &rest);
}

bool quic_initial_keyed(const struct quic_initial *q, const uint8_t **cid,
			size_t *cid_len)
{
	*cid = q->dcid;
	*cid_len = q->dcid_len;
	return q->keyed;
}

/* The keys, from the first packet's Destination Connection ID. */
static bool key(struct quic_initial *q, const uint8_t *dcid, size_t dl,
		const uint8_t *scid, size_t sl)
{
	if (q->keyed)
		return true;
	if (!derive_keys(q->version, false, dcid, dl, &q->k))
		return false;
	memcpy(q->dcid, dcid, dl);
	q->dcid_len = dl;
	memcpy(q->scid, scid, sl);
	q->scid_len = sl;
	return true;
}

/* Remove header protection and decrypt one Initial packet in place in
 * `pkt' (a copy); returns its length on the wire, 0 if it is not one. */
static size_t packet(struct quic_initial *q, uint8_t *pkt, size_t len)
{
	const uint8_t *dcid, *scid, *p, *end = pkt + len;
	uint8_t mask[16], nonce[12], *plain;
	size_t dl, sl, pn_off, pn_len, i, total;
	uint64_t tok, plen;
	uint32_t pn = 0;
	Aes aes;
	bool ok;

	if (!quic_is_initial(pkt, len) || be32(pkt + 1) != q->version ||
	    !long_cids(pkt, len, CID_MAX, &dcid, &dl, &scid, &sl, &p))
		return 0;
	if (!varint(&p, end, &tok) || tok > (uint64_t)(end - p))
		return 0;
	p += tok;
	if (!varint(&p, end, &plen) || plen > (uint64_t)(end - p) || plen < 20)
		return 0;
	pn_off = (size_t)(p - pkt);
	total = pn_off + (size_t)plen;
	if (!key(q, dcid, dl, scid, sl) || !hp_mask(&q->k, pkt + pn_off + 4,
						     mask))
		return 0;
	pkt[0] ^= mask[0] & 0x0f;
	pn_len = (pkt[0] & 3) + 1;
	for (i = 0; i < pn_len; i++) {
		pkt[pn_off + i] ^= mask[1 + i];
		pn = pn << 8 | pkt[pn_off + i];
	}
	nonce_of(&q->k, pn, nonce);
	plain = xmalloc(total);
	ok = wc_AesInit(&aes, NULL, INVALID_DEVID) == 0;
	ok = ok && wc_AesGcmSetKey(&aes, q->k.key, 16) == 0 &&
	     wc_AesGcmDecrypt(&aes, plain, pkt + pn_off + pn_len,
			      (word32)(plen - pn_len - 16), nonce, 12,
			      pkt + total - 16, 16, pkt,
			      (word32)(pn_off + pn_len)) == 0;
	wc_AesFree(&aes);
	if (ok) {
		q->keyed = true;
		if (!frames(q, plain, plain + plen - pn_len - 16))
			q->bad = true;
	}
	free(plain);
	return ok ? total : 0;
}

enum quic_status quic_initial_add(struct quic_initial *q, const uint8_t *dgram,
				  size_t len, struct client_hello *ch)
{
	bool was_keyed = q->keyed;
	uint8_t *copy;
	size_t off = 0, n;

	if (!q->version && quic_is_initial(dgram, len))
		q->version = be32(dgram + 1);
	copy = xmalloc(len ? len : 1);
	memcpy(copy, dgram, len);
	/* coalesced packets: Initial ones first, stop at anything else */
	while (off < len && (n = packet(q, copy + off, len - off)) > 0)
		off += n;
	free(copy);
	if (!was_keyed && !q->keyed && quic_is_initial(dgram, len) &&
	    be32(dgram + 1) == q->version)
		return QUIC_MALFORMED;	/* the first Initial is none */
	if (q->crypto.state == REASM_GIVE_UP)
		return q->crypto.why == REASM_WHY_CONFLICT ? QUIC_CONFLICT :
		       q->crypto.why == REASM_WHY_TOO_BIG && !q->ch_done ?
								 QUIC_TOO_BIG :
		       QUIC_MALFORMED;
	if (q->bad)
		return QUIC_MALFORMED;
	if (!q->ch_done)
		return QUIC_NEED_MORE;
	*ch = q->ch;
	return QUIC_OK;
}

static enum payload_kind payload_of(enum quic_status st)
{
	switch (st) {
	case QUIC_OK:
		return PAYLOAD_TLS;
	case QUIC_CONFLICT:
		return PAYLOAD_CONFLICT;
	case QUIC_TOO_BIG:
		return PAYLOAD_INCOMPLETE;
	case QUIC_NEED_MORE:
		return PAYLOAD_NONE;
	case QUIC_MALFORMED:
		break;
	}
	return PAYLOAD_MALFORMED;
}

enum quic_step quic_judge(struct quic_initial *q, const uint8_t *dgram,
			  size_t len, struct first_bytes *fb)
{
	enum quic_form form = quic_form(dgram, len);
	enum quic_status st;

	if (q->datagrams++ == 0 && (form == QUIC_SHORT || form == QUIC_NOT)) {
		fb->kind = PAYLOAD_NOT_QUIC;
		return QUIC_STEP_DONE;
	}
	if (form == QUIC_OTHER_VERSION)
		return QUIC_STEP_VERSION;
	if (form != QUIC_INITIAL)
		return QUIC_STEP_MORE;	/* 0-RTT, or a stranger: held */
	st = quic_initial_add(q, dgram, len, &fb->ch);
	fb->kind = payload_of(st);
	return st == QUIC_NEED_MORE ? QUIC_STEP_MORE : QUIC_STEP_DONE;
}

/* A long header up to its connection IDs; returns its length. */
static size_t put_long_header(uint8_t *out, uint8_t first, uint32_t version,
			      const uint8_t *dcid, size_t dl,
			      const uint8_t *scid, size_t sl)
{
	size_t n = 0;

	out[n++] = first;
	for (int b = 3; b >= 0; b--)
		out[n++] = (uint8_t)(version >> (8 * b));
	out[n++] = (uint8_t)dl;
	memcpy(out + n, dcid, dl);
	n += dl;
	out[n++] = (uint8_t)sl;
	memcpy(out + n, scid, sl);
	return n + sl;
}

static size_t put_varint2(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(0x40 | (v >> 8));
	p[1] = (uint8_t)v;
	return 2;
}

size_t quic_version_negotiation(const uint8_t *d, size_t len, uint8_t *out,
				size_t cap)
{
	static const uint32_t versions[] = { QUIC_V1, QUIC_V2 };
	const uint8_t *dcid, *scid, *rest;
	size_t dl, sl, n;

	/* RFC 8999: any version's connection IDs may be 255 bytes */
	if (len < 7 || !(d[0] & 0x80) ||
	    !long_cids(d, len, 255, &dcid, &dl, &scid, &sl, &rest) ||
	    cap < 7 + dl + sl + sizeof(versions))
		return 0;
	/* version 0; the unused bits arbitrary, the fixed bit set */
	n = put_long_header(out, 0xc0 | (d[5] & 0x3f), 0, scid, sl, dcid, dl);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		for (int b = 3; b >= 0; b--)
			out[n++] = (uint8_t)(versions[i] >> (8 * b));
	}
	return n;
}

size_t quic_initial_seal(uint32_t version, bool server, const uint8_t *odcid,
			 size_t odcid_len, const uint8_t *dcid, size_t dcid_len,
			 const uint8_t *scid, size_t scid_len, uint32_t pn,
			 const uint8_t *frames_in, size_t flen, uint8_t *out,
			 size_t cap)
{
	size_t pad = flen < 18 ? 18 - flen : 0, plen = 2 + flen + pad + 16;
	size_t n, pn_off;
	uint8_t mask[16], nonce[12], *plain;
	struct keys k;
	Aes aes;
	bool ok;

	if (dcid_len > CID_MAX || scid_len > CID_MAX || plen > 0x3fff ||
	    cap < 7 + dcid_len + scid_len + 1 + 2 + plen ||
	    !derive_keys(version, server, odcid, odcid_len, &k))
		return 0;
	n = put_long_header(out, (uint8_t)(0xc0 | initial_type(version) << 4 | 1),
			    version, dcid, dcid_len, scid, scid_len);
	out[n++] = 0;		/* no token */
	n += put_varint2(out + n, plen);
	pn_off = n;
	out[n++] = (uint8_t)(pn >> 8);
	out[n++] = (uint8_t)pn;
	plain = xcalloc(1, flen + pad);	/* PADDING frames after them */
	memcpy(plain, frames_in, flen);
	nonce_of(&k, pn & 0xffff, nonce);
	ok = wc_AesInit(&aes, NULL, INVALID_DEVID) == 0;
	ok = ok && wc_AesGcmSetKey(&aes, k.key, 16) == 0 &&
	     wc_AesGcmEncrypt(&aes, out + n, plain, (word32)(flen + pad),
			      nonce, 12, out + n + flen + pad, 16, out,
			      (word32)n) == 0;
	wc_AesFree(&aes);
	free(plain);
	n += flen + pad + 16;
	ok = ok && hp_mask(&k, out + pn_off + 4, mask);
	memset(&k, 0, sizeof(k));
	if (!ok)
		return 0;
	out[0] ^= mask[0] & 0x0f;
	out[pn_off] ^= mask[1];
	out[pn_off + 1] ^= mask[2];
	return n;
}

size_t quic_refusal(const struct quic_initial *q, const char *reason,
		    uint8_t *out, size_t cap)
{
	uint8_t f[128];
	size_t n = 0, rl = strlen(reason);

	if (!q->keyed)
		return 0;
	if (rl > 100)
		rl = 100;
	f[n++] = 0x1c;		/* CONNECTION_CLOSE, transport */
	f[n++] = 0x02;		/* CONNECTION_REFUSED */
	f[n++] = 0x00;		/* no frame type */
	f[n++] = (uint8_t)rl;
	memcpy(f + n, reason, rl);
	n += rl;
	/* ours to the client: its Source Connection ID as Destination,
	 * and as Source the Destination it chose */
	return quic_initial_seal(q->version, true, q->dcid, q->dcid_len,
				 q->scid, q->scid_len, q->dcid, q->dcid_len, 0,
				 f, n, out, cap);
}
