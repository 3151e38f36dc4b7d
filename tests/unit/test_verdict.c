/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verdict path driven by crafted packet sequences, one per way around
 * it that a review found, through a fake queue that checks that every
 * packet gets exactly one verdict and that none is let through before its
 * flow's verdict. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conns.h"
#include "flow.h"
#include "flow_judge.h"
#include "marks.h"
#include "quic.h"
#include "sandbox.h"
#include "test.h"
#include "verdict.h"

#define SEC 1000000000ull

/* ---- the fake queue ---- */

struct given {
	int verdict;		/* -1: none yet */
	enum mark_state state;
	size_t len;		/* of a replacement packet, 0 if none */
};

static struct given given[512];
static bool twice;		/* a packet had a second verdict */
static int cuts;
static struct marks m;
static uint32_t next_id = 1;
static uint16_t client_port = 40000;
static uint32_t pkt_entry;	/* the conntrack id queued packets carry */

static void fake_verdict(uint16_t queue, uint32_t id, int verdict,
			 int64_t mark, const uint8_t *pkt, size_t len)
{
	(void)queue;
	(void)pkt;
	if (id >= 512 || given[id].verdict != -1) {
		twice = true;
		return;
	}
	given[id].verdict = verdict;
	given[id].state = mark < 0 ? ST_NONE :
			  (enum mark_state)(((uint32_t)mark & m.state) >>
					    m.shift);
	given[id].len = pkt ? len : 0;
}

static void fake_cut(const struct flow_key *k)
{
	(void)k;
	cuts++;
}

static int restarted;
static int restart_err;		/* what the fake restart answers */

static int reopened;

static int forgotten;

static void fake_forget(const struct flow_key *k)
{
	(void)k;
	forgotten++;
}

static int fake_restart(const struct flow_key *k)
{
	(void)k;
	restarted++;
	return restart_err;
}

static int fake_reopen(const struct flow_key *k, uint32_t mark)
{
	(void)k;
	(void)mark;
	reopened++;
	return 0;
}

static int entry = ST_JUDGED;	/* the entry's ct mark state */

static int fake_entry_state(const struct flow_key *k)
{
	(void)k;
	return entry;
}

static const struct verdict_io fake = { fake_verdict, fake_cut,
					fake_restart, fake_forget,
					fake_reopen, fake_entry_state };

/* One sandbox (id 1) allowing allowed.test only. */
static void setup(void)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	char err[128];

	memset(given, 0xff, sizeof(given));
	twice = false;
	cuts = 0;
	marks_init(&m, 0x0fff0000);
	sandbox_init(16);
	sb->id = 1;
	strcpy(sb->name, "sb1");
	sb->policy = policy_new(MODE_USER_DEFINED);
	policy_add_rule(sb->policy, LIST_ALLOW, "allowed.test", err,
			sizeof(err));
	sandbox_insert(sb);
	conns_init(64);
	flow_judge_configure(false, false);
	verdict_configure(false);
	verdict_init(&m);
	verdict_set_io(&fake);
}

static void teardown(void)
{
	verdict_release_all();
	verdict_set_io(NULL);
	conns_fini();
	sandbox_fini();
}

/* ---- packets: 198.18.1.2:40000 <-> 198.18.2.2:443 ---- */

#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

/* Queue one packet; returns its id. Server packets (`reply') carry the
 * state of a judged flow. */
static uint32_t queue_pkt(bool reply, enum mark_state st, uint32_t seq,
		     uint32_t ack, uint8_t flags, const uint8_t *data,
		     size_t len)
{
	static uint8_t pkt[20 + 20 + 20000];

	if (next_id >= 512)	/* ids of earlier tests' packets come back */
		next_id = 1;
	uint8_t cli[4] = { 198, 18, 1, 2 }, srv[4] = { 198, 18, 2, 2 };
	uint16_t ports[2] = { htons(client_port), htons(443) };
	uint32_t id = next_id++;
	struct queued q = { .id = id, .data = pkt, .len = 40 + len,
			    .mark = mark_id(&m, 1) | mark_state(&m, st),
			    .entry = pkt_entry };

	memset(pkt, 0, 40);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)((40 + len) >> 8);
	pkt[3] = (uint8_t)(40 + len);
	pkt[8] = 64;
	pkt[9] = IPPROTO_TCP;
	memcpy(pkt + 12, reply ? srv : cli, 4);
	memcpy(pkt + 16, reply ? cli : srv, 4);
	memcpy(pkt + 20, &ports[reply], 2);
	memcpy(pkt + 22, &ports[!reply], 2);
	seq = htonl(seq);
	ack = htonl(ack);
	memcpy(pkt + 24, &seq, 4);
	memcpy(pkt + 28, &ack, 4);
	pkt[32] = 5 << 4;
	pkt[33] = flags;
	if (len)
		memcpy(pkt + 40, data, len);
	given[id].verdict = -1;
	verdict_packet(&q, NULL);
	return id;
}

static uint32_t client(enum mark_state st, uint32_t seq, const uint8_t *d,
		       size_t n)
{
	return queue_pkt(false, st, seq, 1, ACK | PSH, d, n);
}

static uint32_t server_ack(uint32_t ack)
{
	return queue_pkt(true, ST_PEND_JUDGED, 7000, ack, ACK, NULL, 0);
}

static bool undecided(uint32_t id)
{
	return given[id].verdict == -1;
}

static bool got(uint32_t id, int verdict, enum mark_state st)
{
	return given[id].verdict == verdict &&
	       (verdict == NF_DROP || given[id].state == st);
}

/* A ClientHello in records of rec bytes, as long as a post-quantum
 * one (its server_name first, 1500 bytes of padding after it). */
static size_t hello(const char *sni, size_t rec, uint8_t *out)
{
	struct ch_spec s = { .sni = sni, .tls13 = true, .pad = 1500 };

	return ch_build(&s, rec, out, 16384);
}

#define ISN 1000u
#define BASE (ISN + 1)

TEST(test_verdict_allowed_hello_waits_for_the_servers_ack)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 16384, h);
	uint32_t a, more, ack;

	setup();
	a = client(ST_PEND_FIRST, BASE, h, n);
	CHECK(got(a, NF_ACCEPT, ST_JUDGED));	/* judged, not committed */
	/* past the judged bytes: held until the server acknowledges them */
	more = client(ST_PEND_JUDGED, BASE + (uint32_t)n, h, 10);
	CHECK(undecided(more));
	ack = server_ack(BASE + 5);		/* not all of them */
	CHECK(got(ack, NF_ACCEPT, ST_NONE) && undecided(more));
	/* a SYN-ACK that seems to acknowledge them: another connection's */
	ack = queue_pkt(true, ST_PEND_JUDGED, 9000, BASE + (uint32_t)n,
			SYN | ACK, NULL, 0);
	CHECK(got(ack, NF_ACCEPT, ST_NONE) && undecided(more));
	ack = server_ack(BASE + (uint32_t)n);
	CHECK(got(ack, NF_ACCEPT, ST_ALLOW));	/* committed */
	CHECK(got(more, NF_ACCEPT, ST_ALLOW));
	CHECK(!twice);
	teardown();
}

/* A judged flow's segment from an entry conntrack began anew on the same
 * ports (the client's reset, then a SYN): another connection, whose
 * server's ACK must not commit the judged one; one of its own entry,
 * queued before the mark said "judged", is the flow's. */
TEST(test_verdict_a_new_entry_of_the_ports_is_not_the_judged_flow)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 16384, h);
	uint32_t a, early, byte;

	setup();
	a = client(ST_PEND_FIRST, BASE, h, n);
	CHECK(got(a, NF_ACCEPT, ST_JUDGED));
	early = client(ST_PEND, BASE, h, 10);	/* in flight: the flow's */
	CHECK(got(early, NF_ACCEPT, ST_JUDGED));
	entry = ST_NONE;
	byte = client(ST_PEND, BASE - 1, h, 1);
	entry = ST_JUDGED;
	CHECK(!got(byte, NF_ACCEPT, ST_JUDGED));
	/* the new connection's server acknowledges the judged bytes' end */
	CHECK(!got(server_ack(BASE + (uint32_t)n), NF_ACCEPT, ST_ALLOW));
	CHECK(!twice);
	teardown();
}

/* A hello held for one conntrack entry: a segment of the same ports that
 * came by another (conntrack begins a new entry on a SYN after the
 * client's reset) never completes it, nor does that entry's server's
 * ACK commit a judgement of the first. */
TEST(test_verdict_another_entrys_segment_joins_no_held_hello)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 1000, h);
	uint32_t first, rest;

	setup();
	pkt_entry = 1;
	first = client(ST_PEND_FIRST, BASE, h, 20);	/* no name yet */
	CHECK(undecided(first));
	pkt_entry = 2;
	rest = client(ST_PEND, BASE + 19, h + 19, n - 19);
	CHECK(!got(rest, NF_ACCEPT, ST_JUDGED));
	CHECK(!got(first, NF_ACCEPT, ST_JUDGED));
	pkt_entry = 1;
	first = client(ST_PEND_FIRST, BASE, h, n);	/* judged on entry 1 */
	CHECK(got(first, NF_ACCEPT, ST_JUDGED));
	pkt_entry = 2;
	CHECK(!got(server_ack(BASE + (uint32_t)n), NF_ACCEPT, ST_ALLOW));
	pkt_entry = 0;
	CHECK(!twice);
	teardown();
}

/* The client's reset on a flow whose hello is held ends it there (it
 * goes on itself): a segment of the same ports after it, of the next
 * entry conntrack begins, even with the same id (its memory came back),
 * never completes the old hello. */
TEST(test_verdict_a_clients_reset_ends_the_held_flow)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 1000, h);
	uint32_t first, rst, rest;

	setup();
	pkt_entry = 7;
	first = client(ST_PEND_FIRST, BASE, h, 20);	/* no name yet */
	CHECK(undecided(first));
	rst = queue_pkt(false, ST_PEND, BASE + 20, 1, RST, NULL, 0);
	CHECK(got(rst, NF_ACCEPT, ST_NONE));
	CHECK(!undecided(first) && !got(first, NF_ACCEPT, ST_JUDGED));
	rest = client(ST_PEND, BASE + 19, h + 19, n - 19);
	CHECK(!got(rest, NF_ACCEPT, ST_JUDGED));
	pkt_entry = 0;
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_insertion_never_judged_bytes_cut_the_flow)
{
	uint8_t h[16384], other[16384];
	size_t n = hello("allowed.test", 16384, h);
	uint32_t a, again, fake_bytes;

	setup();
	a = client(ST_PEND_FIRST, BASE, h, n);
	CHECK(got(a, NF_ACCEPT, ST_JUDGED));
	/* the server dropped it (PAWS): it acknowledges nothing */
	CHECK(got(server_ack(BASE), NF_ACCEPT, ST_NONE));
	again = client(ST_PEND_JUDGED, BASE, h, n);	/* the same bytes */
	CHECK(got(again, NF_ACCEPT, ST_JUDGED));
	memset(other, 'X', n);
	fake_bytes = client(ST_PEND_JUDGED, BASE, other, n);
	CHECK(got(fake_bytes, NF_ACCEPT, ST_DENY) && cuts == 1);
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_judged_flow_never_acknowledged_is_cut)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 16384, h);
	uint32_t more;

	setup();
	client(ST_PEND_FIRST, BASE, h, n);
	more = client(ST_PEND_JUDGED, BASE + (uint32_t)n, h, 10);
	verdict_tick(now_ns() + 11 * SEC);
	CHECK(cuts == 1 && got(more, NF_DROP, ST_NONE));
	/* and what still comes of it is refused */
	CHECK(got(server_ack(BASE + (uint32_t)n), NF_ACCEPT, ST_DENY));
	CHECK(!twice);
	teardown();
}

/* A tick stops once every undecided flow was seen and the rest are
 * decided and young: a hello held behind and among decided flows still
 * times out, and the decided ones go after their second. */
TEST(test_verdict_tick_finds_a_held_flow_among_decided_ones)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 16384, h);
	uint32_t held = 0;
	uint16_t port = client_port;

	setup();
	for (int i = 0; i < 20; i++) {
		client_port = (uint16_t)(41000 + i);
		if (i == 10) {	/* the held one, in the middle */
			held = client(ST_PEND_FIRST, BASE, h, 100);
			continue;
		}
		client(ST_PEND_FIRST, BASE, h, n);
		server_ack(BASE + (uint32_t)n);
	}
	CHECK(flow_count() == 20 && flow_undecided() == 1 && undecided(held));
	verdict_tick(now_ns());		/* nothing due */
	CHECK(flow_count() == 20 && undecided(held));
	verdict_tick(now_ns() + 11 * SEC);
	CHECK(!undecided(held) && flow_undecided() == 0 && flow_count() == 1);
	verdict_tick(now_ns() + 13 * SEC);
	CHECK(flow_count() == 0 && !twice);
	client_port = port;
	teardown();
}

TEST(test_verdict_syn_data_is_stripped)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 16384, h);
	uint32_t syn;

	setup();
	syn = queue_pkt(false, ST_PEND, ISN, 0, SYN, h, n);
	CHECK(got(syn, NF_ACCEPT, ST_NONE) && given[syn].len == 40);
	/* a RST's data too */
	syn = queue_pkt(false, ST_PEND, BASE, 0, RST | ACK, h, n);
	CHECK(got(syn, NF_ACCEPT, ST_NONE) && given[syn].len == 40);
	CHECK(!twice);
	teardown();
}

static void committed(const uint8_t *h, size_t n)
{
	client(ST_PEND_FIRST, BASE, h, n);
	server_ack(BASE + (uint32_t)n);
}

TEST(test_verdict_a_new_connection_of_the_same_ports_is_judged_afresh)
{
	uint8_t h[16384], d[16384];
	size_t n = hello("allowed.test", 16384, h);
	size_t dn = hello("denied.test", 16384, d);
	uint32_t b;

	setup();
	committed(h, n);
	/* another ISN */
	b = client(ST_PEND_FIRST, 555555, d, dn);
	CHECK(got(b, NF_ACCEPT, ST_DENY));
	teardown();
	/* the same ISN: an undecided ct mark, where the old one committed */
	setup();
	committed(h, n);
	b = client(ST_PEND_FIRST, BASE, d, dn);
	CHECK(got(b, NF_ACCEPT, ST_DENY));
	CHECK(!twice);
	teardown();
}

/* A SYN on an entry that holds the last connection's verdict (the kernel
 * rule queues it marked "reopen"): the entry begins again, undecided, the
 * SYN goes through the chain again, and the next connection's hello is
 * judged afresh; an entry gone meanwhile: the SYN dropped. */
TEST(test_verdict_a_syn_on_an_entry_with_a_verdict_begins_it_again)
{
	uint8_t h[16384], d[16384];
	size_t n = hello("allowed.test", 16384, h);
	size_t dn = hello("denied.test", 16384, d);
	uint32_t syn, b;

	setup();
	committed(h, n);
	restarted = restart_err = 0;
	syn = queue_pkt(false, ST_REOPEN, 555554, 0, SYN, NULL, 0);
	CHECK(got(syn, NF_REPEAT, ST_REOPEN));
	CHECK(restarted == 1 && forgotten == 0);
	b = client(ST_PEND_FIRST, 555555, d, dn);
	CHECK(got(b, NF_ACCEPT, ST_DENY));
	CHECK(!twice);
	teardown();
	/* judged, its bytes not yet acknowledged; then a SYN of the same
	 * ISN, and another hello where the judged one was */
	setup();
	b = client(ST_PEND_FIRST, BASE, h, n);
	CHECK(got(b, NF_ACCEPT, ST_JUDGED));
	restart_err = -EPERM;
	forgotten = 0;
	syn = queue_pkt(false, ST_REOPEN, ISN, 0, SYN, NULL, 0);
	CHECK(got(syn, NF_DROP, ST_NONE) && restarted == 2 && forgotten == 1);
	/* begun again already (a duplicate SYN): dropped, the entry kept */
	restart_err = -EALREADY;
	syn = queue_pkt(false, ST_REOPEN, ISN, 0, SYN, NULL, 0);
	CHECK(got(syn, NF_DROP, ST_NONE) && restarted == 3 && forgotten == 1);
	restart_err = 0;
	b = client(ST_PEND_FIRST, BASE, d, dn);
	CHECK(got(b, NF_ACCEPT, ST_DENY));
	CHECK(cuts == 0 && !twice);
	teardown();
}

TEST(test_verdict_postgres_request_passes_its_8_bytes_only)
{
	static const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	uint8_t far[1400];
	uint32_t one, rest, beyond;

	setup();
	memset(far, 'M', sizeof(far));
	one = client(ST_PEND_FIRST, BASE, req, 1);
	beyond = client(ST_PEND, BASE + 1000, far, sizeof(far));
	CHECK(undecided(one) && undecided(beyond));
	rest = client(ST_PEND, BASE + 1, req + 1, 7);
	CHECK(got(one, NF_ACCEPT, ST_NONE) && got(rest, NF_ACCEPT, ST_NONE));
	CHECK(undecided(beyond));		/* waits for the hello */
	verdict_tick(now_ns() + 4 * SEC);
	CHECK(!undecided(beyond) && given[beyond].state != ST_ALLOW &&
	      given[beyond].state != ST_JUDGED);
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_denied_name_refused_as_soon_as_it_is_read)
{
	uint8_t d[16384];
	size_t n = hello("denied.test", 16384, d), off;
	uint32_t ids[1024], k = 0;

	setup();
	/* 7-byte segments: refused the moment server_name is whole */
	for (off = 0; off < n; off += 7) {
		ids[k++] = client(off ? ST_PEND : ST_PEND_FIRST,
				  BASE + (uint32_t)off, d + off,
				  n - off < 7 ? n - off : 7);
		if (!undecided(ids[0]))
			break;
	}
	CHECK(off + 7 < n);			/* before the hello's end */
	CHECK(got(ids[0], NF_ACCEPT, ST_DENY));
	for (uint32_t i = 1; i < k; i++)
		CHECK(got(ids[i], NF_DROP, ST_NONE));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_stalled_hello_is_decided_at_its_retransmission)
{
	uint8_t d[16384];
	uint32_t a, b, again;

	setup();
	hello("allowed.test", 16384, d);
	a = client(ST_PEND_FIRST, BASE, d, 20);	/* before server_name */
	b = client(ST_PEND, BASE + 20, d + 20, 20);
	CHECK(undecided(a) && undecided(b));
	again = client(ST_PEND, BASE, d, 20);	/* nothing new: stalled */
	/* one reset for the client, the rest dropped */
	CHECK(got(b, NF_DROP, ST_NONE));
	CHECK((got(a, NF_ACCEPT, ST_DENY) && got(again, NF_DROP, ST_NONE)) ||
	      (got(again, NF_ACCEPT, ST_DENY) && got(a, NF_DROP, ST_NONE)));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_allowed_hello_in_small_segments_flows_once_named)
{
	uint8_t h[16384];
	size_t n = hello("allowed.test", 16384, h), off;
	uint32_t ids[1024], k = 0, passed = 0;

	setup();
	for (off = 0; off < n; off += 40) {
		size_t len = n - off < 40 ? n - off : 40;

		ids[k++] = client(off ? ST_PEND : ST_PEND_FIRST,
				  BASE + (uint32_t)off, h + off, len);
		if (off + len < n && !undecided(ids[k - 1]))
			passed++;
	}
	CHECK(passed > 0);			/* before the hello's end */
	for (uint32_t i = 0; i < k; i++)
		CHECK(given[ids[i]].verdict == NF_ACCEPT);
	CHECK(given[ids[k - 1]].state == ST_JUDGED);
	/* a hello split across 1-byte records reads the same */
	teardown();
	setup();
	n = hello("denied.test", 1, h);
	ids[0] = client(ST_PEND_FIRST, BASE, h, n);
	CHECK(got(ids[0], NF_ACCEPT, ST_DENY));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_a_sandbox_past_its_share_of_the_table_is_refused)
{
	uint8_t h[16384];
	uint32_t id;

	setup();
	hello("allowed.test", 16384, h);
	/* half hellos, each of its own flow, held */
	for (unsigned i = 0; i < 1024; i++) {
		client_port = (uint16_t)(20000 + i);
		id = client(ST_PEND_FIRST, BASE, h, 20);
		given[id].verdict = -1;	/* ids are reused below */
		next_id = 1 + (i % 400);
	}
	client_port = 30000;
	id = client(ST_PEND_FIRST, BASE, h, 20);
	CHECK(got(id, NF_ACCEPT, ST_DENY));	/* flow-limit */
	client_port = 40000;
	next_id = 1;
	memset(given, 0xff, sizeof(given));
	teardown();
}

TEST(test_verdict_gssenc_then_ssl_requests_pass_then_the_hello_is_judged)
{
	static const uint8_t gss[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
	static const uint8_t ssl[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	uint8_t h[16384];
	size_t n = hello("denied.test", 16384, h);
	uint32_t a, b, c, twice_gss;

	setup();
	a = client(ST_PEND_FIRST, BASE, gss, 8);
	CHECK(got(a, NF_ACCEPT, ST_NONE));	/* the server answers N */
	b = client(ST_PEND, BASE + 8, ssl, 8);
	CHECK(got(b, NF_ACCEPT, ST_NONE));	/* ... then S */
	c = client(ST_PEND, BASE + 16, h, n);
	CHECK(got(c, NF_ACCEPT, ST_DENY));	/* the hello decides */
	teardown();
	/* a second GSSENCRequest is not a way to pass more bytes */
	setup();
	client(ST_PEND_FIRST, BASE, gss, 8);
	twice_gss = client(ST_PEND, BASE + 8, gss, 8);
	CHECK(got(twice_gss, NF_ACCEPT, ST_DENY));
	CHECK(!twice);
	teardown();
}

/* ---- QUIC: datagrams 198.18.1.2:40000 -> 198.18.2.2:443 ---- */

static uint32_t datagram(enum mark_state st, const uint8_t *data, size_t len)
{
	static uint8_t pkt[28 + 1500];
	uint8_t cli[4] = { 198, 18, 1, 2 }, srv[4] = { 198, 18, 2, 2 };
	uint16_t sport = htons(client_port), dport = htons(443);
	uint16_t ulen = htons((uint16_t)(8 + len));
	uint32_t id;
	struct queued q;

	if (next_id >= 512)
		next_id = 1;
	id = next_id++;
	q = (struct queued){ .id = id, .data = pkt, .len = 28 + len,
			     .mark = mark_id(&m, 1) | mark_state(&m, st) };
	memset(pkt, 0, 28);
	pkt[0] = 0x45;
	pkt[2] = (uint8_t)((28 + len) >> 8);
	pkt[3] = (uint8_t)(28 + len);
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, cli, 4);
	memcpy(pkt + 16, srv, 4);
	memcpy(pkt + 20, &sport, 2);
	memcpy(pkt + 22, &dport, 2);
	memcpy(pkt + 24, &ulen, 2);
	memcpy(pkt + 28, data, len);
	given[id].verdict = -1;
	verdict_packet(&q, NULL);
	return id;
}

/* A post-quantum sized hello for sni, its two halves in two Initials
 * (d1: the second half, d2: the first), as Chromium sends them. */
static void split_initials(const char *sni, uint8_t *d1, size_t *n1,
			   uint8_t *d2, size_t *n2)
{
	struct ch_spec spec = { .sni = sni, .tls13 = true, .pad = 1400 };
	uint8_t h[CH_MAX], f[1400];
	size_t n = qt_hello(&spec, h, sizeof(h)), half = n / 2;

	*n1 = qt_initial(QUIC_V1, 1, f, qt_crypto(f, (uint32_t)half, h + half,
						   n - half), d1);
	*n2 = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, half), d2);
}

/* A 0-RTT packet of the connection qt_dcid names (its Length 40). */
static const uint8_t zero_rtt[64] = {
	0xd1, 0, 0, 0, 1,
	8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08,
	0, 0x40, 40,
};

TEST(test_verdict_quic_datagrams_wait_for_the_whole_hello)
{
	uint8_t d1[1400], d2[1400];
	size_t n1, n2;
	uint32_t a, b, c, late;

	setup();
	client_port = 41001;
	split_initials("allowed.test", d1, &n1, d2, &n2);
	a = datagram(ST_PEND, d1, n1);
	b = datagram(ST_PEND, zero_rtt, sizeof(zero_rtt));	/* 0-RTT */
	CHECK(undecided(a) && undecided(b));
	c = datagram(ST_PEND, d2, n2);
	CHECK(got(a, NF_ACCEPT, ST_ALLOW) && got(b, NF_ACCEPT, ST_ALLOW) &&
	      got(c, NF_ACCEPT, ST_ALLOW));
	late = datagram(ST_PEND, zero_rtt, sizeof(zero_rtt));
	CHECK(got(late, NF_ACCEPT, ST_ALLOW));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_quic_denied_name_held_datagrams_never_pass)
{
	uint8_t d1[1400], d2[1400];
	size_t n1, n2;
	uint32_t a, b, c;

	setup();
	client_port = 41002;
	split_initials("denied.test", d1, &n1, d2, &n2);
	a = datagram(ST_PEND, d1, n1);
	b = datagram(ST_PEND, zero_rtt, sizeof(zero_rtt));
	c = datagram(ST_PEND, d2, n2);
	/* the first held carries "deny" (ICMP), the rest are dropped */
	CHECK(got(a, NF_ACCEPT, ST_DENY) && got(b, NF_DROP, ST_NONE) &&
	      got(c, NF_DROP, ST_NONE));
	CHECK(!twice);
	teardown();
}

/* A whole hello for sni in one Initial. */
static size_t whole_initial(const char *sni, uint8_t *d)
{
	struct ch_spec spec = { .sni = sni, .tls13 = true };
	uint8_t h[CH_MAX], f[1400];
	size_t n = qt_hello(&spec, h, sizeof(h));

	return qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, n), d);
}

TEST(test_verdict_quic_on_a_denied_entry_a_new_allowed_connection_reopens_it)
{
	uint8_t d[1400];
	size_t n;
	uint32_t a, b, c;

	setup();
	reopened = 0;
	client_port = 41010;
	/* the deny chain queues long headers with state "deny" */
	n = whole_initial("denied.test", d);
	a = datagram(ST_DENY, d, n);
	CHECK(got(a, NF_ACCEPT, ST_DENY) && reopened == 0);
	b = datagram(ST_DENY, zero_rtt, sizeof(zero_rtt));	/* not Initial */
	CHECK(got(b, NF_ACCEPT, ST_DENY) && reopened == 0);
	/* a hello not whole in its datagram is refused */
	{
		uint8_t d1[1400], d2[1400];
		size_t n1, n2;

		split_initials("allowed.test", d1, &n1, d2, &n2);
		c = datagram(ST_DENY, d2, n2);
		CHECK(got(c, NF_ACCEPT, ST_DENY) && reopened == 0);
	}
	n = whole_initial("allowed.test", d);
	c = datagram(ST_DENY, d, n);
	CHECK(got(c, NF_ACCEPT, ST_ALLOW) && reopened == 1);
	teardown();
}

TEST(test_verdict_quic_on_a_denied_entry_deny_all_reads_no_hello)
{
	uint8_t d[1400];
	size_t n;
	uint32_t a;

	setup();
	reopened = 0;
	client_port = 41011;
	sandbox_get(1)->policy->mode = MODE_DENY_ALL;
	n = whole_initial("allowed.test", d);
	a = datagram(ST_DENY, d, n);
	CHECK(got(a, NF_ACCEPT, ST_DENY) && reopened == 0);
	teardown();
}

TEST(test_verdict_quic_second_connection_in_an_allowed_flow)
{
	static const uint8_t other[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct ch_spec deny = { .sni = "denied.test", .tls13 = true };
	struct ch_spec allow = { .sni = "allowed.test", .tls13 = true };
	uint8_t h[CH_MAX], f[1400], d[1400], d1[1400], d2[1400];
	size_t n, n1, n2;
	uint32_t x;

	setup();
	client_port = 41003;
	split_initials("allowed.test", d1, &n1, d2, &n2);
	datagram(ST_PEND, d1, n1);
	CHECK(got(datagram(ST_PEND, d2, n2), NF_ACCEPT, ST_ALLOW));
	/* the kernel queues the allowed flow's long headers with no state:
	 * the judged connection's own Initial (a retransmission) passes */
	CHECK(got(datagram(ST_NONE, d1, n1), NF_ACCEPT, ST_NONE));
	/* another connection's, for a name not allowed: dropped */
	n = qt_hello(&deny, h, sizeof(h));
	n = qt_initial_cid(QUIC_V1, other, sizeof(other), 0, f,
			   qt_crypto(f, 0, h, n), d);
	x = datagram(ST_NONE, d, n);
	CHECK(got(x, NF_DROP, ST_NONE));
	/* for the allowed name, or one that is no new connection's: passes */
	n = qt_hello(&allow, h, sizeof(h));
	n = qt_initial_cid(QUIC_V1, other, sizeof(other), 0, f,
			   qt_crypto(f, 0, h, n), d);
	CHECK(got(datagram(ST_NONE, d, n), NF_ACCEPT, ST_NONE));
	d[sizeof(qt_scid) + 20] ^= 1;	/* a stranger's: does not decrypt */
	CHECK(got(datagram(ST_NONE, d, n), NF_DROP, ST_NONE));
	CHECK(got(datagram(ST_NONE, zero_rtt, sizeof(zero_rtt)), NF_ACCEPT,
		  ST_NONE));
	CHECK(!twice);
	teardown();
}

static const uint8_t other_dcid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* An Initial of the connection other_dcid names, its CRYPTO bytes at 0
 * the first n of the hello for sni. */
static size_t other_initial(const char *sni, size_t n, uint8_t *d)
{
	struct ch_spec spec = { .sni = sni, .tls13 = true };
	uint8_t h[CH_MAX], f[1400];
	size_t hn = qt_hello(&spec, h, sizeof(h));

	return qt_initial_cid(QUIC_V1, other_dcid, sizeof(other_dcid), 0, f,
			      qt_crypto(f, 0, h, n < hn ? n : hn), d);
}

TEST(test_verdict_quic_another_connection_never_rides_with_the_judged_one)
{
	uint8_t d1[1400], d2[1400], d[1400], z[64];
	size_t n1, n2, n;
	uint64_t denied;
	uint32_t a, b, held, c;

	setup();
	client_port = 41004;
	split_initials("allowed.test", d1, &n1, d2, &n2);
	a = datagram(ST_PEND, d2, n2);		/* A: the first half */
	denied = verdict_stats()->denied;
	/* B, whole, for a name not allowed: refused at once, A held */
	n = other_initial("denied.test", SIZE_MAX, d);
	CHECK(got(datagram(ST_PEND, d, n), NF_DROP, ST_NONE));
	CHECK(verdict_stats()->denied == denied + 1 && undecided(a));
	/* B not whole in its datagram: dropped too */
	n = other_initial("allowed.test", 40, d);
	CHECK(got(datagram(ST_PEND, d, n), NF_DROP, ST_NONE));
	/* B's 0-RTT */
	memcpy(z, zero_rtt, sizeof(z));
	memcpy(z + 6, other_dcid, 8);
	CHECK(got(datagram(ST_PEND, z, sizeof(z)), NF_DROP, ST_NONE));
	/* B for the allowed name: held with A */
	n = other_initial("allowed.test", SIZE_MAX, d);
	held = datagram(ST_PEND, d, n);
	CHECK(undecided(held));
	b = datagram(ST_PEND, zero_rtt, sizeof(zero_rtt));	/* A's */
	c = datagram(ST_PEND, d1, n1);		/* A: the second half */
	CHECK(got(a, NF_ACCEPT, ST_ALLOW) && got(held, NF_ACCEPT, ST_ALLOW) &&
	      got(b, NF_ACCEPT, ST_ALLOW) && got(c, NF_ACCEPT, ST_ALLOW));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_quic_a_new_hello_in_the_judged_connection_is_judged)
{
	struct ch_spec allow = { .sni = "allowed.test", .tls13 = true };
	struct ch_spec deny = { .sni = "denied.test", .tls13 = true };
	uint8_t h[CH_MAX], hd[CH_MAX], f[1400], d[1400];
	size_t hn = qt_hello(&allow, h, sizeof(h)), dn, n;
	uint64_t denied;

	setup();
	client_port = 41005;
	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, hn), d);
	CHECK(got(datagram(ST_PEND, d, n), NF_ACCEPT, ST_ALLOW));
	/* its hello again, and an ACK: pass */
	CHECK(got(datagram(ST_NONE, d, n), NF_ACCEPT, ST_NONE));
	n = qt_initial(QUIC_V1, 1, (const uint8_t[]){ 2, 0, 0, 0, 0 }, 5, d);
	CHECK(got(datagram(ST_NONE, d, n), NF_ACCEPT, ST_NONE));
	denied = verdict_stats()->denied;
	/* the connection over, its DCID again with a hello for a name not
	 * allowed: other bytes where the judged hello was */
	dn = qt_hello(&deny, hd, sizeof(hd));
	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, hd, dn), d);
	CHECK(got(datagram(ST_NONE, d, n), NF_DROP, ST_NONE));
	/* ... or past it, as a hello after a HelloRetryRequest */
	n = qt_initial(QUIC_V1, 2, f, qt_crypto(f, (uint32_t)hn, hd, dn), d);
	CHECK(got(datagram(ST_NONE, d, n), NF_DROP, ST_NONE));
	CHECK(verdict_stats()->denied == denied + 2);
	/* the allowed name's second hello passes */
	n = qt_initial(QUIC_V1, 3, f, qt_crypto(f, (uint32_t)hn, h, hn), d);
	CHECK(got(datagram(ST_NONE, d, n), NF_ACCEPT, ST_NONE));
	/* a version we do not read (draft-29) */
	n = qt_initial(QUIC_V1, 4, (const uint8_t[]){ 2, 0, 0, 0, 0 }, 5, d);
	memcpy(d + 1, "\xff\x00\x00\x1d", 4);
	CHECK(got(datagram(ST_NONE, d, n), NF_DROP, ST_NONE));
	/* 0-RTT of the judged connection still passes */
	CHECK(got(datagram(ST_NONE, zero_rtt, sizeof(zero_rtt)), NF_ACCEPT,
		  ST_NONE));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_quic_another_connection_right_behind_the_hello_is_judged)
{
	struct ch_spec allow = { .sni = "allowed.test", .tls13 = true };
	uint8_t h[CH_MAX], f[1400], d[1400];
	size_t n = qt_hello(&allow, h, sizeof(h));

	setup();
	client_port = 41006;
	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, n), d);
	CHECK(got(datagram(ST_PEND, d, n), NF_ACCEPT, ST_ALLOW));
	/* queued before the verdict reached the ct mark: still undecided
	 * in its mark, the flow allowed in the table */
	n = other_initial("denied.test", SIZE_MAX, d);
	CHECK(got(datagram(ST_PEND, d, n), NF_DROP, ST_NONE));
	n = other_initial("allowed.test", SIZE_MAX, d);
	CHECK(got(datagram(ST_PEND, d, n), NF_ACCEPT, ST_ALLOW));
	CHECK(got(datagram(ST_PEND, zero_rtt, sizeof(zero_rtt)), NF_ACCEPT,
		  ST_ALLOW));
	CHECK(!twice);
	teardown();
}

/* A hello with no name allowed (allow-all with a denied domain): no
 * connection record names the flow, and a datagram queued before the
 * verdict reached the ct mark is read all the same. */
TEST(test_verdict_quic_a_nameless_hello_leaves_nothing_unread)
{
	struct ch_spec none = { .sni = NULL, .tls13 = true };
	uint8_t h[CH_MAX], f[1400], d[1400];
	size_t n = qt_hello(&none, h, sizeof(h));
	char err[128];

	setup();
	client_port = 41008;
	sandbox_get(1)->policy->mode = MODE_ALLOW_ALL;
	CHECK(policy_add_rule(sandbox_get(1)->policy, LIST_DENY,
			      "denied.test", err, sizeof(err)) == 0);
	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, n), d);
	CHECK(got(datagram(ST_PEND, d, n), NF_ACCEPT, ST_ALLOW));
	n = other_initial("denied.test", SIZE_MAX, d);
	CHECK(got(datagram(ST_PEND, d, n), NF_DROP, ST_NONE));
	CHECK(!twice);
	teardown();
}

TEST(test_verdict_quic_a_flow_allowed_whatever_its_name_is_not_read)
{
	uint8_t d[1400];
	char err[128];
	size_t n;

	setup();
	client_port = 41007;
	CHECK(policy_add_rule(sandbox_get(1)->policy, LIST_ALLOW,
			      "198.18.2.0/24", err, sizeof(err)) == 0);
	/* an allowed range: no name is judged, none needs reading */
	n = qt_initial(QUIC_V1, 0, (const uint8_t[]){ 2, 0, 0, 0, 0 }, 5, d);
	memcpy(d + 1, "\xff\x00\x00\x1d", 4);
	CHECK(got(datagram(ST_NONE, d, n), NF_ACCEPT, ST_NONE));
	n = other_initial("denied.test", SIZE_MAX, d);
	CHECK(got(datagram(ST_NONE, d, n), NF_ACCEPT, ST_NONE));
	CHECK(!twice);
	teardown();
}
