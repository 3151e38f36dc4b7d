/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_PKT_H
#define SBXFW_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link types as pcap_datalink() reports them on Linux. */
#define PKT_DLT_NULL 0
#define PKT_DLT_EN10MB 1
#define PKT_DLT_RAW 12
#define PKT_DLT_RAW_ALT 14
#define PKT_LINKTYPE_RAW 101
#define PKT_DLT_LOOP 108
#define PKT_DLT_LINUX_SLL 113
#define PKT_DLT_IPV4 228
#define PKT_DLT_IPV6 229
#define PKT_DLT_LINUX_SLL2 276

enum pkt_result {
	PKT_OK,
	PKT_IGNORED,		/* fine, but not TCP/UDP over IP */
	PKT_FRAGMENT,		/* an IP fragment: skipped */
	PKT_TRUNCATED,		/* headers cut short by the snap length */
	PKT_CORRUPT,		/* headers that contradict themselves */
	PKT_BAD_LINKTYPE,
};

struct pkt {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t sport, dport;
	uint32_t seq, ack;	/* TCP */
	uint8_t tcp_flags;
	const uint8_t *l4;	/* the TCP or UDP header */
	const uint8_t *payload;
	size_t payload_len;	/* bytes present in the capture */
	bool payload_cut;	/* the capture holds fewer than were sent */
};

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* Decode one captured frame down to its TCP/UDP payload. Pure. */
enum pkt_result pkt_decode(int linktype, const uint8_t *p, size_t caplen,
			   struct pkt *out);
const char *pkt_result_name(enum pkt_result r);

#endif
