/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hellos of flows the kernel lets through unread, gathered from the
 * packets NFLOG logs of them (daemon/hellos.c). */
#include <netinet/in.h>
#include <string.h>

#include "conns.h"
#include "hellos.h"
#include "quic_packet.h"
#include "test.h"

static struct flow_key key(uint8_t proto, uint16_t sport)
{
	struct flow_key k = { .family = AF_INET, .proto = proto,
			      .sport = sport, .dport = 443 };

	k.src[0] = 198, k.src[1] = 18, k.src[2] = 1, k.src[3] = 2;
	k.dst[0] = 198, k.dst[1] = 18, k.dst[2] = 2, k.dst[3] = 2;
	return k;
}

static struct pkt segment(uint32_t seq, const uint8_t *data, size_t len)
{
	struct pkt p = { .family = AF_INET, .proto = IPPROTO_TCP, .seq = seq,
			 .payload = data, .payload_len = len };

	return p;
}

#define HELLO_CAP 4096

/* A TLS 1.3 hello in one record: server_name sni (NULL: none), a padding
 * extension pad bytes long. */
static size_t hello(const char *sni, size_t pad, uint8_t h[HELLO_CAP])
{
	struct ch_spec spec = { .sni = sni, .tls13 = true, .pad = pad };

	return ch_build(&spec, 16384, h, HELLO_CAP);
}

/* A hello cut into two segments at `cut': the name comes with the
 * segment that completes its server_name, wherever the cut falls. */
TEST(test_hellos_a_hello_over_two_segments_is_named_wherever_it_is_cut)
{
	struct flow_key k = key(IPPROTO_TCP, 47000);
	struct client_hello ch;
	uint8_t h[HELLO_CAP];
	size_t n = hello("split.example.test", 1400, h);

	CHECK(n > 1448);
	for (size_t cut = 6; cut < n; cut += 7) {
		struct pkt a = segment(1000, h, cut);
		struct pkt b = segment(1000 + (uint32_t)cut, h + cut, n - cut);
		enum hello_step first = hellos_tcp(&k, &a, 0, &ch);

		if (first == HELLO_NAMED) {	/* the name whole in it */
			CHECK(!strcmp(ch.sni, "split.example.test"));
			continue;
		}
		CHECK(first == HELLO_MORE && hellos_count() == 1);
		CHECK(hellos_tcp(&k, &b, 0, &ch) == HELLO_NAMED);
		CHECK(!strcmp(ch.sni, "split.example.test"));
		CHECK(hellos_count() == 0);
	}
	hellos_fini();
}

/* Out of order, and the first segment logged twice (the kernel's two
 * naming rules may both log a retransmitted start). */
TEST(test_hellos_segments_out_of_order_and_twice)
{
	struct flow_key k = key(IPPROTO_TCP, 47001);
	struct client_hello ch;
	uint8_t h[HELLO_CAP];
	size_t n = hello("late.example.test", 2000, h);
	struct pkt a = segment(7, h, 20), b = segment(27, h + 20, 1400);
	struct pkt c = segment(1427, h + 1420, n - 1420);

	CHECK(hellos_tcp(&k, &a, 0, &ch) == HELLO_MORE);
	CHECK(hellos_tcp(&k, &a, 0, &ch) == HELLO_MORE);
	CHECK(hellos_tcp(&k, &c, 0, &ch) == HELLO_MORE);
	CHECK(hellos_tcp(&k, &b, 0, &ch) == HELLO_NAMED);
	CHECK(!strcmp(ch.sni, "late.example.test"));
	/* a segment after the hello: nothing is gathered for it */
	CHECK(hellos_tcp(&k, &c, 0, &ch) == HELLO_NONE);
	CHECK(hellos_count() == 0);
}

/* A port used again: what was gathered of the flow before is not the new
 * flow's, and a hello without a server_name names nothing. */
TEST(test_hellos_a_new_flow_on_the_same_ends_starts_afresh)
{
	struct flow_key k = key(IPPROTO_TCP, 47002);
	struct client_hello ch;
	uint8_t h[HELLO_CAP], h2[HELLO_CAP];
	size_t n2 = hello(NULL, 0, h2);
	struct pkt a, b;

	hello("old.example.test", 1400, h);
	a = segment(5, h, 10);
	CHECK(hellos_tcp(&k, &a, 0, &ch) == HELLO_MORE);
	hellos_forget(&k);
	CHECK(hellos_count() == 0);
	b = segment(900000, h2, n2);
	CHECK(hellos_tcp(&k, &b, 0, &ch) == HELLO_NONE && !ch.has_sni);
	/* a hello that starts far from the one gathered: a new one */
	CHECK(hellos_tcp(&k, &a, 0, &ch) == HELLO_MORE);
	CHECK(hellos_tcp(&k, &b, 0, &ch) == HELLO_NONE && hellos_count() == 0);
	/* not a hello at all */
	b = segment(1, (const uint8_t *)"GET / HTTP/1.1\r\n", 16);
	CHECK(hellos_tcp(&k, &b, 0, &ch) == HELLO_NONE);
}

/* The oldest of many unfinished hellos is given up for a new one; a
 * hello that never completes is given up after its time. */
TEST(test_hellos_are_bounded_in_number_and_time)
{
	struct client_hello ch;
	uint8_t h[HELLO_CAP];
	size_t n = hello("many.example.test", 1400, h);
	struct pkt a = segment(1, h, 10), b = segment(11, h + 10, n - 10);
	struct flow_key first = key(IPPROTO_TCP, 1), k;

	for (uint16_t i = 1; i <= 100; i++) {
		k = key(IPPROTO_TCP, i);
		CHECK(hellos_tcp(&k, &a, 0, &ch) == HELLO_MORE);
	}
	CHECK(hellos_count() == 32);
	/* the first given up */
	CHECK(hellos_tcp(&first, &b, 0, &ch) == HELLO_NONE);
	CHECK(hellos_tcp(&k, &b, 0, &ch) == HELLO_NAMED);
	k = key(IPPROTO_TCP, 99);
	CHECK(hellos_tcp(&k, &b, 4000000000ull, &ch) == HELLO_NONE);
	hellos_fini();
	CHECK(hellos_count() == 0);
}

/* QUIC: a hello over two Initials (Chromium's), gathered. */
TEST(test_hellos_quic_initials_gathered)
{
	struct ch_spec spec = { .sni = "h3.example.test", .tls13 = true,
				.pad = 1400 };
	struct flow_key k = key(IPPROTO_UDP, 50000);
	struct client_hello ch;
	struct quic_conn *c;
	uint8_t h[CH_MAX], f[1400], d[1400];
	size_t n = qt_hello(&spec, h, sizeof(h)), half = n / 2, dl;
	struct pkt p = { .family = AF_INET, .proto = IPPROTO_UDP,
			 .payload = d };

	dl = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, half), d);
	p.payload_len = dl;
	CHECK(hellos_quic(&k, &p, &ch, &c) == HELLO_MORE && !c);
	dl = qt_initial(QUIC_V1, 1, f, qt_crypto(f, (uint32_t)half, h + half,
						 n - half), d);
	p.payload_len = dl;
	CHECK(hellos_quic(&k, &p, &ch, &c) == HELLO_NAMED && c);
	CHECK(!strcmp(ch.sni, "h3.example.test"));
	quic_conn_free(c);
	CHECK(hellos_count() == 0);
}

/* The names of open flows (conns): a new flow on the same ends forgets
 * the name of the one before; the rest keep their order of age. */
TEST(test_conns_a_port_used_again_forgets_the_name_before)
{
	struct flow_key k[5];

	conns_init(3);
	for (int i = 0; i < 5; i++)
		k[i] = key(IPPROTO_TCP, (uint16_t)(100 + i));
	conns_add(&k[0], "a.test", 6);
	conns_add(&k[1], "b.test", 6);
	conns_add(&k[2], "c.test", 6);
	conns_forget(&k[1]);
	CHECK(!conns_sni(&k[1]) && conns_count() == 2);
	conns_forget(&k[1]);		/* twice: nothing */
	conns_add(&k[3], "d.test", 6);
	conns_add(&k[4], "e.test", 6);	/* past 3: the oldest goes */
	CHECK(!conns_sni(&k[0]) && conns_count() == 3);
	CHECK(!strcmp(conns_sni(&k[2]), "c.test") &&
	      !strcmp(conns_sni(&k[4]), "e.test"));
	conns_forget(&k[4]);		/* the newest */
	conns_forget(&k[2]);		/* the oldest */
	CHECK(conns_count() == 1 && !strcmp(conns_sni(&k[3]), "d.test"));
	conns_add(&k[0], "a.test", 6);
	CHECK(conns_count() == 2);
	conns_fini();
}
