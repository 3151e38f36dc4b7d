/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "csum.h"
#include "log.h"
#include "rst.h"

/* resets, and datagrams (which carry `forged', their mark) */
static int fd4 = -1, fd6 = -1, dfd4 = -1, dfd6 = -1;

static int raw(int family, uint32_t mark)
{
	/* IPPROTO_RAW: we write the IP header, source included */
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	if (fd >= 0 && mark &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int rst_init(uint32_t forged)
{
	fd4 = raw(AF_INET, 0);
	fd6 = raw(AF_INET6, 0);
	dfd4 = raw(AF_INET, forged);
	dfd6 = raw(AF_INET6, forged);
	if (fd4 < 0 || fd6 < 0 || dfd4 < 0 || dfd6 < 0) {
		log_warn("raw sockets for resets and refusals");
		return -1;
	}
	return 0;
}

void rst_fini(void)
{
	int *fds[] = { &fd4, &fd6, &dfd4, &dfd6 };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static void tcp_hdr(struct tcphdr *t, const struct flow_key *k, uint32_t seq,
		    bool rst)
{
	memset(t, 0, sizeof(*t));
	t->source = htons(k->sport);
	t->dest = htons(k->dport);
	t->seq = htonl(seq);
	t->doff = 5;
	t->rst = rst;
	t->ack = !rst;
	t->window = htons(rst ? 0 : 512);
}

/* From k's source to its destination: an IP header before the transport
 * part l4 (len bytes), whose checksum field at csum_off is filled. */
static void send_raw(const struct flow_key *k, uint8_t proto, uint8_t *l4,
		     size_t len, size_t csum_off)
{
	uint8_t pkt[sizeof(struct ip6_hdr) + RST_PAYLOAD_MAX + 8];
	int v6 = k->family == AF_INET6;
	int fd = proto == IPPROTO_UDP ? (v6 ? dfd6 : dfd4) : (v6 ? fd6 : fd4);
	size_t hl = v6 ? sizeof(struct ip6_hdr) : sizeof(struct iphdr);
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} to = { 0 };
	uint16_t c;

	if (fd < 0 || len > sizeof(pkt) - hl)
		return;
	c = csum_fold(csum_add(l4, len, csum_pseudo(v6, k->src, k->dst, proto,
						    (uint16_t)len)));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	memcpy(l4 + csum_off, &c, 2);
	memset(pkt, 0, hl);
	if (v6) {
		struct ip6_hdr *ip = (struct ip6_hdr *)pkt;

		ip->ip6_flow = htonl(6u << 28);
		ip->ip6_plen = htons((uint16_t)len);
		ip->ip6_nxt = proto;
		ip->ip6_hlim = 64;
		memcpy(&ip->ip6_src, k->src, 16);
		memcpy(&ip->ip6_dst, k->dst, 16);
		to.in6.sin6_family = AF_INET6;
		memcpy(&to.in6.sin6_addr, k->dst, 16);
	} else {
		struct iphdr *ip = (struct iphdr *)pkt;

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = proto;
		ip->tot_len = htons((uint16_t)(hl + len));
		memcpy(&ip->saddr, k->src, 4);
		memcpy(&ip->daddr, k->dst, 4);
		to.in.sin_family = AF_INET;
		memcpy(&to.in.sin_addr, k->dst, 4);
	}
	memcpy(pkt + hl, l4, len);
	sendto(fd, pkt, hl + len, 0, (struct sockaddr *)&to,
	       v6 ? sizeof(to.in6) : sizeof(to.in));
}

static void send_tcp(const struct flow_key *k, uint32_t seq, bool rst)
{
	struct tcphdr t;

	tcp_hdr(&t, k, seq, rst);
	t.check = 0;
	send_raw(k, IPPROTO_TCP, (uint8_t *)&t, sizeof(t),
		 offsetof(struct tcphdr, check));
}

void rst_send(const struct flow_key *k, uint32_t seq)
{
	send_tcp(k, seq, true);
}

void rst_probe(const struct flow_key *k)
{
	/* a sequence number far outside any window */
	send_tcp(k, 0x7fffffff, false);
}

void rst_datagram(const struct flow_key *k, const uint8_t *payload,
		  size_t len)
{
	uint8_t d[sizeof(struct udphdr) + RST_PAYLOAD_MAX];
	struct udphdr *u = (struct udphdr *)d;

	if (len > RST_PAYLOAD_MAX)
		return;
	u->source = htons(k->sport);
	u->dest = htons(k->dport);
	u->len = htons((uint16_t)(sizeof(*u) + len));
	u->check = 0;
	memcpy(u + 1, payload, len);
	send_raw(k, IPPROTO_UDP, d, sizeof(*u) + len,
		 offsetof(struct udphdr, check));
}
