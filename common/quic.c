/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "quic.h"
#include "reasm.h"
#include "xalloc.h"

struct quic_initial {
	bool keyed;		/* a packet decrypted: dcid and scid are its */
	bool bad;		/* a decrypted packet broke the frame grammar */
	bool ch_done;		/* ch is whole */
	unsigned datagrams;
	uint32_t version;
	struct quic_keys k;
	uint8_t dcid[QUIC_CID_MAX], scid[QUIC_CID_MAX];
	size_t dcid_len, scid_len;
	struct reasm crypto;	/* CRYPTO stream, offset 0 on (prior_len on) */
	struct client_hello ch;
	enum ch_status ch_status;
	/* the connection the flow carries: the Destination Connection ID
	 * of its first long header */
	bool cid_seen;
	uint8_t cid[QUIC_CID_MAX];
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
	uint8_t odcid[QUIC_CID_MAX], scid[QUIC_CID_MAX];
	size_t odcid_len, scid_len, hello_len;
	uint8_t hello[];	/* its ClientHello's CRYPTO bytes, from 0 */
};

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

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	return quic_varint(p, end, v);
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

/* The keys, from the first packet's Destination Connection ID. */
static bool key(struct quic_initial *q, const struct quic_lpkt *lp)
{
	if (q->keyed)
		return true;
	if (!quic_derive_keys(q->version, false, lp->dcid, lp->dl, &q->k))
		return false;
	memcpy(q->dcid, lp->dcid, lp->dl);
	q->dcid_len = lp->dl;
	memcpy(q->scid, lp->scid, lp->sl);
	q->scid_len = lp->sl;
	return true;
}

/* One Initial packet of q's connection: decrypted under its keys, its
 * frames read; false when it does not open under them. */
static bool packet(struct quic_initial *q, const uint8_t *pkt,
		   const struct quic_lpkt *lp)
{
	uint8_t *plain;
	size_t n;

	if (lp->version != q->version || !key(q, lp) ||
	    !(plain = quic_open_packet(&q->k, pkt, lp, &n)))
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
	struct quic_lpkt lp;
	size_t off = 0, n;
	uint8_t *plain;

	while (quic_lpkt_next(d, len, &off, &lp) > 0) {
		if (lp.type != QUIC_LT_INITIAL)
			continue;
		if (!q->keyed && !q->version)
			q->version = lp.version;
		if (lp.version != q->version || !key(q, &lp))
			return false;
		plain = quic_open_packet(&q->k, d + off - lp.total, &lp, &n);
		if (!plain)
			return false;
		free(plain);
	}
	return true;
}

/* The datagram's Initial packets read into q. */
static void read_initials(struct quic_initial *q, const uint8_t *d,
			  size_t len)
{
	struct quic_lpkt lp;
	size_t off = 0;

	while (quic_lpkt_next(d, len, &off, &lp) > 0)
		if (lp.type == QUIC_LT_INITIAL)
			packet(q, d + off - lp.total, &lp);
}

/* A datagram of the connection q reads: every long header its first
 * one's Destination Connection ID, every Initial opening under its
 * keys. */
static bool ours(struct quic_initial *q, const uint8_t *d, size_t len)
{
	struct quic_lpkt first;
	int n = quic_lpkt_all(d, len, &first, NULL);

	if (n < 0 || (n > 0 && q->cid_seen &&
		      !quic_same_cid(first.dcid, first.dl, q->cid, q->cid_len)))
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
	if (!quic_derive_keys(version, false, c->odcid, c->odcid_len, &q->k)) {
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
	struct quic_lpkt first, lp;
	size_t off = 0, initials;

	*judge = NULL;
	if (!len || !(dgram[0] & 0x80))
		return QUIC_LATER_PASS;	/* a short header opens nothing */
	if (quic_lpkt_all(dgram, len, &first, &initials) < 0)
		return QUIC_LATER_UNREAD;
	if (!initials)
		return QUIC_LATER_PASS;	/* 0-RTT, Handshake: they open none */
	if (c && !(again = again_new(c, first.version)))
		return QUIC_LATER_UNREAD;
	own = quic_initial_new();
	own->version = first.version;
	while (quic_lpkt_next(dgram, len, &off, &lp) > 0) {
		const uint8_t *pkt = dgram + off - lp.total;
		struct quic_initial *q;

		if (lp.type != QUIC_LT_INITIAL)
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

/* CONNECTION_CLOSE (CONNECTION_REFUSED, `reason') in the server's
 * Initial to the client whose first Initial had these version and
 * connection IDs: ours to it has its Source Connection ID as Destination,
 * and as Source the Destination it chose, its keys' too. */
static size_t refusal(uint32_t version, const uint8_t *dcid, size_t dl,
		      const uint8_t *scid, size_t sl, const char *reason,
		      uint8_t *out, size_t cap)
{
	uint8_t f[128];
	size_t n = 0, rl = strlen(reason);

	if (rl > 100)
		rl = 100;
	f[n++] = 0x1c;		/* CONNECTION_CLOSE, transport */
	f[n++] = 0x02;		/* CONNECTION_REFUSED */
	f[n++] = 0x00;		/* no frame type */
	f[n++] = (uint8_t)rl;
	memcpy(f + n, reason, rl);
	n += rl;
	return quic_initial_seal(version, true, dcid, dl, scid, sl, dcid, dl,
				 0, f, n, out, cap);
}

size_t quic_refusal(const struct quic_initial *q, const char *reason,
		    uint8_t *out, size_t cap)
{
	if (!q->keyed)
		return 0;
	return refusal(q->version, q->dcid, q->dcid_len, q->scid, q->scid_len,
		       reason, out, cap);
}

size_t quic_refusal_header(const uint8_t *dgram, size_t len,
			   const char *reason, uint8_t *out, size_t cap)
{
	struct quic_lpkt lp;
	size_t off = 0;

	if (quic_lpkt_next(dgram, len, &off, &lp) <= 0 ||
	    lp.type != QUIC_LT_INITIAL)
		return 0;
	return refusal(lp.version, lp.dcid, lp.dl, lp.scid, lp.sl, reason,
		       out, cap);
}
