/* SPDX-License-Identifier: GPL-2.0-or-later */
/* make bench: the floor of any NFQUEUE firewall. It binds one queue and
 * accepts every packet it gets with a packet mark (no parsing, no policy,
 * no audit); a later chain copies the mark into the ct mark, so that the
 * rest of the flow stays in the kernel (this kernel has no NFQA_CT in
 * verdicts). bench_datapath.sh queues it the first packet with a payload
 * of each flow, as sbxfwd is queued the ClientHello.
 *
 * usage: nfq_floor QUEUE MARK   (until SIGTERM; prints packets seen) */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static volatile sig_atomic_t stop;
static struct mnl_socket *nl;
static uint32_t mark;
static unsigned long packets;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int config(uint16_t queue, uint8_t cmd)
{
	char buf[512];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);

	if (cmd) {
		nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, cmd);
	} else {
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	}
	return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

static int packet(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a[NFQA_MAX + 1] = { 0 };
	struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	char buf[256];
	struct nlmsghdr *v;

	(void)data;
	if (nfq_nlmsg_parse(nlh, a) < 0 || !a[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	packets++;
	v = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, ntohs(g->res_id));
	nfq_nlmsg_verdict_put(v, (int)ntohl(((struct nfqnl_msg_packet_hdr *)
		mnl_attr_get_payload(a[NFQA_PACKET_HDR]))->packet_id), NF_ACCEPT);
	nfq_nlmsg_verdict_put_mark(v, mark);
	if (mnl_socket_sendto(nl, v, v->nlmsg_len) < 0)
		perror("nfq_floor: verdict");
	return MNL_CB_OK;
}

int main(int argc, char **argv)
{
	static char buf[0xffff + 4096];
	struct sigaction sa = { .sa_handler = on_term };
	uint16_t queue;

	if (argc != 3) {
		fprintf(stderr, "usage: nfq_floor QUEUE MARK\n");
		return 2;
	}
	queue = (uint16_t)atoi(argv[1]);
	mark = (uint32_t)strtoul(argv[2], NULL, 0);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    config(queue, NFQNL_CFG_CMD_BIND) < 0 || config(queue, 0) < 0) {
		perror("nfq_floor: queue");
		return 1;
	}
	printf("nfq_floor: queue %u bound\n", queue);
	fflush(stdout);
	while (!stop) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			perror("nfq_floor: recv");
			return 1;
		}
		mnl_cb_run(buf, (size_t)n, 0, 0, packet, NULL);
	}
	printf("nfq_floor: %lu packets\n", packets);
	mnl_socket_close(nl);
	return 0;
}
