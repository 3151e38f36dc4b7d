/* SPDX-License-Identifier: GPL-2.0-or-later */
/* QUIC Initials from a real capture: Chromium, post-quantum key share, the
 * ClientHello spread over CRYPTO frames out of order in two packets. */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"
#include "quic.h"
#include "test.h"

TEST(test_quic_initial_from_chromium_capture)
{
	char path[512], errbuf[PCAP_ERRBUF_SIZE];
	struct quic_initial *q = quic_initial_new();
	struct client_hello ch;
	struct pcap_pkthdr *h;
	const u_char *d;
	enum quic_status st = QUIC_NEED_MORE;
	pcap_t *pc;
	int initials = 0;

	snprintf(path, sizeof(path), "%s/chromium-quic.pcapng", test_data_dir());
	pc = pcap_open_offline(path, errbuf);
	CHECK(pc != NULL);
	while (st == QUIC_NEED_MORE && pcap_next_ex(pc, &h, &d) == 1) {
		struct pkt k;
		if (pkt_decode(pcap_datalink(pc), d, h->caplen, &k) != PKT_OK ||
		    k.proto != IPPROTO_UDP || k.dport != 443)
			continue;
		CHECK(quic_is_initial(k.payload, k.payload_len));
		initials++;
		st = quic_initial_add(q, k.payload, k.payload_len, &ch);
	}
	pcap_close(pc);
	quic_initial_free(q);
	CHECK(st == QUIC_OK);
	CHECK(initials >= 2);
	CHECK(!strcmp(ch.sni, "quic.example.test"));
	CHECK(ch.nalpn == 1 && !strcmp(ch.alpn[0], "h3"));
}

TEST(test_quic_garbage_is_not_an_initial)
{
	uint8_t d[1200];
	struct quic_initial *q = quic_initial_new();
	struct client_hello ch;

	memset(d, 0xc0, sizeof(d));
	CHECK(!quic_is_initial(d, sizeof(d)));
	d[1] = 0, d[2] = 0, d[3] = 0, d[4] = 1;	/* version 1, Initial */
	CHECK(quic_is_initial(d, sizeof(d)));
	/* the first Initial fails to decrypt: none */
	CHECK(quic_initial_add(q, d, sizeof(d), &ch) == QUIC_MALFORMED);
	quic_initial_free(q);
}

/* ---- the Initial/CRYPTO state machine, on Initials sealed here ---------- */

TEST(test_quic_crypto_out_of_order_across_datagrams)
{
	struct ch_spec spec = { .sni = "split.example.test", .tls13 = true,
				.pad = 1400 };
	uint8_t h[CH_MAX], f[1400], d[1400];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&spec, h, sizeof(h)), half = n / 2, fl, dl;

	CHECK(n > 1200);
	/* the second half first, then the first half in two frames given
	 * in reverse, and the middle once more (the same bytes) */
	fl = qt_crypto(f, (uint32_t)half, h + half, n - half);
	dl = qt_initial(QUIC_V1, 1, f, fl, d);
	CHECK(dl >= 1200);
	CHECK(quic_judge(q, d, dl, &fb) == QUIC_STEP_MORE);
	fl = qt_crypto(f, 100, h + 100, half - 100);
	fl += qt_crypto(f + fl, 0, h, 100);
	fl += qt_crypto(f + fl, (uint32_t)half - 50, h + half - 50, 100);
	dl = qt_initial(QUIC_V1, 0, f, fl, d);
	CHECK(quic_judge(q, d, dl, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_TLS);
	CHECK(!strcmp(fb.ch.sni, "split.example.test"));
	quic_initial_free(q);
}

TEST(test_quic_v2_initial_is_read)
{
	struct ch_spec spec = { .sni = "v2.example.test", .tls13 = true };
	uint8_t h[CH_MAX], f[1400], d[1400];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&spec, h, sizeof(h));

	n = qt_initial(QUIC_V2, 0, f, qt_crypto(f, 0, h, n), d);
	CHECK(quic_form(d, n) == QUIC_INITIAL);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_TLS && !strcmp(fb.ch.sni, "v2.example.test"));
	quic_initial_free(q);
}

TEST(test_quic_crypto_conflict_even_after_the_hello)
{
	struct ch_spec spec = { .sni = "allowed.test", .tls13 = true };
	struct ch_spec other = { .sni = "denied.test", .tls13 = true };
	uint8_t h[CH_MAX], h2[CH_MAX], f[2800], d[1400];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&spec, h, sizeof(h)), n2 = qt_hello(&other, h2, sizeof(h2));
	size_t fl;

	/* a whole hello, then in the same packet other bytes at offset 0 */
	fl = qt_crypto(f, 0, h, n);
	fl += qt_crypto(f + fl, 0, h2, n2);
	n = qt_initial(QUIC_V1, 0, f, fl, d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_CONFLICT);
	quic_initial_free(q);
}

TEST(test_quic_two_server_names_are_malformed)
{
	struct ch_spec spec = { .sni = "allowed.test", .tls13 = true,
				.dup_ext = true };
	uint8_t h[CH_MAX], f[1400], d[1400];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&spec, h, sizeof(h));

	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, n), d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_MALFORMED);
	quic_initial_free(q);
}

TEST(test_quic_crypto_past_the_bound_is_too_big)
{
	uint8_t f[64] = { 0 }, d[1400];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t fl = qt_crypto(f, CH_MAX, f + 32, 8), n;

	n = qt_initial(QUIC_V1, 0, f, fl, d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_INCOMPLETE);
	quic_initial_free(q);
}

TEST(test_quic_first_datagrams_that_judge_nothing)
{
	uint8_t d[1400] = { 0 }, f[8] = { 0x01 }, vn[256];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n;

	/* 0-RTT before any Initial: held, waiting */
	d[0] = 0xd0, d[4] = 1, d[7] = 0x40, d[8] = 32;	/* Length 32 */
	CHECK(quic_form(d, sizeof(d)) == QUIC_LONG);
	CHECK(quic_judge(q, d, sizeof(d), &fb) == QUIC_STEP_MORE);
	quic_initial_free(q);
	/* a short header opening a flow: connection migration */
	q = quic_initial_new();
	d[0] = 0x41;
	CHECK(quic_judge(q, d, sizeof(d), &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_NOT_QUIC);
	quic_initial_free(q);
	/* an unknown version: negotiated, CIDs swapped, v1 and v2 listed */
	q = quic_initial_new();
	n = qt_initial(QUIC_V1, 0, f, 1, d);
	d[1] = 0x1a, d[2] = 0x2a, d[3] = 0x3a, d[4] = 0x4a;
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_VERSION);
	n = quic_version_negotiation(d, n, vn, sizeof(vn));
	CHECK(n == 7 + 4 + 8 + 8);
	CHECK((vn[0] & 0x80) && !memcmp(vn + 1, "\0\0\0\0", 4));
	CHECK(vn[5] == 4 && !memcmp(vn + 6, qt_scid, 4));
	CHECK(vn[10] == 8 && !memcmp(vn + 11, qt_dcid, 8));
	CHECK(!memcmp(vn + 19, "\0\0\0\1\x6b\x33\x43\xcf", 8));
	quic_initial_free(q);
}

TEST(test_quic_refusal_is_the_servers_initial)
{
	struct ch_spec spec = { .sni = "denied.test", .tls13 = true };
	uint8_t h[CH_MAX], f[1400], d[1400], out[256];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&spec, h, sizeof(h));

	CHECK(quic_refusal(q, "sbxfw: x", out, sizeof(out)) == 0);
	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, n), d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	n = quic_refusal(q, "sbxfw: domain-not-allowed", out, sizeof(out));
	CHECK(n > 40 && n < 120);
	CHECK((out[0] & 0xf0) == 0xc0 && !memcmp(out + 1, "\0\0\0\1", 4));
	CHECK(out[5] == 4 && !memcmp(out + 6, qt_scid, 4));
	CHECK(out[10] == 8 && !memcmp(out + 11, qt_dcid, 8));
	CHECK(out[19] == 0);	/* no token */
	/* a client Initial sealed the same way is read back: the sealing
	 * that made the refusal is the one the reader undoes */
	quic_initial_free(q);
}

TEST(test_quic_refusal_from_the_header_alone_is_the_same)
{
	struct ch_spec spec = { .sni = "denied.test", .tls13 = true };
	uint8_t h[CH_MAX], f[1400], d[1400], out[256], again[256];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&spec, h, sizeof(h)), dn, rn;

	dn = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, n), d);
	CHECK(quic_judge(q, d, dn, &fb) == QUIC_STEP_DONE);
	rn = quic_refusal(q, "sbxfw: mode-deny-all", out, sizeof(out));
	CHECK(quic_refusal_header(d, dn, "sbxfw: mode-deny-all", again,
				  sizeof(again)) == rn);
	CHECK(!memcmp(out, again, rn));
	/* no Initial first: a short header, a Handshake packet, a cut one */
	d[0] = 0x40;
	CHECK(quic_refusal_header(d, dn, "x", again, sizeof(again)) == 0);
	d[0] = 0xe0;
	CHECK(quic_refusal_header(d, dn, "x", again, sizeof(again)) == 0);
	d[0] = 0xc0;
	CHECK(quic_refusal_header(d, 12, "x", again, sizeof(again)) == 0);
	quic_initial_free(q);
}

/* ---- one connection at a time (SPEC §1.9) ------------------------------- */

static const uint8_t other_cid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t ack_only[5] = { 0x02, 0, 0, 0, 0 };

/* An Initial sealed under the keys of dcid, as small as it comes. */
static size_t small_initial(const uint8_t *dcid, const uint8_t *f, size_t fl,
			    uint8_t *out, size_t cap)
{
	return quic_initial_seal(QUIC_V1, false, dcid, 8, dcid, 8, qt_scid,
				 sizeof(qt_scid), 0, f, fl, out, cap);
}

TEST(test_quic_initial_of_another_connection_while_judging_is_not_read)
{
	struct ch_spec a = { .sni = "a.test", .tls13 = true, .pad = 1400 };
	struct ch_spec b = { .sni = "b.test", .tls13 = true };
	uint8_t h[CH_MAX], hb[CH_MAX], f[1400], d[1400], two[2800];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&a, h, sizeof(h)), half = n / 2, nb, l1, l2;

	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, half), d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_MORE);
	/* another DCID: its own connection, whole or not */
	nb = qt_hello(&b, hb, sizeof(hb));
	n = qt_initial_cid(QUIC_V1, other_cid, 8, 0, f,
			   qt_crypto(f, 0, hb, nb), d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_OTHER);
	/* the same DCID in v2: keys of another connection */
	n = qt_initial(QUIC_V2, 0, f, qt_crypto(f, 0, hb, nb), d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_OTHER);
	/* a coalesced Initial of another connection behind one of ours */
	l1 = small_initial(qt_dcid, ack_only, sizeof(ack_only), two, 100);
	l2 = small_initial(other_cid, f, qt_crypto(f, 0, hb, nb), two + l1,
			   sizeof(two) - l1);
	CHECK(l1 && l2);
	CHECK(quic_judge(q, two, l1 + l2, &fb) == QUIC_STEP_OTHER);
	/* a 0-RTT packet of another DCID */
	memcpy(d, (uint8_t[]){ 0xd1, 0, 0, 0, 1, 8 }, 6);
	memcpy(d + 6, other_cid, 8);
	memcpy(d + 14, (uint8_t[]){ 0, 0x40, 40 }, 3);
	CHECK(quic_judge(q, d, 57, &fb) == QUIC_STEP_OTHER);
	/* none of them was read: the hello is the first connection's */
	n = qt_hello(&a, h, sizeof(h));
	n = qt_initial(QUIC_V1, 1, f,
		       qt_crypto(f, (uint32_t)half, h + half, n - half), d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_TLS && !strcmp(fb.ch.sni, "a.test"));
	quic_initial_free(q);
}

/* The connection judged for a.test, its hello in one Initial (in h). */
static struct quic_conn *judged_conn(uint8_t *h, size_t *hn)
{
	struct ch_spec a = { .sni = "a.test", .tls13 = true };
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	uint8_t f[1400], d[1400];
	struct quic_conn *c;
	size_t n;

	*hn = qt_hello(&a, h, CH_MAX);
	n = qt_initial(QUIC_V1, 0, f, qt_crypto(f, 0, h, *hn), d);
	quic_judge(q, d, n, &fb);
	c = quic_conn_new(q);
	quic_initial_free(q);
	return c;
}

/* quic_later's answer, and the SNI of the hello it says to judge. */
static enum quic_later later(const struct quic_conn *c, const uint8_t *d,
			     size_t n, struct first_bytes *fb)
{
	struct quic_initial *qi;
	enum quic_later l;

	memset(fb, 0, sizeof(*fb));
	l = quic_later(c, d, n, &qi, fb);
	if ((l == QUIC_LATER_JUDGE) != (qi != NULL))
		l = (enum quic_later)-1;	/* a state for no refusal */
	quic_initial_free(qi);
	return l;
}

TEST(test_quic_later_initials_of_the_judged_connection_repeat_its_hello)
{
	struct ch_spec b = { .sni = "b.test", .tls13 = true };
	uint8_t h[CH_MAX], hb[CH_MAX], f[1400], d[1400];
	struct first_bytes fb;
	size_t hn, nb, n;
	struct quic_conn *c = judged_conn(h, &hn);

	CHECK(c != NULL);
	nb = qt_hello(&b, hb, sizeof(hb));
	/* a retransmission, in parts; ACK only; in v2 (compatible
	 * negotiation: the same first DCID's keys) */
	n = qt_initial(QUIC_V1, 1, f, qt_crypto(f, 10, h + 10, hn - 10), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_PASS);
	n = qt_initial(QUIC_V1, 2, ack_only, sizeof(ack_only), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_PASS);
	n = qt_initial(QUIC_V2, 3, f, qt_crypto(f, 0, h, hn), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_PASS);
	/* other bytes where the hello was: a conflict */
	n = qt_initial(QUIC_V1, 4, f, qt_crypto(f, 0, hb, nb), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_JUDGE);
	CHECK(fb.kind == PAYLOAD_CONFLICT);
	/* a second hello past the first (after a HelloRetryRequest) */
	n = qt_initial(QUIC_V1, 5, f, qt_crypto(f, (uint32_t)hn, hb, nb), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_JUDGE);
	CHECK(fb.kind == PAYLOAD_TLS && !strcmp(fb.ch.sni, "b.test"));
	/* not whole in its datagram */
	n = qt_initial(QUIC_V1, 6, f, qt_crypto(f, (uint32_t)hn, hb, 40), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_JUDGE);
	CHECK(fb.kind == PAYLOAD_INCOMPLETE);
	/* with no judged connection known, its Initial is a new one */
	n = qt_initial(QUIC_V1, 1, f, qt_crypto(f, 0, h, hn), d);
	CHECK(later(NULL, d, n, &fb) == QUIC_LATER_JUDGE);
	CHECK(fb.kind == PAYLOAD_TLS && !strcmp(fb.ch.sni, "a.test"));
	quic_conn_free(c);
}

TEST(test_quic_later_another_connection_or_unread)
{
	struct ch_spec b = { .sni = "b.test", .tls13 = true };
	uint8_t h[CH_MAX], hb[CH_MAX], f[1400], d[1400], two[2800];
	struct first_bytes fb;
	size_t hn, nb, n, l1, l2;
	struct quic_conn *c = judged_conn(h, &hn);

	nb = qt_hello(&b, hb, sizeof(hb));
	/* a new DCID: judged by its own hello */
	n = qt_initial_cid(QUIC_V1, other_cid, 8, 0, f,
			   qt_crypto(f, 0, hb, nb), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_JUDGE);
	CHECK(fb.kind == PAYLOAD_TLS && !strcmp(fb.ch.sni, "b.test"));
	/* ACK only under its own keys: opens nothing */
	n = qt_initial_cid(QUIC_V1, other_cid, 8, 0, ack_only,
			   sizeof(ack_only), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_PASS);
	/* an Initial that opens under no keys */
	n = qt_initial_cid(QUIC_V1, other_cid, 8, 0, f,
			   qt_crypto(f, 0, hb, nb), d);
	d[n - 1] ^= 1;
	CHECK(later(c, d, n, &fb) == QUIC_LATER_UNREAD);
	/* a version we do not read (draft-29), whatever it carries */
	n = qt_initial(QUIC_V1, 1, ack_only, sizeof(ack_only), d);
	memcpy(d + 1, "\xff\x00\x00\x1d", 4);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_UNREAD);
	/* the fixed bit greased (RFC 9287): read all the same, and not
	 * opening under the keys (the first byte is authenticated) */
	n = qt_initial(QUIC_V1, 1, ack_only, sizeof(ack_only), d);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_PASS);
	d[0] &= ~0x40;
	CHECK(quic_form(d, n) == QUIC_INITIAL);
	CHECK(later(c, d, n, &fb) == QUIC_LATER_UNREAD);
	/* two connections in one datagram: the judged one's ACK, then
	 * another's hello (its own DCID, or the same DCID and its keys) */
	l1 = small_initial(qt_dcid, ack_only, sizeof(ack_only), two, 100);
	l2 = small_initial(other_cid, f, qt_crypto(f, 0, hb, nb), two + l1,
			   sizeof(two) - l1);
	CHECK(later(c, two, l1 + l2, &fb) == QUIC_LATER_UNREAD);
	l1 = quic_initial_seal(QUIC_V1, false, qt_dcid, 8, other_cid, 8,
			       qt_scid, 4, 0, ack_only, sizeof(ack_only), two,
			       100);
	l2 = small_initial(other_cid, f, qt_crypto(f, 0, hb, nb), two + l1,
			   sizeof(two) - l1);
	CHECK(later(c, two, l1 + l2, &fb) == QUIC_LATER_UNREAD);
	/* the judged connection's ACK under a new DCID, then 0-RTT: pass */
	n = quic_initial_seal(QUIC_V1, false, qt_dcid, 8, other_cid, 8,
			      qt_scid, 4, 1, ack_only, sizeof(ack_only), d,
			      100);
	memcpy(d + n, (uint8_t[]){ 0xd1, 0, 0, 0, 1, 8 }, 6);
	memcpy(d + n + 6, other_cid, 8);
	memcpy(d + n + 14, (uint8_t[]){ 0, 0x40, 40 }, 3);
	memset(d + n + 17, 0, 40);
	CHECK(later(c, d, n + 57, &fb) == QUIC_LATER_PASS);
	/* short headers are not read */
	d[0] = 0x41;
	CHECK(later(c, d, n, &fb) == QUIC_LATER_PASS);
	quic_conn_free(c);
}

TEST(test_quic_bytes_past_the_hello_before_its_verdict_are_malformed)
{
	struct ch_spec a = { .sni = "a.test", .tls13 = true };
	struct ch_spec b = { .sni = "b.test", .tls13 = true };
	uint8_t h[CH_MAX], hb[CH_MAX], f[1400], d[1400];
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	size_t n = qt_hello(&a, h, sizeof(h)), fl = qt_crypto(f, 0, h, n);
	size_t nb = qt_hello(&b, hb, sizeof(hb));

	/* a second hello behind the first, which would pass with it */
	fl += qt_crypto(f + fl, (uint32_t)n, hb, nb);
	n = qt_initial(QUIC_V1, 0, f, fl, d);
	CHECK(quic_judge(q, d, n, &fb) == QUIC_STEP_DONE);
	CHECK(fb.kind == PAYLOAD_MALFORMED);
	quic_initial_free(q);
}
