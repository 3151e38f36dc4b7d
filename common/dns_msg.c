/* SPDX-License-Identifier: GPL-2.0-or-later */
/* DNS messages: queries read, answers filtered and rebuilt. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bytes.h"
#include "cidr.h"
#include "dns_msg.h"

#define F_QR 0x8000
#define F_OPCODE 0x7800
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080
#define F_AD 0x0020
#define F_CD 0x0010
#define EDNS_DO 0x8000
#define NAME_WIRE_MAX 255
#define POINTER_HOPS 64
#define CHAIN_MAX 16
#define NAMES_MAX 16		/* names remembered for compression */
#define OPT_EDE 15

static bool host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '_';
}

/* A name as read: lower-case text for matching, uncompressed wire form for
 * writing it again. */
struct name {
	char text[DNS_NAME_TEXT];
	uint8_t wire[NAME_WIRE_MAX];
	size_t wlen;
	bool host;
};

/* The name at *off; *off moves past it as it sits in the message. Pointers
 * must point into the message body and strictly before the name's start,
 * then before each other: no loop can be built. */
static int name_read(const uint8_t *m, size_t len, size_t *off,
		     struct name *n)
{
	size_t pos = *off, end = 0, limit = *off, t = 0;
	bool jumped = false, host = true;
	int hops = 0;

	n->wlen = 0;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -1;
		l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return -1;
			target = (size_t)(l & 0x3f) << 8 | m[pos + 1];
			if (!jumped)
				end = pos + 2;
			jumped = true;
			if (target < DNS_HEADER_LEN || target >= limit ||
			    ++hops > POINTER_HOPS)
				return -1;
			limit = pos = target;
			continue;
		}
		if (l & 0xc0)	/* extended label types: obsolete */
			return -1;
		if (n->wlen + 1u + l > NAME_WIRE_MAX || pos + 1u + l > len)
			return -1;
		n->wire[n->wlen++] = l;
		if (l == 0) {
			pos++;
			break;
		}
		if (t)
			n->text[t++] = '.';
		for (size_t i = 0; i < l; i++) {
			uint8_t c = m[pos + 1 + i];

			n->wire[n->wlen++] = c;
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (!host_char(c))
				host = false;
			n->text[t++] = c > 0x20 && c < 0x7f ? (char)c : '?';
		}
		pos += 1u + l;
	}
	n->text[t] = '\0';
	n->host = host && t > 0;
	*off = jumped ? end : pos;
	return 0;
}

/* ---- writing ---- */

struct writer {
	uint8_t *b;
	size_t cap, len;
	bool over;
	struct {
		size_t off;
		const uint8_t *wire;	/* in the output */
		size_t wlen;
	} names[NAMES_MAX];
	size_t nnames;
};

static void w_bytes(struct writer *w, const void *p, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static void w_u16(struct writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, 2);
}

static void w_u32(struct writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };

	w_bytes(w, b, 4);
}

static void w_set16(struct writer *w, size_t off, uint16_t v)
{
	if (!w->over && off + 2 <= w->len) {
		w->b[off] = (uint8_t)(v >> 8);
		w->b[off + 1] = (uint8_t)v;
	}
}

static bool wire_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* A whole name, as a pointer when the same name was written before. */
static void w_name(struct writer *w, const uint8_t *wire, size_t wlen)
{
	size_t start = w->len;

	for (size_t i = 0; i < w->nnames; i++)
		if (w->names[i].wlen == wlen && w->names[i].off < 0x3fff &&
		    wire_equal(w->names[i].wire, wire, wlen))
			return w_u16(w, (uint16_t)(0xc000 | w->names[i].off));
	w_bytes(w, wire, wlen);
	if (!w->over && wlen > 1 && w->nnames < NAMES_MAX) {
		w->names[w->nnames].off = start;
		w->names[w->nnames].wire = w->b + start;
		w->names[w->nnames++].wlen = wlen;
	}
}

static void w_header(struct writer *w, uint16_t id, uint16_t flags,
		     uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
	w_u16(w, id);
	w_u16(w, flags);
	w_u16(w, qd);
	w_u16(w, an);
	w_u16(w, ns);
	w_u16(w, ar);
}

/* ---- queries ---- */

struct rr {
	struct name owner;
	uint16_t type, class;
	uint32_t ttl;
	size_t rdata, rdlen;
};

static int rr_read(const uint8_t *m, size_t len, size_t *off, struct rr *r)
{
	if (name_read(m, len, off, &r->owner) < 0 || len - *off < 10)
		return -1;
	r->type = be16(m + *off);
	r->class = be16(m + *off + 2);
	r->ttl = be32(m + *off + 4);
	r->rdlen = be16(m + *off + 8);
	r->rdata = *off + 10;
	if (r->rdlen > len - r->rdata)
		return -1;
	*off = r->rdata + r->rdlen;
	return 0;
}

enum dns_parse dns_query_parse(const uint8_t *m, size_t len,
			       struct dns_query *q)
{
	size_t off = DNS_HEADER_LEN;
	struct name n;
	uint16_t ar;

	memset(q, 0, sizeof(*q));
	if (len < DNS_HEADER_LEN || len > DNS_MSG_MAX)
		return DNS_DROP;
	q->id = be16(m);
	q->flags = be16(m + 2);
	q->udp_size = DNS_UDP_DEFAULT;
	if (q->flags & F_QR)
		return DNS_DROP;
	if (q->flags & F_OPCODE)
		return DNS_NOTIMP;
	ar = be16(m + 10);
	if (be16(m + 4) != 1 || be16(m + 6) || be16(m + 8) || ar > 4)
		return DNS_FORMERR;
	if (name_read(m, len, &off, &n) < 0 || len - off < 4)
		return DNS_FORMERR;
	memcpy(q->name, n.text, sizeof(q->name));
	q->host = n.host;
	q->qtype = be16(m + off);
	q->qclass = be16(m + off + 2);
	q->qstart = DNS_HEADER_LEN;
	q->qend = off + 4;
	off = q->qend;
	while (ar--) {
		struct rr r;

		if (rr_read(m, len, &off, &r) < 0)
			return DNS_FORMERR;
		if (r.type != DNS_T_OPT)
			continue;
		if (q->edns || r.owner.wlen != 1 || (r.ttl >> 16 & 0xff))
			return DNS_FORMERR;	/* two, named, or version 1+ */
		q->edns = true;
		q->udp_size = r.class < DNS_UDP_DEFAULT ? DNS_UDP_DEFAULT :
			      r.class;
		q->dnssec_ok = r.ttl & EDNS_DO;
	}
	return off == len ? DNS_OK : DNS_FORMERR;
}

static void w_opt(struct writer *w, uint16_t size, uint32_t ttl)
{
	w_bytes(w, "", 1);	/* the root, type, size, ext-rcode/flags */
	w_u16(w, DNS_T_OPT);
	w_u16(w, size);
	w_u32(w, ttl);
}

size_t dns_query_forward(const uint8_t *query, const struct dns_query *q,
			 uint16_t id, uint8_t *out, size_t cap)
{
	struct writer w = { .b = out, .cap = cap };
	uint16_t size = q->udp_size > 4096 ? 4096 : q->udp_size;

	w_header(&w, id, q->flags & (F_RD | F_CD | F_AD), 1, 0, 0,
		 q->edns ? 1 : 0);
	w_bytes(&w, query + q->qstart, q->qend - q->qstart);
	if (q->edns) {
		w_opt(&w, size, q->dnssec_ok ? EDNS_DO : 0);
		w_u16(&w, 0);	/* no options of the client's */
	}
	return w.over ? 0 : w.len;
}

size_t dns_query_build(const char *name, uint16_t qtype, uint16_t id,
		       uint8_t *out, size_t cap)
{
	struct writer w = { .b = out, .cap = cap };
	size_t wire = 1;

	w_header(&w, id, F_RD, 1, 0, 0, 1);
	while (*name) {
		size_t l = strcspn(name, ".");
		uint8_t lb = (uint8_t)l;

		if (l == 0 || l > 63 || (wire += l + 1) > NAME_WIRE_MAX)
			return 0;
		w_bytes(&w, &lb, 1);
		w_bytes(&w, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
	w_bytes(&w, "", 1);
	w_u16(&w, qtype);
	w_u16(&w, 1);		/* IN */
	w_opt(&w, DNS_EDNS_SIZE, 0);
	w_u16(&w, 0);
	return w.over ? 0 : w.len;
}

size_t dns_reply_error(const uint8_t *query, const struct dns_query *q,
		       uint16_t rcode, int ede, const char *text,
		       uint8_t *out, size_t cap)
{
	struct writer w = { .b = out, .cap = cap };
	bool question = q->qend > q->qstart;
	size_t tlen = text ? strlen(text) : 0;

	w_header(&w, q->id, (uint16_t)(F_QR | (q->flags & (F_OPCODE | F_RD |
		 F_CD)) | F_RA | rcode), question ? 1 : 0, 0, 0,
		 q->edns ? 1 : 0);
	if (question)
		w_bytes(&w, query + q->qstart, q->qend - q->qstart);
	if (q->edns) {
		w_opt(&w, DNS_EDNS_SIZE, q->dnssec_ok ? EDNS_DO : 0);
		if (ede >= 0) {
			w_u16(&w, (uint16_t)(4 + 2 + tlen));
			w_u16(&w, OPT_EDE);
			w_u16(&w, (uint16_t)(2 + tlen));
			w_u16(&w, (uint16_t)ede);
			w_bytes(&w, text, tlen);
		} else {
			w_u16(&w, 0);
		}
	}
	return w.over ? 0 : w.len;
}

/* ---- answers ---- */

struct chain {
	char names[CHAIN_MAX][DNS_NAME_TEXT];
	size_t n;
};

static bool chain_has(const struct chain *c, const struct name *n)
{
	if (!n->host)
		return false;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->names[i], n->text))
			return true;
	return false;
}

/* The names the answer's CNAMEs lead to from the name asked, in any
 * record order (each pass can only add). */
static int chain_build(const uint8_t *m, size_t len, size_t an_start,
		       uint16_t an, struct chain *c)
{
	bool grew = true;

	for (int pass = 0; grew && pass < CHAIN_MAX; pass++) {
		size_t off = an_start;

		grew = false;
		for (uint16_t i = 0; i < an; i++) {
			struct rr r;
			struct name t;
			size_t at;

			if (rr_read(m, len, &off, &r) < 0)
				return -1;
			if (r.type != DNS_T_CNAME || !chain_has(c, &r.owner))
				continue;
			at = r.rdata;
			if (name_read(m, len, &at, &t) < 0 ||
			    at != r.rdata + r.rdlen)
				return -1;
			if (t.host && !chain_has(c, &t) && c->n < CHAIN_MAX) {
				memcpy(c->names[c->n++], t.text, sizeof(t.text));
				grew = true;
			}
		}
	}
	return 0;
}

/* a->text += ", TYPE V", as far as it fits (no printf: a row a query) */
static void text_add(struct dns_answer *a, const char *type, const char *v)
{
	size_t used = strlen(a->text);
	const char *part[] = { used ? ", " : "", type, *v ? " " : "", v };

	for (size_t i = 0; i < 4 && used + 1 < sizeof(a->text); i++) {
		size_t n = strlen(part[i]);

		if (n > sizeof(a->text) - 1 - used)
			n = sizeof(a->text) - 1 - used;
		memcpy(a->text + used, part[i], n);
		used += n;
	}
	a->text[used] = 0;
}

static void learn(struct dns_answer *a, const uint8_t *m, const struct rr *r)
{
	char buf[CIDR_TEXT_MAX];
	int family = r->type == DNS_T_A ? AF_INET : AF_INET6;

	if (r->class != 1 || r->rdlen != (family == AF_INET ? 4u : 16u))
		return;
	addr_format(family, m + r->rdata, buf);
	text_add(a, r->type == DNS_T_A ? "A" : "AAAA", buf);
	if (a->naddr == DNS_LEARN_MAX)
		return;
	a->addr[a->naddr].family = family;
	memset(a->addr[a->naddr].addr, 0, 16);
	memcpy(a->addr[a->naddr].addr, m + r->rdata, r->rdlen);
	a->addr[a->naddr++].ttl = r->ttl;
}

/* Names inside rdata (types whose rdata may be compressed, RFC 3597 §4)
 * are written out whole: the offsets they pointed to do not survive. */
static int rdata_names(const uint8_t *m, const struct rr *r,
		       struct writer *w, struct name *first)
{
	size_t at = r->rdata, end = r->rdata + r->rdlen, names = 1, tail = 0;
	struct name n;

	switch (r->type) {
	case DNS_T_CNAME: case DNS_T_NS: case DNS_T_PTR: case DNS_T_DNAME:
		break;
	case DNS_T_MX:
		if (r->rdlen < 2)
			return -1;
		w_bytes(w, m + at, 2);
		at += 2;
		break;
	case DNS_T_SOA:
		names = 2;
		tail = 20;
		break;
	default:
		w_bytes(w, m + at, r->rdlen);
		return 0;
	}
	for (size_t i = 0; i < names; i++) {
		if (name_read(m, end, &at, &n) < 0)
			return -1;
		if (i == 0)
			*first = n;
		w_name(w, n.wire, n.wlen);
	}
	if (end - at != tail)
		return -1;
	w_bytes(w, m + at, tail);
	return 0;
}

/* The upstream's OPT, with its Extended DNS Errors only (no cookies or
 * padding meant for us). */
static int opt_write(const uint8_t *m, const struct rr *r, struct writer *w)
{
	size_t at = r->rdata, end = r->rdata + r->rdlen, lenpos;

	w_opt(w, DNS_EDNS_SIZE, r->ttl);
	lenpos = w->len;
	w_u16(w, 0);
	while (at < end) {
		uint16_t code, olen;

		if (end - at < 4)
			return -1;
		code = be16(m + at);
		olen = be16(m + at + 2);
		if (olen > end - at - 4)
			return -1;
		if (code == OPT_EDE)
			w_bytes(w, m + at, 4u + olen);
		at += 4u + olen;
	}
	w_set16(w, lenpos, (uint16_t)(w->len - lenpos - 2));
	return 0;
}

static int rr_write(const uint8_t *m, const struct rr *r,
		    struct writer *w, bool answer, struct dns_answer *a)
{
	struct name target;
	size_t lenpos;

	w_name(w, r->owner.wire, r->owner.wlen);
	w_u16(w, r->type);
	w_u16(w, r->class);
	w_u32(w, r->ttl);
	lenpos = w->len;
	w_u16(w, 0);
	if (rdata_names(m, r, w, &target) < 0)
		return -1;
	w_set16(w, lenpos, (uint16_t)(w->len - lenpos - 2));
	if (!answer)
		return 0;
	if (r->ttl < a->min_ttl)
		a->min_ttl = r->ttl;
	if (r->type == DNS_T_A || r->type == DNS_T_AAAA) {
		learn(a, m, r);
	} else {
		char tb[12];

		text_add(a, dns_type_name(r->type, tb),
			 r->type == DNS_T_CNAME ? target.text : "");
	}
	return 0;
}

struct section_counts {
	uint16_t n[3];
};

static int sections_write(const uint8_t *m, size_t len, size_t off,
			  const uint16_t count[3], const struct chain *c,
			  struct writer *w, struct dns_answer *a,
			  struct section_counts *kept)
{
	bool opt_seen = false;

	for (int s = 0; s < 3; s++) {
		for (uint16_t i = 0; i < count[s]; i++) {
			struct rr r;

			if (rr_read(m, len, &off, &r) < 0)
				return -1;
			if (s == 2 && r.type == DNS_T_OPT) {
				if (opt_seen || r.owner.wlen != 1)
					return -1;
				opt_seen = true;
				if (opt_write(m, &r, w) < 0)
					return -1;
			} else if (chain_has(c, &r.owner)) {
				if (rr_write(m, &r, w, s == 0, a) < 0)
					return -1;
			} else {
				continue;
			}
			kept->n[s]++;
		}
	}
	return off == len ? 0 : -1;
}

size_t dns_answer_filter(const uint8_t *m, size_t len, uint16_t id,
			 const uint8_t *query, const struct dns_query *q,
			 size_t limit, uint8_t *out, size_t cap,
			 struct dns_answer *a)
{
	struct writer w = { .b = out, .cap = cap };
	struct chain c;
	struct section_counts kept = { { 0 } };
	uint16_t flags, count[3];
	size_t off = DNS_HEADER_LEN, qlen = q->qend - q->qstart;
	struct name n;

	memset(a, 0, sizeof(*a));
	a->min_ttl = UINT32_MAX;
	if (len < DNS_HEADER_LEN || be16(m) != id)
		return 0;
	flags = be16(m + 2);
	if (!(flags & F_QR) || (flags & F_OPCODE) || be16(m + 4) != 1)
		return 0;
	for (int s = 0; s < 3; s++)
		count[s] = be16(m + 6 + 2 * s);
	if (name_read(m, len, &off, &n) < 0 || len - off < 4 ||
	    strcmp(n.text, q->name) || be16(m + off) != q->qtype ||
	    be16(m + off + 2) != q->qclass)
		return 0;
	off += 4;
	memcpy(c.names[0], q->name, sizeof(c.names[0]));
	c.n = 1;
	if (chain_build(m, len, off, count[0], &c) < 0)
		return 0;
	a->rcode = flags & 0xf;
	a->truncated = flags & F_TC;
	w_header(&w, q->id, flags, 1, 0, 0, 0);
	w_bytes(&w, query + q->qstart, qlen);
	/* the question's name is at 12, never compressed: answers point to
	 * it */
	w.names[0].off = DNS_HEADER_LEN;
	w.names[0].wire = out + DNS_HEADER_LEN;
	w.names[0].wlen = qlen - 4;
	w.nnames = !w.over;
	if (sections_write(m, len, off, count, &c, &w, a, &kept) < 0)
		return 0;
	if (a->min_ttl == UINT32_MAX)
		a->min_ttl = 0;
	if (w.over || (limit && w.len > limit)) {
		/* too big for the client: header and question, TC set */
		w = (struct writer){ .b = out, .cap = cap };
		w_header(&w, q->id, flags | F_TC, 1, 0, 0, 0);
		w_bytes(&w, query + q->qstart, qlen);
		a->truncated = true;
		return w.over ? 0 : w.len;
	}
	for (int s = 0; s < 3; s++)
		w_set16(&w, 6 + 2 * (size_t)s, kept.n[s]);
	return w.len;
}

long dns_tcp_frame(const uint8_t *buf, size_t have)
{
	uint16_t n;

	if (have < 2)
		return 0;
	n = be16(buf);
	if (n == 0)
		return -1;
	return have < 2u + n ? 0 : 2L + n;
}

const char *dns_type_name(uint16_t type, char buf[12])
{
	static const struct {
		uint16_t t;
		const char *n;
	} names[] = {
		{ DNS_T_A, "A" }, { DNS_T_NS, "NS" }, { DNS_T_CNAME, "CNAME" },
		{ DNS_T_SOA, "SOA" }, { DNS_T_PTR, "PTR" }, { DNS_T_MX, "MX" },
		{ DNS_T_TXT, "TXT" }, { DNS_T_AAAA, "AAAA" },
		{ DNS_T_SRV, "SRV" }, { DNS_T_DNAME, "DNAME" },
		{ DNS_T_OPT, "OPT" }, { 64, "SVCB" }, { DNS_T_HTTPS, "HTTPS" },
		{ DNS_T_ANY, "ANY" }, { 257, "CAA" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == type)
			return names[i].n;
	snprintf(buf, 12, "TYPE%u", (unsigned)type);
	return buf;
}

const char *dns_rcode_name(uint16_t rcode)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP", "REFUSED" };

	return rcode < 6 ? names[rcode] : "RCODE";
}
