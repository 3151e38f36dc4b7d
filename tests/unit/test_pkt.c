/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "pkt.h"
#include "test.h"

/* An IPv4/TCP packet to 198.18.0.1:443 carrying "hello". */
static size_t ipv4_tcp(uint8_t *p)
{
	static const uint8_t ip[20] = { 0x45, 0, 0, 45, 0, 1, 0x40, 0, 64, 6,
					 0, 0, 198, 18, 0, 2, 198, 18, 0, 1 };
	static const uint8_t tcp[20] = { 0xa0, 0x00, 0x01, 0xbb, 0, 0, 0x10,
					  0, 0, 0, 0, 0, 0x50, 0x18, 0xff,
					  0xff, 0, 0, 0, 0 };
	memcpy(p, ip, 20);
	memcpy(p + 20, tcp, 20);
	memcpy(p + 40, "hello", 5);
	return 45;
}

static size_t ipv6_udp_with_ext(uint8_t *p)
{
	memset(p, 0, 40 + 8 + 8 + 3);
	p[0] = 0x60;
	p[5] = 8 + 8 + 3;	/* payload length */
	p[6] = 0;		/* hop-by-hop options */
	p[7] = 64;
	p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 2;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 1;
	p[40] = IPPROTO_UDP;	/* next after hop-by-hop, length 0 → 8 */
	p[48] = 0x30, p[49] = 0x39, p[50] = 0x01, p[51] = 0xbb;
	p[53] = 11;
	memcpy(p + 56, "abc", 3);
	return 59;
}

TEST(test_packets_decoded_on_every_link_type)
{
	uint8_t f[256], ip[128];
	size_t n = ipv4_tcp(ip);
	struct pkt k;

	/* Ethernet */
	memset(f, 0, 14);
	f[12] = 0x08;
	memcpy(f + 14, ip, n);
	CHECK(pkt_decode(PKT_DLT_EN10MB, f, 14 + n, &k) == PKT_OK);
	CHECK(k.family == AF_INET && k.proto == IPPROTO_TCP);
	CHECK(k.sport == 40960 && k.dport == 443 && k.seq == 0x1000);
	CHECK(k.payload_len == 5 && !memcmp(k.payload, "hello", 5));
	/* two VLAN tags */
	memset(f, 0, 22);
	f[12] = 0x88, f[13] = 0xa8, f[16] = 0x81, f[17] = 0x00;
	f[20] = 0x08;
	memcpy(f + 22, ip, n);
	CHECK(pkt_decode(PKT_DLT_EN10MB, f, 22 + n, &k) == PKT_OK);
	CHECK(k.payload_len == 5);
	/* Linux cooked v1 and v2 */
	memset(f, 0, 20);
	f[14] = 0x08;
	memcpy(f + 16, ip, n);
	CHECK(pkt_decode(PKT_DLT_LINUX_SLL, f, 16 + n, &k) == PKT_OK);
	memset(f, 0, 20);
	f[0] = 0x08;
	memcpy(f + 20, ip, n);
	CHECK(pkt_decode(PKT_DLT_LINUX_SLL2, f, 20 + n, &k) == PKT_OK);
	/* raw IP */
	CHECK(pkt_decode(PKT_DLT_RAW, ip, n, &k) == PKT_OK);
	CHECK(pkt_decode(PKT_LINKTYPE_RAW, ip, n, &k) == PKT_OK);
	CHECK(pkt_decode(PKT_DLT_IPV4, ip, n, &k) == PKT_OK);
	CHECK(pkt_decode(9999, ip, n, &k) == PKT_BAD_LINKTYPE);
}

TEST(test_ipv6_extension_headers_are_skipped)
{
	uint8_t p[128];
	size_t n = ipv6_udp_with_ext(p);
	struct pkt k;

	CHECK(pkt_decode(PKT_DLT_RAW, p, n, &k) == PKT_OK);
	CHECK(k.family == AF_INET6 && k.proto == IPPROTO_UDP);
	CHECK(k.dport == 443 && k.payload_len == 3);
	CHECK(!memcmp(k.payload, "abc", 3));
}

TEST(test_truncated_and_corrupt_packets_are_refused)
{
	uint8_t ip[128];
	size_t n = ipv4_tcp(ip), i;
	struct pkt k;

	for (i = 0; i < 40; i++)
		CHECK(pkt_decode(PKT_DLT_RAW, ip, i, &k) == PKT_TRUNCATED);
	/* payload cut by the snap length: decoded, marked cut */
	CHECK(pkt_decode(PKT_DLT_RAW, ip, 42, &k) == PKT_OK);
	CHECK(k.payload_len == 2 && k.payload_cut);
	ip[32] = 0x20;		/* TCP data offset 8 bytes */
	CHECK(pkt_decode(PKT_DLT_RAW, ip, n, &k) == PKT_CORRUPT);
	ipv4_tcp(ip);
	ip[0] = 0x44;		/* IHL 16 bytes */
	CHECK(pkt_decode(PKT_DLT_RAW, ip, n, &k) == PKT_CORRUPT);
	ipv4_tcp(ip);
	ip[6] = 0x20;		/* more fragments */
	CHECK(pkt_decode(PKT_DLT_RAW, ip, n, &k) == PKT_FRAGMENT);
}
