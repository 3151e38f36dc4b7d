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
	struct reasm crypto;	/* CRYPTO stream, offset 0 on (prior_len on) */
	struct client_hello ch;
	enum ch_status ch_status;
	/* the connection the flow carries: the Destination Connection ID
	 * of its first long header */
	bool cid_seen;
	uint8_t cid[CID_MAX];
	size_t cid_len;
	/* a judged connection read again (quic_later): CRYPTO bytes below
	 * prior_len must repeat its hello's; those past it are another */
	const uint8_t *prior;
	size_t prior_len;
	bool prior_conflict;
};

/* The connection an allowed flow was judged for (quic_later). */
struct quic_conn {
	uint32_t version;
	uint8_t odcid[CID_MAX], scid[CID_MAX];
	size_t odcid_len, scid_len, hello_len;
	uint8_t hello[];	/* its ClientHello's CRYPTO bytes, offset 0 on */
};

/* One long-header packet of a datagram. */
struct lpkt {
	uint32_t version;
	unsigned type;		/* in v1's numbering (LT_*) */
	const uint8_t *dcid, *scid;
	size_t dl, sl;
	size_t pn_off, total;	/* from the packet's first byte */
};

#define LT_INITIAL 0
#define LT_RETRY 3

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
	/* the fixed bit is read as it comes: a peer may grease it, in an
	 * Initial too (RFC 9287 §3.1) */
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

/* A CRYPTO frame's bytes at off. Read again for a judged connection,
 * those where its hello was must be its hello's (a retransmission); past
 * it they start a stream of their own, read as a new hello. */
static void crypto_frame(struct quic_initial *q, uint64_t off,
			 const uint8_t *p, size_t n)
{
	uint64_t end = off + n, pl = q->prior_len;

	if (off < pl &&
	    memcmp(q->prior + off, p, (size_t)((end < pl ? end : pl) - off)))
		q->prior_conflict = true;
	if (end <= pl)
		return;
	if (off < pl) {
		p += pl - off;
		off = pl;
	}
	reasm_add(&q->crypto, (uint32_t)(off - pl), p, (size_t)(end - off), 0,
		  crypto_judge, q);
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
			crypto_frame(q, a, p, (size_t)n);
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

/* The long-header packet at d[*off] (RFC 9000 §17.2), *off moved past
 * it: 1; 0 past the datagram's long headers (at its end, or at a short
 * header, which runs to it); -1 at one we do not read: another version,
 * a Retry, a Length past the datagram. */
static int lpkt_next(const uint8_t *d, size_t len, size_t *off,
		     struct lpkt *lp)
{
	const uint8_t *pkt = d + *off, *p, *end = d + len;
	uint64_t tok = 0, plen;

	if (*off >= len || !(pkt[0] & 0x80))
		return 0;
	if (len - *off < 7 || !known(be32(pkt + 1)))
		return -1;
	lp->version = be32(pkt + 1);
	lp->type = ((unsigned)(pkt[0] >> 4) - (lp->version == QUIC_V2)) & 3;
	if (lp->type == LT_RETRY ||
	    !long_cids(pkt, len - *off, CID_MAX, &lp->dcid, &lp->dl,
		       &lp->scid, &lp->sl, &p))
		return -1;
	if (lp->type == LT_INITIAL &&
	    (!varint(&p, end, &tok) || tok > (uint64_t)(end - p)))
		return -1;
	p += tok;
	if (!varint(&p, end, &plen) || plen > (uint64_t)(end - p) || plen < 20)
		return -1;
	lp->pn_off = (size_t)(p - pkt);
	lp->total = lp->pn_off + (size_t)plen;
	*off += lp->total;
	return 1;
}

static bool same_cid(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

/* A datagram's long-header packets are one connection's (RFC 9000
 * §12.2: one Destination Connection ID; here one version we read too):
 * their number, -1 when one is not. The first in *first, how many are
 * Initials in *initials (when not NULL). */
static int lpkt_all(const uint8_t *d, size_t len, struct lpkt *first,
		    size_t *initials)
{
	struct lpkt lp;
	size_t off = 0, in = 0;
	int r, n = 0;

	while ((r = lpkt_next(d, len, &off, &lp)) > 0) {
		if (n++ == 0)
			*first = lp;
		else if (lp.version != first->version ||
			 !same_cid(lp.dcid, lp.dl, first->dcid, first->dl))
			return -1;
		in += lp.type == LT_INITIAL;
	}
	if (initials)
		*initials = in;
	return r < 0 ? -1 : n;
}

/* The keys, from the first packet's Destination Connection ID. */
static bool key(struct quic_initial *q, const struct lpkt *lp)
{
	if (q->keyed)
		return true;
	if (!derive_keys(q->version, false, lp->dcid, lp->dl, &q->k))
		return false;
	memcpy(q->dcid, lp->dcid, lp->dl);
	q->dcid_len = lp->dl;
	memcpy(q->scid, lp->scid, lp->sl);
	q->scid_len = lp->sl;
	return true;
}

/* An Initial packet's payload, its header protection removed and
 * decrypted under k (the packet itself unchanged): the frames, to free,
 * their length in *n; NULL when it does not open under k. */
static uint8_t *open_packet(const struct keys *k, const uint8_t *pkt,
			    const struct lpkt *lp, size_t *n)
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

/* One Initial packet of q's connection: decrypted under its keys, its
 * frames read; false when it does not open under them. */
static bool packet(struct quic_initial *q, const uint8_t *pkt,
		   const struct lpkt *lp)
{
	uint8_t *plain;
	size_t n;

	if (lp->version != q->version || !key(q, lp) ||
	    !(plain = open_packet(&q->k, pkt, lp, &n)))
		return false;
	q->keyed = true;
	if (!frames(q, plain, plain + n))
		q->bad = true;
	free(plain);
	return true;
}

/* Whether every Initial packet of a datagram opens under q's keys (the
 * first one's, if q has none yet): a datagram of q's connection. */
static bool opens(struct quic_initial *q, const uint8_t *d, size_t len)
{
	struct lpkt lp;
	size_t off = 0, n;
	uint8_t *plain;

	while (lpkt_next(d, len, &off, &lp) > 0) {
		if (lp.type != LT_INITIAL)
			continue;
		if (!q->keyed && !q->version)
			q->version = lp.version;
		if (lp.version != q->version || !key(q, &lp) ||
		    !(plain = open_packet(&q->k, d + off - lp.total, &lp, &n)))
			return false;
		free(plain);
	}
	return true;
}

/* The datagram's Initial packets read into q. */
static void read_initials(struct quic_initial *q, const uint8_t *d,
			  size_t len)
{
	struct lpkt lp;
	size_t off = 0;

	while (lpkt_next(d, len, &off, &lp) > 0)
		if (lp.type == LT_INITIAL)
			packet(q, d + off - lp.total, &lp);
}

/* A datagram of the connection q reads: every long header its first
 * one's Destination Connection ID, every Initial opening under its
 * keys. */
static bool ours(struct quic_initial *q, const uint8_t *d, size_t len)
{
	struct lpkt first;
	int n = lpkt_all(d, len, &first, NULL);

	if (n < 0 || (n > 0 && q->cid_seen &&
		      !same_cid(first.dcid, first.dl, q->cid, q->cid_len)))
		return false;
	if (n > 0 && !q->cid_seen) {
		memcpy(q->cid, first.dcid, first.dl);
		q->cid_len = first.dl;
		q->cid_seen = true;
	}
	return opens(q, d, len);
}

/* The length of the whole ClientHello q read (its handshake header's). */
static size_t hello_len(const struct quic_initial *q)
{
	const uint8_t *b = q->crypto.buf;

	return 4 + ((size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3]);
}

static enum quic_status status(const struct quic_initial *q)
{
	if (q->crypto.state == REASM_GIVE_UP)
		return q->crypto.why == REASM_WHY_CONFLICT ? QUIC_CONFLICT :
		       q->crypto.why == REASM_WHY_TOO_BIG && !q->ch_done ?
								 QUIC_TOO_BIG :
		       QUIC_MALFORMED;
	if (q->bad)
		return QUIC_MALFORMED;
	if (!q->ch_done)
		return QUIC_NEED_MORE;
	/* bytes past the hello would pass with it, read by no one: a
	 * client sends none before the server's answer */
	return q->crypto.stored > hello_len(q) ? QUIC_MALFORMED : QUIC_OK;
}

enum quic_status quic_initial_add(struct quic_initial *q, const uint8_t *dgram,
				  size_t len, struct client_hello *ch)
{
	enum quic_status st;

	if (!ours(q, dgram, len))	/* before any was: not one we read */
		return q->keyed ? QUIC_STRANGER : QUIC_MALFORMED;
	read_initials(q, dgram, len);
	if ((st = status(q)) == QUIC_OK)
		*ch = q->ch;
	return st;
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
	case QUIC_STRANGER:
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
	if (!len || !(dgram[0] & 0x80))
		return QUIC_STEP_MORE;	/* a short header opens nothing */
	st = quic_initial_add(q, dgram, len, &fb->ch);
	if (st == QUIC_STRANGER)
		return QUIC_STEP_OTHER;
	fb->kind = payload_of(st);
	return st == QUIC_NEED_MORE ? QUIC_STEP_MORE : QUIC_STEP_DONE;
}

struct quic_conn *quic_conn_new(const struct quic_initial *q)
{
	const uint8_t *b = q->crypto.buf;
	struct quic_conn *c;
	size_t n;

	if (!q->keyed || !q->ch_done || q->prior ||
	    (n = hello_len(q)) > q->crypto.contig)
		return NULL;
	c = xcalloc(1, sizeof(*c) + n);
	c->version = q->version;
	memcpy(c->odcid, q->dcid, q->dcid_len);
	c->odcid_len = q->dcid_len;
	memcpy(c->scid, q->scid, q->scid_len);
	c->scid_len = q->scid_len;
	memcpy(c->hello, b, n);
	c->hello_len = n;
	return c;
}

void quic_conn_free(struct quic_conn *c)
{
	free(c);
}

size_t quic_conn_bytes(const struct quic_conn *c)
{
	return c ? sizeof(*c) + c->hello_len : 0;
}

/* The judged connection c read again, in a datagram's version: its
 * keys (from its first Destination Connection ID: a later Initial of
 * its own, whatever its ID, or after a compatible version negotiation,
 * opens under them), its hello as what CRYPTO bytes must repeat. */
static struct quic_initial *again_new(const struct quic_conn *c,
				      uint32_t version)
{
	struct quic_initial *q = quic_initial_new();

	q->version = version;
	if (!derive_keys(version, false, c->odcid, c->odcid_len, &q->k)) {
		quic_initial_free(q);
		return NULL;
	}
	q->keyed = true;
	memcpy(q->dcid, c->odcid, c->odcid_len);
	q->dcid_len = c->odcid_len;
	memcpy(q->scid, c->scid, c->scid_len);
	q->scid_len = c->scid_len;
	q->prior = c->hello;
	q->prior_len = c->hello_len;
	return q;
}

/* What the Initials read into q (the judged connection's, or another's)
 * say: nothing new, or a hello to judge (fb). */
static enum quic_later later_of(const struct quic_initial *q,
				struct first_bytes *fb)
{
	if (q->prior_conflict) {
		fb->kind = PAYLOAD_CONFLICT;
		return QUIC_LATER_JUDGE;
	}
	if (q->bad)
		return QUIC_LATER_UNREAD;
	if (q->crypto.state == REASM_NEED_MORE && !q->crypto.stored)
		return QUIC_LATER_PASS;	/* ACK, PING, a retransmission */
	fb->kind = payload_of(status(q));
	if (fb->kind == PAYLOAD_NONE)
		fb->kind = PAYLOAD_INCOMPLETE;	/* must be whole in it */
	else if (fb->kind == PAYLOAD_TLS)
		fb->ch = q->ch;
	return QUIC_LATER_JUDGE;
}

enum quic_later quic_later(const struct quic_conn *c, const uint8_t *dgram,
			   size_t len, struct quic_initial **judge,
			   struct first_bytes *fb)
{
	struct quic_initial *again = NULL, *own = NULL, *used = NULL;
	enum quic_later res = QUIC_LATER_UNREAD;
	struct lpkt first, lp;
	size_t off = 0, initials;

	*judge = NULL;
	if (!len || !(dgram[0] & 0x80))
		return QUIC_LATER_PASS;	/* a short header opens nothing */
	if (lpkt_all(dgram, len, &first, &initials) < 0)
		return QUIC_LATER_UNREAD;
	if (!initials)
		return QUIC_LATER_PASS;	/* 0-RTT, Handshake: they open none */
	if (c && !(again = again_new(c, first.version)))
		return QUIC_LATER_UNREAD;
	own = quic_initial_new();
	own->version = first.version;
	while (lpkt_next(dgram, len, &off, &lp) > 0) {
		const uint8_t *pkt = dgram + off - lp.total;
		struct quic_initial *q;

		if (lp.type != LT_INITIAL)
			continue;	/* 0-RTT, Handshake: they open none */
		q = again && packet(again, pkt, &lp) ? again :
		    packet(own, pkt, &lp) ? own : NULL;
		if (!q || (used && q != used))
			goto out;	/* unread, or two connections' */
		used = q;
	}
	res = used ? later_of(used, fb) : QUIC_LATER_PASS;
	if (res == QUIC_LATER_JUDGE) {
		*judge = used;
		if (used == own)
			own = NULL;
		else
			again = NULL;
	}
out:
	quic_initial_free(again);
	quic_initial_free(own);
	return res;
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
