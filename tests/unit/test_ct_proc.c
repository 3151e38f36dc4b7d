/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Lines of /proc/net/nf_conntrack into flow keys and marks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "ct_proc.h"
#include "test.h"

static bool parse(const char *line, struct flow_key *k, uint32_t *mark)
{
	return ct_proc_line(line, strlen(line), k, mark);
}

TEST(test_ct_proc_tcp_v4_with_accounting)
{
	struct flow_key k;
	uint32_t mark;
	uint8_t a[4];

	CHECK(parse("ipv4     2 tcp      6 296 ESTABLISHED src=198.18.2.2 "
		    "dst=198.18.3.2 sport=40000 dport=443 packets=3 bytes=180 "
		    "src=198.18.3.2 dst=198.18.2.2 sport=443 dport=40000 "
		    "packets=2 bytes=120 [ASSURED] mark=268500992 zone=0 "
		    "use=2\n", &k, &mark));
	CHECK(k.family == AF_INET && k.proto == IPPROTO_TCP);
	CHECK(k.sport == 40000 && k.dport == 443);
	inet_pton(AF_INET, "198.18.2.2", a);
	CHECK(!memcmp(k.src, a, 4));
	inet_pton(AF_INET, "198.18.3.2", a);
	CHECK(!memcmp(k.dst, a, 4));
	CHECK(mark == 268500992);
}

TEST(test_ct_proc_udp_v6_unreplied_and_icmp)
{
	struct flow_key k;
	uint32_t mark;
	uint8_t a[16];

	CHECK(parse("ipv6     10 udp      17 29 src=2001:0db8:0002:0000:0000:"
		    "0000:0000:0002 dst=2001:0db8:0003::2 sport=5353 dport=53 "
		    "[UNREPLIED] src=2001:db8:3::2 dst=2001:db8:2::2 sport=53 "
		    "dport=5353 mark=7 use=1\n", &k, &mark));
	CHECK(k.family == AF_INET6 && k.proto == IPPROTO_UDP);
	CHECK(k.sport == 5353 && k.dport == 53 && mark == 7);
	inet_pton(AF_INET6, "2001:db8:2::2", a);
	CHECK(!memcmp(k.src, a, 16));
	/* no ports: the reply tuple's are not taken for them */
	CHECK(parse("ipv4     2 icmp     1 29 src=198.18.2.2 dst=198.18.3.2 "
		    "type=8 code=0 id=9 src=198.18.3.2 dst=198.18.2.2 type=0 "
		    "code=0 id=9 mark=0 use=1\n", &k, &mark));
	CHECK(k.proto == IPPROTO_ICMP && k.sport == 0 && k.dport == 0);
}

TEST(test_ct_proc_refuses_partial_and_odd_lines)
{
	struct flow_key k;
	uint32_t mark;

	/* cut before its end (a read's tail), no mark, no family we know,
	 * a port out of range, a bad address */
	CHECK(!parse("ipv4     2 tcp      6 296 ESTABLISHED src=198.18.2.2 "
		     "dst=198.18.3.2 sport=40000 dport=443 mark=1 use=2",
		     &k, &mark));
	CHECK(!parse("ipv4 2 tcp 6 1 src=198.18.2.2 dst=198.18.3.2 sport=1 "
		     "dport=2 use=2\n", &k, &mark));
	CHECK(!parse("arp 0 tcp 6 1 src=198.18.2.2 dst=198.18.3.2 mark=1\n",
		     &k, &mark));
	CHECK(!parse("ipv4 2 tcp 6 1 src=198.18.2.2 dst=198.18.3.2 "
		     "sport=70000 dport=2 mark=1\n", &k, &mark));
	CHECK(!parse("ipv4 2 tcp 6 1 src=198.18.2.999 dst=198.18.3.2 "
		     "mark=1\n", &k, &mark));
	CHECK(!parse("ipv4 2 tcp 6 1 src=198.18.2.2 dst=198.18.3.2 "
		     "mark=-1\n", &k, &mark));
	CHECK(!parse("\n", &k, &mark));
	CHECK(!ct_proc_line("x", 0, &k, &mark));
}

TEST(test_ct_proc_ended_is_time_wait_or_close_of_tcp)
{
	static const char tw[] = "ipv4     2 tcp      6 5 TIME_WAIT "
				 "src=198.18.1.2 dst=198.18.2.2 sport=1 "
				 "dport=443 mark=1\n";
	static const char cl[] = "ipv6     10 tcp      6 3 CLOSE src=::1 "
				 "dst=::2 sport=1 dport=443 mark=1\n";
	static const char est[] = "ipv4     2 tcp      6 296 ESTABLISHED "
				  "src=198.18.1.2 dst=198.18.2.2 sport=1 "
				  "dport=443 mark=1\n";
	static const char udp[] = "ipv4     2 udp      17 5 src=198.18.1.2 "
				  "dst=198.18.2.2 sport=1 dport=53 mark=1\n";

	CHECK(ct_proc_ended(tw, strlen(tw)));
	CHECK(ct_proc_ended(cl, strlen(cl)));
	CHECK(!ct_proc_ended(est, strlen(est)));
	CHECK(!ct_proc_ended(udp, strlen(udp)));
	CHECK(!ct_proc_ended("", 0));
}
