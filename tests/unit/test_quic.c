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
	d[0] = 0xd0, d[4] = 1;
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
