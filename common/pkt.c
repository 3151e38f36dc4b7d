/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "bytes.h"
#include "pkt.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define VLAN_DEPTH_MAX 4
#define IPV6_EXT_MAX 8

const char *pkt_result_name(enum pkt_result r)
{
	static const char *const names[] = { "ok", "ignored", "fragment",
					     "truncated", "corrupt",
					     "unsupported link type" };
	return names[r];
}

/* `avail`: bytes captured; `len`: bytes the IP header says were sent. */
static enum pkt_result l4_decode(const uint8_t *p, size_t avail, size_t len,
				 struct pkt *out)
{
	size_t hl;

	out->l4 = p;
	if (out->proto == IPPROTO_TCP) {
		if (avail < 20)
			return len < 20 ? PKT_CORRUPT : PKT_TRUNCATED;
		hl = (size_t)(p[12] >> 4) * 4;
		if (hl < 20 || hl > len)
			return PKT_CORRUPT;
		if (hl > avail)
			return PKT_TRUNCATED;
		out->seq = be32(p + 4);
		out->ack = be32(p + 8);
		out->tcp_flags = p[13];
	} else if (out->proto == IPPROTO_UDP) {
		if (avail < 8)
			return len < 8 ? PKT_CORRUPT : PKT_TRUNCATED;
		hl = 8;
		if (be16(p + 4) < 8 || be16(p + 4) > len)
			return PKT_CORRUPT;
		len = be16(p + 4);
	} else {
		return PKT_IGNORED;
	}
	out->sport = be16(p);
	out->dport = be16(p + 2);
	out->payload = p + hl;
	out->payload_len = (avail < len ? avail : len) - hl;
	out->payload_cut = avail < len;
	return PKT_OK;
}

static enum pkt_result ipv4_decode(const uint8_t *p, size_t avail,
				   struct pkt *out)
{
	size_t ihl, tot;

	if (avail < 20)
		return PKT_TRUNCATED;
	ihl = (size_t)(p[0] & 0xf) * 4;
	tot = be16(p + 2);
	/* captures of segmentation-offloaded traffic may carry tot = 0 */
	if (tot == 0)
		tot = avail;
	if (ihl < 20 || tot < ihl)
		return PKT_CORRUPT;
	if (avail < ihl)
		return PKT_TRUNCATED;
	if (be16(p + 6) & 0x3fff)	/* MF or a fragment offset */
		return PKT_FRAGMENT;
	out->family = AF_INET;
	out->proto = p[9];
	memcpy(out->src, p + 12, 4);
	memcpy(out->dst, p + 16, 4);
	if (avail > tot)
		avail = tot;
	return l4_decode(p + ihl, avail - ihl, tot - ihl, out);
}

static enum pkt_result ipv6_decode(const uint8_t *p, size_t avail,
				   struct pkt *out)
{
	size_t off = 40, len;
	uint8_t next;
	int i;

	if (avail < 40)
		return PKT_TRUNCATED;
	len = 40 + (size_t)be16(p + 4);
	if (len == 40 && avail > 40)	/* jumbogram or offload: trust caplen */
		len = avail;
	next = p[6];
	out->family = AF_INET6;
	memcpy(out->src, p + 8, 16);
	memcpy(out->dst, p + 24, 16);
	if (avail > len)
		avail = len;
	for (i = 0; i < IPV6_EXT_MAX; i++) {
		size_t hl;

		if (next != 0 && next != 43 && next != 44 && next != 60 &&
		    next != 51)
			break;
		if (avail < off + 8)
			return len < off + 8 ? PKT_CORRUPT : PKT_TRUNCATED;
		if (next == 44) {
			if (be16(p + off + 2) & 0xfff9)
				return PKT_FRAGMENT;
			hl = 8;
		} else if (next == 51) {
			hl = ((size_t)p[off + 1] + 2) * 4;
		} else {
			hl = ((size_t)p[off + 1] + 1) * 8;
		}
		next = p[off];
		off += hl;
		if (off > len)
			return PKT_CORRUPT;
	}
	if (off > avail)
		return PKT_TRUNCATED;
	out->proto = next;
	return l4_decode(p + off, avail - off, len - off, out);
}

static enum pkt_result ip_decode(const uint8_t *p, size_t caplen,
				 struct pkt *out)
{
	if (caplen < 1)
		return PKT_TRUNCATED;
	switch (p[0] >> 4) {
	case 4:
		return ipv4_decode(p, caplen, out);
	case 6:
		return ipv6_decode(p, caplen, out);
	}
	return PKT_IGNORED;
}

/* From an Ethernet type on: VLAN tags, then IPv4 or IPv6. */
static enum pkt_result ether_payload(uint16_t type, const uint8_t *p,
				     size_t caplen, struct pkt *out)
{
	int depth;

	for (depth = 0; depth <= VLAN_DEPTH_MAX; depth++) {
		if (type == ETH_IPV4 || type == ETH_IPV6)
			return ip_decode(p, caplen, out);
		if (type != ETH_VLAN && type != ETH_QINQ &&
		    type != ETH_QINQ_OLD)
			return PKT_IGNORED;
		if (caplen < 4)
			return PKT_TRUNCATED;
		type = be16(p + 2);
		p += 4;
		caplen -= 4;
	}
	return PKT_CORRUPT;
}

static enum pkt_result null_decode(const uint8_t *p, size_t caplen,
				   bool net_order, struct pkt *out)
{
	uint32_t af;

	if (caplen < 4)
		return PKT_TRUNCATED;
	af = net_order ? be32(p) : (uint32_t)(p[0] | p[1] << 8 | p[2] << 16 |
					      (uint32_t)p[3] << 24);
	if (!net_order && af > 0xffff)	/* written big-endian */
		af = be32(p);
	if (af == 2 || af == 24 || af == 28 || af == 30 || af == 10)
		return ip_decode(p + 4, caplen - 4, out);
	return PKT_IGNORED;
}

enum pkt_result pkt_decode(int linktype, const uint8_t *p, size_t caplen,
			   struct pkt *out)
{
	memset(out, 0, sizeof(*out));
	switch (linktype) {
	case PKT_DLT_EN10MB:
		if (caplen < 14)
			return PKT_TRUNCATED;
		return ether_payload(be16(p + 12), p + 14, caplen - 14, out);
	case PKT_DLT_LINUX_SLL:
		if (caplen < 16)
			return PKT_TRUNCATED;
		return ether_payload(be16(p + 14), p + 16, caplen - 16, out);
	case PKT_DLT_LINUX_SLL2:
		if (caplen < 20)
			return PKT_TRUNCATED;
		return ether_payload(be16(p), p + 20, caplen - 20, out);
	case PKT_DLT_RAW:
	case PKT_DLT_RAW_ALT:
	case PKT_LINKTYPE_RAW:
	case PKT_DLT_IPV4:
	case PKT_DLT_IPV6:
		return ip_decode(p, caplen, out);
	case PKT_DLT_NULL:
		return null_decode(p, caplen, false, out);
	case PKT_DLT_LOOP:
		return null_decode(p, caplen, true, out);
	}
	return PKT_BAD_LINKTYPE;
}
