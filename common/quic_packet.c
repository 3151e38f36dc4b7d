/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "quic_packet.h"
#include "xalloc.h"

static const uint8_t salt_v1[20] = {
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
};

static const uint8_t salt_v2[20] = {
	0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
};

/* RFC 9000 §16 variable-length integer; false when cut short. */
bool quic_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
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
	/* the fixed bit is read as it comes: a peer may grease it, in an
	 * Initial too (RFC 9287 §3.1) */
	return ((d[0] >> 4) & 3) == initial_type(v) ? QUIC_INITIAL : QUIC_LONG;
}

bool quic_is_initial(const uint8_t *d, size_t len)
{
	return quic_form(d, len) == QUIC_INITIAL;
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
bool quic_derive_keys(uint32_t version, bool server, const uint8_t *dcid,
		      size_t dcid_len, struct quic_keys *k)
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
static bool hp_mask(const struct quic_keys *k, const uint8_t *sample,
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

static void nonce_of(const struct quic_keys *k, uint32_t pn,
		     uint8_t nonce[12])
{
	memcpy(nonce, k->iv, 12);
	for (size_t i = 0; i < 4; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
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

/* The long-header packet at d[*off] (RFC 9000 §17.2), *off moved past
 * it: 1; 0 past the datagram's long headers (at its end, or at a short
 * header, which runs to it); -1 at one we do not read: another version,
 * a Retry, a Length past the datagram. */
int quic_lpkt_next(const uint8_t *d, size_t len, size_t *off,
		   struct quic_lpkt *lp)
{
	const uint8_t *pkt = d + *off, *p, *end = d + len;
	uint64_t tok = 0, plen;

	if (*off >= len || !(pkt[0] & 0x80))
		return 0;
	if (len - *off < 7 || !known(be32(pkt + 1)))
		return -1;
	lp->version = be32(pkt + 1);
	lp->type = ((unsigned)(pkt[0] >> 4) - (lp->version == QUIC_V2)) & 3;
	if (lp->type == QUIC_LT_RETRY ||
	    !long_cids(pkt, len - *off, QUIC_CID_MAX, &lp->dcid, &lp->dl,
		       &lp->scid, &lp->sl, &p))
		return -1;
	if (lp->type == QUIC_LT_INITIAL &&
	    (!quic_varint(&p, end, &tok) || tok > (uint64_t)(end - p)))
		return -1;
	p += tok;
	if (!quic_varint(&p, end, &plen) || plen > (uint64_t)(end - p) ||
	    plen < 20)
		return -1;
	lp->pn_off = (size_t)(p - pkt);
	lp->total = lp->pn_off + (size_t)plen;
	*off += lp->total;
	return 1;
}

bool quic_same_cid(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

/* A datagram's long-header packets are one connection's (RFC 9000
 * §12.2: one Destination Connection ID; here one version we read too):
 * their number, -1 when one is not. The first in *first, how many are
 * Initials in *initials (when not NULL). */
int quic_lpkt_all(const uint8_t *d, size_t len, struct quic_lpkt *first,
		  size_t *initials)
{
	struct quic_lpkt lp;
	size_t off = 0, in = 0;
	int r, n = 0;

	while ((r = quic_lpkt_next(d, len, &off, &lp)) > 0) {
		if (n++ == 0)
			*first = lp;
		else if (lp.version != first->version ||
			 !quic_same_cid(lp.dcid, lp.dl, first->dcid, first->dl))
			return -1;
		in += lp.type == QUIC_LT_INITIAL;
	}
	if (initials)
		*initials = in;
	return r < 0 ? -1 : n;
}

/* An Initial packet's payload, its header protection removed and
 * decrypted under k (the packet itself unchanged): the frames, to free,
 * their length in *n; NULL when it does not open under k. */
uint8_t *quic_open_packet(const struct quic_keys *k, const uint8_t *pkt,
			  const struct quic_lpkt *lp, size_t *n)
{
	size_t pn_off = lp->pn_off, total = lp->total, pn_len, i;
	uint8_t mask[16], nonce[12], *c, *plain;
	uint32_t pn = 0;
	Aes aes;
	bool ok;

	if (!hp_mask(k, pkt + pn_off + 4, mask))
		return NULL;
	c = xmalloc(total);
	memcpy(c, pkt, total);
	c[0] ^= mask[0] & 0x0f;
	pn_len = (c[0] & 3) + 1;
	for (i = 0; i < pn_len; i++) {
		c[pn_off + i] ^= mask[1 + i];
		pn = pn << 8 | c[pn_off + i];
	}
	nonce_of(k, pn, nonce);
	*n = total - pn_off - pn_len - 16;
	plain = xmalloc(total);
	ok = wc_AesInit(&aes, NULL, INVALID_DEVID) == 0;
	ok = ok && wc_AesGcmSetKey(&aes, k->key, 16) == 0 &&
	     wc_AesGcmDecrypt(&aes, plain, c + pn_off + pn_len, (word32)*n,
			      nonce, 12, c + total - 16, 16, c,
			      (word32)(pn_off + pn_len)) == 0;
	wc_AesFree(&aes);
	free(c);
	if (!ok) {
		free(plain);
		return NULL;
	}
	return plain;
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
	struct quic_keys k;
	Aes aes;
	bool ok;

	if (dcid_len > QUIC_CID_MAX || scid_len > QUIC_CID_MAX ||
	    plen > 0x3fff || cap < 7 + dcid_len + scid_len + 1 + 2 + plen ||
	    !quic_derive_keys(version, server, odcid, odcid_len, &k))
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
