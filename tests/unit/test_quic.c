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
	/* fails to decrypt: ignored, still waiting */
	CHECK(quic_initial_add(q, d, sizeof(d), &ch) == QUIC_NEED_MORE);
	quic_initial_free(q);
}
