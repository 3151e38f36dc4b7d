/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_msg.h"
#include "test.h"

/* A message written byte by byte. */
struct msg {
	uint8_t b[2048];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* "a.b" as labels, without the root when `open' (a pointer follows). */
static void put_name(struct msg *m, const char *name, bool open)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, name, l);
		name += l + (name[l] == '.');
	}
	if (!open)
		put(m, "", 1);
}

static void header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd,
		   uint16_t an, uint16_t ns, uint16_t ar)
{
	m->n = 0;
	put16(m, id);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, ns);
	put16(m, ar);
}

static void rr_head(struct msg *m, uint16_t type, uint32_t ttl, uint16_t len)
{
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, len);
}

static void query(struct msg *m, const char *name, uint16_t type, bool edns)
{
	header(m, 0x1234, 0x0100, 1, 0, 0, edns ? 1 : 0);
	put_name(m, name, false);
	put16(m, type);
	put16(m, 1);
	if (edns) {
		put(m, "", 1);
		put16(m, DNS_T_OPT);
		put16(m, 4096);
		put32(m, 0x8000);	/* DO */
		put16(m, 0);
	}
}

TEST(test_dns_query_parse)
{
	struct dns_query q;
	struct msg m;

	query(&m, "Allowed.TEST", DNS_T_AAAA, true);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK);
	CHECK(!strcmp(q.name, "allowed.test") && q.host);
	CHECK(q.qtype == DNS_T_AAAA && q.qclass == 1 && q.id == 0x1234);
	CHECK(q.edns && q.dnssec_ok && q.udp_size == 4096);
	CHECK(q.qstart == 12 && q.qend == 12 + 14 + 4);
	query(&m, "_dmarc.x-y.test", DNS_T_TXT, false);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK);
	CHECK(q.host && !q.edns && q.udp_size == 512);
	/* a dot inside a label, or any byte a host name cannot have */
	query(&m, "a.b", DNS_T_A, false);
	m.b[13] = '.';
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK && !q.host);
	query(&m, "a\x01", DNS_T_A, false);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK && !q.host);
	query(&m, "", DNS_T_NS, false);	/* the root */
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK && !q.host);
}

TEST(test_dns_query_refused_shapes)
{
	struct dns_query q;
	struct msg m;

	query(&m, "a.test", DNS_T_A, false);
	CHECK(dns_query_parse(m.b, 11, &q) == DNS_DROP);
	m.b[2] |= 0x80;			/* a response */
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_DROP);
	query(&m, "a.test", DNS_T_A, false);
	m.b[2] |= 0x28;			/* opcode 5, UPDATE */
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_NOTIMP);
	query(&m, "a.test", DNS_T_A, false);
	m.b[5] = 2;			/* two questions */
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	query(&m, "a.test", DNS_T_A, false);
	put(&m, "x", 1);		/* trailing bytes */
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	query(&m, "a.test", DNS_T_A, false);
	CHECK(dns_query_parse(m.b, m.n - 1, &q) == DNS_FORMERR);
	/* an OPT of version 1, and two OPTs */
	query(&m, "a.test", DNS_T_A, true);
	m.b[m.n - 5] = 1;
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
}

TEST(test_dns_compression_loops_and_stray_pointers)
{
	struct dns_query q;
	struct msg m;

	/* the question's name is a pointer to itself */
	header(&m, 1, 0, 1, 0, 0, 0);
	put16(&m, 0xc00c);
	put16(&m, 1);
	put16(&m, 1);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	/* into the header, forwards, out of the message */
	m.b[13] = 0x02;
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	m.b[13] = 0x10;
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	m.b[12] = 0xff;
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	/* a label running past the end; a 64-byte label type */
	header(&m, 1, 0, 1, 0, 0, 0);
	put(&m, "\x05" "ab", 3);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
	m.b[12] = 0x40;
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_FORMERR);
}

/* The OPT record of a message, and its first option's code. */
static const uint8_t *find_opt(const uint8_t *b, size_t n)
{
	for (size_t i = 12; i + 11 <= n; i++)
		if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == DNS_T_OPT)
			return b + i;
	return NULL;
}

TEST(test_dns_blocked_answer_carries_ede_15)
{
	uint8_t out[512];
	struct dns_query q;
	const uint8_t *opt;
	struct msg m;
	size_t n;

	query(&m, "exfil.test", DNS_T_A, true);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK);
	n = dns_reply_error(m.b, &q, DNS_R_NXDOMAIN, DNS_EDE_BLOCKED,
			    "blocked", out, sizeof(out));
	CHECK(n > 12);
	CHECK(out[0] == 0x12 && out[1] == 0x34);
	CHECK((out[2] & 0x80) && (out[3] & 0x0f) == DNS_R_NXDOMAIN);
	CHECK(out[5] == 1 && out[7] == 0 && out[11] == 1);
	CHECK(!memcmp(out + 12, m.b + 12, q.qend - 12));
	CHECK((opt = find_opt(out, n)) != NULL);
	CHECK(opt[11] == 0 && opt[12] == 15);		/* option EDE */
	CHECK(opt[15] == 0 && opt[16] == 15);		/* Blocked */
	CHECK(!memcmp(opt + 17, "blocked", 7) && opt + 24 == out + n);
	/* no OPT in, no OPT out (RFC 6891) */
	query(&m, "exfil.test", DNS_T_A, false);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK);
	n = dns_reply_error(m.b, &q, DNS_R_NXDOMAIN, DNS_EDE_BLOCKED,
			    "blocked", out, sizeof(out));
	CHECK(n == q.qend && out[11] == 0);
	CHECK(dns_reply_error(m.b, &q, DNS_R_NXDOMAIN, -1, NULL, out, 20) == 0);
}

/* An upstream's answer to allowed.test A: a CNAME chain (compressed), an
 * unrelated record, an authority and glue for other names, an OPT with a
 * cookie and an EDE. */
static void upstream_answer(struct msg *m, uint16_t id)
{
	size_t edge, cdn;

	header(m, id, 0x8180, 1, 4, 1, 2);
	put_name(m, "allowed.test", false);	/* at 12, "test" at 20 */
	put16(m, DNS_T_A);
	put16(m, 1);
	put16(m, 0xc00c);
	rr_head(m, DNS_T_CNAME, 300, 7);
	edge = m->n;
	put_name(m, "edge", true);		/* edge.test */
	put16(m, 0xc014);
	put16(m, (uint16_t)(0xc000 | edge));
	rr_head(m, DNS_T_CNAME, 60, 6);
	cdn = m->n;
	put_name(m, "cdn", true);		/* cdn.test */
	put16(m, 0xc014);
	put16(m, (uint16_t)(0xc000 | cdn));
	rr_head(m, DNS_T_A, 30, 4);
	put(m, "\xc6\x12\x02\x02", 4);		/* 198.18.2.2 */
	put_name(m, "other.test", false);
	rr_head(m, DNS_T_A, 30, 4);
	put(m, "\x01\x02\x03\x04", 4);
	put_name(m, "test", false);		/* authority: another name */
	rr_head(m, DNS_T_NS, 30, 9);
	put_name(m, "ns.evil", false);
	put_name(m, "ns.evil", false);		/* glue */
	rr_head(m, DNS_T_A, 30, 4);
	put(m, "\x05\x06\x07\x08", 4);
	put(m, "", 1);				/* OPT */
	put16(m, DNS_T_OPT);
	put16(m, 1232);
	put32(m, 0);
	put16(m, 12 + 6);
	put16(m, 10);				/* a cookie */
	put16(m, 8);
	put(m, "abcdefgh", 8);
	put16(m, 15);				/* EDE 3, no text */
	put16(m, 2);
	put16(m, 3);
}

TEST(test_dns_answer_keeps_the_chain_only)
{
	uint8_t out[2048], again[2048];
	struct dns_answer a, b;
	struct dns_query q;
	struct msg qm, am;
	size_t n, n2;

	query(&qm, "ALLOWED.test", DNS_T_A, true);
	CHECK(dns_query_parse(qm.b, qm.n, &q) == DNS_OK);
	upstream_answer(&am, 0xbeef);
	n = dns_answer_filter(am.b, am.n, 0xbeef, qm.b, &q, 0, out,
			      sizeof(out), &a);
	CHECK(n > 0);
	CHECK(out[0] == 0x12 && out[1] == 0x34);	/* the client's id */
	CHECK(!memcmp(out + 12, qm.b + 12, q.qend - 12));	/* its case */
	CHECK(out[7] == 3 && out[9] == 0 && out[11] == 1);
	CHECK(a.rcode == DNS_R_NOERROR && !a.truncated);
	CHECK(a.naddr == 1 && a.addr[0].family == AF_INET);
	CHECK(!memcmp(a.addr[0].addr, "\xc6\x12\x02\x02", 4));
	CHECK(a.addr[0].ttl == 30 && a.min_ttl == 30);
	CHECK(!strcmp(a.text, "CNAME edge.test, CNAME cdn.test, A 198.18.2.2"));
	CHECK(!memmem(out, n, "other", 5) && !memmem(out, n, "evil", 4));
	CHECK(!memmem(out, n, "abcdefgh", 8));	/* the cookie */
	/* what we wrote reads back the same: its pointers are sound */
	n2 = dns_answer_filter(out, n, 0x1234, qm.b, &q, 0, again,
			       sizeof(again), &b);
	CHECK(n2 == n && !memcmp(again, out, n));
	CHECK(!strcmp(a.text, b.text));
	/* over the client's UDP size: header and question, TC */
	n = dns_answer_filter(am.b, am.n, 0xbeef, qm.b, &q, 40, out,
			      sizeof(out), &a);
	CHECK(n == q.qend && (out[2] & 0x02) && out[7] == 0 && a.truncated);
}

TEST(test_dns_answer_to_another_question_is_refused)
{
	uint8_t out[2048];
	struct dns_answer a;
	struct dns_query q;
	struct msg qm, am;

	query(&qm, "allowed.test", DNS_T_A, false);
	CHECK(dns_query_parse(qm.b, qm.n, &q) == DNS_OK);
	upstream_answer(&am, 7);
	CHECK(dns_answer_filter(am.b, am.n, 8, qm.b, &q, 0, out, sizeof(out),
				&a) == 0);		/* the id */
	query(&qm, "allowed.test", DNS_T_AAAA, false);
	CHECK(dns_query_parse(qm.b, qm.n, &q) == DNS_OK);
	CHECK(dns_answer_filter(am.b, am.n, 7, qm.b, &q, 0, out, sizeof(out),
				&a) == 0);		/* the type */
	query(&qm, "allowed.tesu", DNS_T_A, false);
	CHECK(dns_query_parse(qm.b, qm.n, &q) == DNS_OK);
	CHECK(dns_answer_filter(am.b, am.n, 7, qm.b, &q, 0, out, sizeof(out),
				&a) == 0);		/* the name */
	query(&qm, "allowed.test", DNS_T_A, false);
	CHECK(dns_query_parse(qm.b, qm.n, &q) == DNS_OK);
	CHECK(dns_answer_filter(am.b, am.n - 1, 7, qm.b, &q, 0, out,
				sizeof(out), &a) == 0);	/* cut short */
	am.b[2] &= 0x7f;				/* not a response */
	CHECK(dns_answer_filter(am.b, am.n, 7, qm.b, &q, 0, out, sizeof(out),
				&a) == 0);
}

TEST(test_dns_queries_built_and_forwarded)
{
	uint8_t out[512];
	struct dns_query q, f;
	struct msg m;
	size_t n;

	n = dns_query_build("api.example.test", DNS_T_AAAA, 99, out,
			    sizeof(out));
	CHECK(n > 0 && dns_query_parse(out, n, &q) == DNS_OK);
	CHECK(!strcmp(q.name, "api.example.test") && q.qtype == DNS_T_AAAA);
	CHECK(q.id == 99 && q.edns && q.udp_size == DNS_EDNS_SIZE);
	CHECK(dns_query_build("a..b", DNS_T_A, 1, out, sizeof(out)) == 0);
	CHECK(dns_query_build("a.test", DNS_T_A, 1, out, 10) == 0);
	/* the client's options are not passed on */
	query(&m, "a.test", DNS_T_A, true);
	m.b[m.n - 1] = 4;
	put16(&m, 10);
	put16(&m, 0);
	CHECK(dns_query_parse(m.b, m.n, &q) == DNS_OK);
	n = dns_query_forward(m.b, &q, 4321, out, sizeof(out));
	CHECK(n == m.n - 4 && dns_query_parse(out, n, &f) == DNS_OK);
	CHECK(f.id == 4321 && f.edns && f.dnssec_ok && f.flags == 0x0100);
}

TEST(test_dns_tcp_framing)
{
	const uint8_t two[] = { 0, 3, 'a', 'b', 'c', 0, 1 };

	CHECK(dns_tcp_frame(two, 0) == 0 && dns_tcp_frame(two, 1) == 0);
	CHECK(dns_tcp_frame(two, 4) == 0 && dns_tcp_frame(two, 5) == 5);
	CHECK(dns_tcp_frame(two, 7) == 5);
	CHECK(dns_tcp_frame((const uint8_t *)"\0\0", 2) == -1);
}
