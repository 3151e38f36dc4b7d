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

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define CID_MAX 20

static const uint8_t salt_v1[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};
static const uint8_t salt_v2[20] = {
	0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};

struct quic_initial {
	bool keyed;
	uint32_t version;
	uint8_t key[16], iv[12], hp[16];
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

static bool initial_type(uint32_t version, uint8_t b0)
{
	uint8_t type = (b0 >> 4) & 3;

	return version == QUIC_V1 ? type == 0 : type == 1;
}

bool quic_is_initial(const uint8_t *d, size_t len)
{
	uint32_t v;

	if (len < 7 || (d[0] & 0xc0) != 0xc0)
		return false;
	v = be32(d + 1);
	return (v == QUIC_V1 || v == QUIC_V2) && initial_type(v, d[0]);
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
	free(q);
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

static bool derive_keys(struct quic_initial *q, const uint8_t *dcid,
			size_t dcid_len)
{
	bool v2 = q->version == QUIC_V2;
	uint8_t initial[32], client[32];
	bool ok;

	ok = wc_HKDF_Extract(WC_SHA256, v2 ? salt_v2 : salt_v1, 20, dcid,
			     (word32)dcid_len, initial) == 0 &&
	     expand_label(initial, "client in", client, 32) &&
	     expand_label(client, v2 ? "quicv2 key" : "quic key", q->key, 16) &&
	     expand_label(client, v2 ? "quicv2 iv" : "quic iv", q->iv, 12) &&
	     expand_label(client, v2 ? "quicv2 hp" : "quic hp", q->hp, 16);
	memset(initial, 0, sizeof(initial));
	memset(client, 0, sizeof(client));
	return ok;
}

static enum reasm_state crypto_judge(const uint8_t *buf, size_t len, void *arg)
{
	struct quic_initial *q = arg;

	q->ch_status = ch_parse_message(buf, len, &q->ch);
	return q->ch_status == CH_NEED_MORE ? REASM_NEED_MORE : REASM_COMPLETE;
}

/* Frames of a decrypted Initial payload; false on a protocol violation. */
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
			    !varint(&p, end, &n) || !varint(&p, end, &c))
				return false;
			for (i = 0; i < n * 2 + (type == 3 ? 3 : 0); i++)
				if (!varint(&p, end, &a))
					return false;
			break;
		case 0x06:	/* CRYPTO */
			if (!varint(&p, end, &a) || !varint(&p, end, &n) ||
			    n > (uint64_t)(end - p) || a > CH_MAX)
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

/* Remove header protection and decrypt one Initial packet in place in
 * `pkt` (a copy); returns its length on the wire, 0 if it is not one. */
static size_t packet(struct quic_initial *q, uint8_t *pkt, size_t len)
{
	const uint8_t *p = pkt + 5, *end = pkt + len;
	uint8_t mask[16], nonce[12], *plain;
	uint64_t tok, plen;
	size_t pn_off, pn_len, i, total;
	uint32_t pn = 0;
	Aes aes;
	bool ok;

	if (!quic_is_initial(pkt, len) || be32(pkt + 1) != q->version)
		return 0;
	if (*p > CID_MAX || (size_t)(end - p) < 1u + *p + 1)
		return 0;
	if (!q->keyed) {
		if (!derive_keys(q, p + 1, *p))
			return 0;
		q->keyed = true;
	}
	p += 1 + *p;
	if (*p > CID_MAX || (size_t)(end - p) < 1u + *p)
		return 0;
	p += 1 + *p;
	if (!varint(&p, end, &tok) || tok > (uint64_t)(end - p))
		return 0;
	p += tok;
	if (!varint(&p, end, &plen) || plen > (uint64_t)(end - p) || plen < 20)
		return 0;
	pn_off = (size_t)(p - pkt);
	total = pn_off + (size_t)plen;
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) != 0)
		return 0;
	ok = wc_AesSetKey(&aes, q->hp, 16, NULL, AES_ENCRYPTION) == 0 &&
	     wc_AesEncryptDirect(&aes, mask, pkt + pn_off + 4) == 0;
	wc_AesFree(&aes);
	if (!ok)
		return 0;
	pkt[0] ^= mask[0] & 0x0f;
	pn_len = (pkt[0] & 3) + 1;
	for (i = 0; i < pn_len; i++) {
		pkt[pn_off + i] ^= mask[1 + i];
		pn = pn << 8 | pkt[pn_off + i];
	}
	memcpy(nonce, q->iv, 12);
	for (i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	plain = xmalloc(total);
	ok = wc_AesInit(&aes, NULL, INVALID_DEVID) == 0;
	ok = ok && wc_AesGcmSetKey(&aes, q->key, 16) == 0 &&
	     wc_AesGcmDecrypt(&aes, plain, pkt + pn_off + pn_len,
			      (word32)(plen - pn_len - 16), nonce, 12,
			      pkt + total - 16, 16, pkt,
			      (word32)(pn_off + pn_len)) == 0;
	wc_AesFree(&aes);
	if (ok)
		ok = frames(q, plain, plain + plen - pn_len - 16);
	free(plain);
	return ok ? total : 0;
}

enum quic_status quic_initial_add(struct quic_initial *q, const uint8_t *dgram,
				  size_t len, struct client_hello *ch)
{
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
	if (q->crypto.state == REASM_GIVE_UP)
		return QUIC_MALFORMED;
	if (q->crypto.state != REASM_COMPLETE)
		return QUIC_NEED_MORE;
	if (q->ch_status != CH_OK)
		return QUIC_MALFORMED;
	*ch = q->ch;
	return QUIC_OK;
}
