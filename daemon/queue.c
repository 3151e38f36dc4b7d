/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "queue.h"

#define RCVBUF (16u << 20)
#define VBUF_SIZE (256u * 1024)
#define VMSG_MAX 128
#define RX_BATCH 8
#define RX_SIZE (0x10000 + 4096)	/* a packet (copy range 0xffff), its attributes */

static struct mnl_socket *nl;
static char *vbuf;		/* verdicts waiting to be sent */
static size_t vlen;
static uint64_t drops;
static uint16_t first_queue, nqueues;

static int cfg_send(uint16_t queue, uint8_t cmd, bool params, char *err,
		    size_t errlen)
{
	char buf[8192];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	uint32_t portid = mnl_socket_get_portid(nl);

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (cmd)
		nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, cmd);
	if (params) {
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
		nfq_nlmsg_cfg_put_qmaxlen(nlh, 8192);
		/* GSO packets segmented for us: a UDP batch read as one
		 * datagram would hide the datagrams after its first */
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, 0);
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	}
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto fail;
	int n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0 || mnl_cb_run(buf, (size_t)n, 0, portid, NULL, NULL) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "queue %u: %s", queue, strerror(errno));
	return -errno;
}

int queue_open(uint16_t first, uint16_t n, char *err, size_t errlen)
{
	int one = 1, size = (int)RCVBUF;

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "queue: netlink socket: %s",
			 strerror(errno));
		return -errno;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		   sizeof(size));
	/* a full socket buffer is counted, not a reason to fail reads */
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &one, sizeof(one));
	for (uint16_t q = first; q < first + n; q++) {
		int ret = cfg_send(q, NFQNL_CFG_CMD_BIND, true, err, errlen);

		if (ret)
			return ret;
	}
	first_queue = first;
	nqueues = n;
	vbuf = malloc(VBUF_SIZE);
	vlen = 0;
	return mnl_socket_get_fd(nl);
}

void queue_close(void)
{
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
	free(vbuf);
	vbuf = NULL;
}

struct rx {
	queue_handler h;
	void *arg;
};

/* NFQA_PRIORITY, which libnetfilter_queue's parser may not know. */
static uint32_t entry_id(const struct nlmsghdr *nlh)
{
	const struct nlattr *at;

	mnl_attr_for_each(at, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(at) == NFQA_PRIORITY &&
		    mnl_attr_get_payload_len(at) == 4)
			return ntohl(mnl_attr_get_u32(at));
	return 0;
}

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a[NFQA_MAX + 1] = { 0 };
	struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	struct nfqnl_msg_packet_hdr *ph;
	struct rx *rx = data;
	struct queued q = { 0 };

	if (nfq_nlmsg_parse(nlh, a) < 0 || !a[NFQA_PACKET_HDR])
		return MNL_CB_OK;	/* nothing we could give a verdict to */
	ph = mnl_attr_get_payload(a[NFQA_PACKET_HDR]);
	q.id = ntohl(ph->packet_id);
	q.queue = ntohs(g->res_id);
	if (a[NFQA_MARK])
		q.mark = ntohl(mnl_attr_get_u32(a[NFQA_MARK]));
	if (a[NFQA_IFINDEX_INDEV])
		q.indev = ntohl(mnl_attr_get_u32(a[NFQA_IFINDEX_INDEV]));
	if (a[NFQA_PAYLOAD]) {
		q.data = mnl_attr_get_payload(a[NFQA_PAYLOAD]);
		q.len = mnl_attr_get_payload_len(a[NFQA_PAYLOAD]);
	}
	q.entry = entry_id(nlh);
	rx->h(&q, rx->arg);
	return MNL_CB_OK;
}

/* Several packets a system call; fewer than asked for means the socket
 * is drained (epoll, level-triggered, says when more come): one call a
 * wake-up, where recv() took a second to learn EAGAIN. */
int queue_receive(queue_handler h, void *arg)
{
	static char bufs[RX_BATCH][RX_SIZE] __attribute__((aligned(8)));
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct rx rx = { h, arg };

	for (;;) {
		int n;

		for (int i = 0; i < RX_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], RX_SIZE };
			mm[i] = (struct mmsghdr){ .msg_hdr = {
				.msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(mnl_socket_get_fd(nl), mm, RX_BATCH, MSG_DONTWAIT,
			     NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == ENOBUFS) {
				drops++;
				continue;
			}
			return -errno;
		}
		for (int i = 0; i < n; i++)
			mnl_cb_run(bufs[i], mm[i].msg_len, 0, 0, packet_cb,
				   &rx);
		if (n < RX_BATCH)
			return 0;
	}
}

void queue_verdict(uint16_t queue, uint32_t id, int verdict, int64_t mark,
		   const uint8_t *pkt, size_t len)
{
	struct nlmsghdr *nlh;

	if (vlen + VMSG_MAX + len > VBUF_SIZE)
		queue_flush();
	nlh = nfq_nlmsg_put(vbuf + vlen, NFQNL_MSG_VERDICT, queue);
	nfq_nlmsg_verdict_put(nlh, (int)id, verdict);
	/* the conntrack id the queue rule put there (entry_id) */
	mnl_attr_put_u32(nlh, NFQA_PRIORITY, 0);
	if (mark >= 0)
		nfq_nlmsg_verdict_put_mark(nlh, (uint32_t)mark);
	if (pkt)
		nfq_nlmsg_verdict_put_pkt(nlh, pkt, (uint32_t)len);
	vlen += NLMSG_ALIGN(nlh->nlmsg_len);
}

int queue_flush(void)
{
	int ret = 0;

	/* many verdicts, one datagram */
	if (vlen && mnl_socket_sendto(nl, vbuf, vlen) < 0)
		ret = -errno;
	vlen = 0;
	return ret;
}

/* The kernel's own count, per queue: packets dropped because the queue
 * was full and because the socket buffer was. */
uint64_t queue_drops(void)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned long long q, peer, total, mode, range, dropped, udropped;
	uint64_t n = drops;

	while (f && fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %*[^\n]",
			   &q, &peer, &total, &mode, &range, &dropped,
			   &udropped) == 7)
		if (q >= first_queue && q < first_queue + nqueues)
			n += dropped + udropped;
	if (f)
		fclose(f);
	return n;
}
