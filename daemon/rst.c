/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "csum.h"
#include "log.h"
#include "rst.h"

static int fd4 = -1, fd6 = -1;

int rst_init(void)
{
	/* IPPROTO_RAW: we write the IP header, source included */
	fd4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	fd6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd4 < 0 || fd6 < 0) {
		log_warn("raw sockets for server-side resets");
		return -1;
	}
	return 0;
}

void rst_fini(void)
{
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		close(fd6);
	fd4 = fd6 = -1;
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

static void send_tcp(const struct flow_key *k, uint32_t seq, bool rst);

void rst_send(const struct flow_key *k, uint32_t seq)
{
	send_tcp(k, seq, true);
}

void rst_probe(const struct flow_key *k)
{
	/* a sequence number far outside any window */
	send_tcp(k, 0x7fffffff, false);
}

static void send_tcp(const struct flow_key *k, uint32_t seq, bool rst)
{
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(struct tcphdr)];
	struct tcphdr *t;
	uint32_t s;

	if (k->family == AF_INET && fd4 >= 0) {
		struct iphdr *ip = (struct iphdr *)pkt;
		struct sockaddr_in to = { .sin_family = AF_INET };

		t = (struct tcphdr *)(ip + 1);
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*t));
		memcpy(&ip->saddr, k->src, 4);
		memcpy(&ip->daddr, k->dst, 4);
		tcp_hdr(t, k, seq, rst);
		s = csum_pseudo(0, k->src, k->dst, IPPROTO_TCP, sizeof(*t));
		t->check = csum_fold(csum_add(t, sizeof(*t), s));
		memcpy(&to.sin_addr, k->dst, 4);
		sendto(fd4, pkt, sizeof(*ip) + sizeof(*t), 0,
		       (struct sockaddr *)&to, sizeof(to));
	} else if (k->family == AF_INET6 && fd6 >= 0) {
		struct ip6_hdr *ip = (struct ip6_hdr *)pkt;
		struct sockaddr_in6 to = { .sin6_family = AF_INET6 };

		t = (struct tcphdr *)(ip + 1);
		memset(ip, 0, sizeof(*ip));
		ip->ip6_flow = htonl(6u << 28);
		ip->ip6_plen = htons(sizeof(*t));
		ip->ip6_nxt = IPPROTO_TCP;
		ip->ip6_hlim = 64;
		memcpy(&ip->ip6_src, k->src, 16);
		memcpy(&ip->ip6_dst, k->dst, 16);
		tcp_hdr(t, k, seq, rst);
		s = csum_pseudo(1, k->src, k->dst, IPPROTO_TCP, sizeof(*t));
		t->check = csum_fold(csum_add(t, sizeof(*t), s));
		memcpy(&to.sin6_addr, k->dst, 16);
		sendto(fd6, pkt, sizeof(*ip) + sizeof(*t), 0,
		       (struct sockaddr *)&to, sizeof(to));
	}
}
