/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdio.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "audit.h"
#include "clienthello.h"
#include "clock.h"
#include "conns.h"
#include "ct.h"
#include "flow_judge.h"
#include "hellos.h"
#include "log.h"
#include "nflog.h"
#include "nft.h"
#include "pkt.h"
#include "quic.h"
#include "sandbox.h"

#define BATCH_MS 50		/* the kernel holds a batch this long at most */

static struct mnl_socket *nl;
static const struct marks *marks;

static struct nlmsghdr *msg_put(char *buf, uint16_t type, uint16_t group)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(group);
	return nlh;
}

static int config(uint16_t group, char *err, size_t errlen)
{
	char buf[8192];
	struct nlmsghdr *nlh = msg_put(buf, NFULNL_MSG_CONFIG, group);
	struct nfulnl_msg_config_cmd cmd = { NFULNL_CFG_CMD_BIND };
	struct nfulnl_msg_config_mode mode = {
		/* each rule copies less: its snaplen */
		.copy_range = htonl(NFLOG_NAME_SNAPLEN),
		.copy_mode = NFULNL_COPY_PACKET,
	};
	int n;

	mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof(cmd), &cmd);
	mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof(mode), &mode);
	/* batched by the kernel, but never held more than 50 ms */
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(64));
	mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(BATCH_MS / 10));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ||
	    (n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf))) < 0 ||
	    mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl), NULL,
		       NULL) < 0) {
		snprintf(err, errlen, "nflog group %u: %s", group,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

int nflog_open(uint16_t group, const struct marks *m, char *err,
	       size_t errlen)
{
	int one = 1, size = 8 << 20, ret;

	marks = m;
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "nflog: netlink socket: %s",
			 strerror(errno));
		return -errno;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &one, sizeof(one));
	/* what overruns the socket is lost without a word: room for the
	 * rows and hellos of a burst of flows while the daemon is busy */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		   sizeof(size));
	if ((ret = config(group, err, errlen)))
		return ret;
	return mnl_socket_get_fd(nl);
}

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFULA_MAX) > 0)
		tb[type] = a;
	return MNL_CB_OK;
}

/* The kernel's reasons, which are the rules' log prefixes; "in:" before
 * one: a flow opened towards the sandbox, whose rule is the remote end's
 * range. */
static const struct {
	const char *name;
	bool allow;
} reasons[] = {
	{ "range-denied", false }, { "mode-deny-all", false },
	{ "range-allowed", true }, { "mode-allow-all", true },
	{ "not-tls", false }, { "inbound-not-allowed", false },
	{ "flow-limit", false },
};

static void record(const char *prefix, uint32_t mark, const struct pkt *p)
{
	struct sandbox *sb = sandbox_get(mark_get_id(marks, mark));
	bool in = !strncmp(prefix, "in:", 3);
	struct flow_key k, at;
	struct flow_query q = { 0 };
	struct verdict_result v = { 0 };
	struct judgement j;
	size_t i;

	if (in)
		prefix += 3;
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (!strcmp(prefix, reasons[i].name))
			break;
	if (i == sizeof(reasons) / sizeof(reasons[0]))
		return;
	flow_key_of(p, &k);
	/* a new flow: a port used again, its ends are another flow's */
	conns_forget(&k);
	hellos_forget(&k);
	v.verdict = reasons[i].allow ? VERDICT_ALLOW : VERDICT_DENY;
	v.reason = reasons[i].name;
	/* the rule: the judge's own word, which the kernel mirrors */
	at = k;
	if (in)
		memcpy(at.dst, p->src, 16);
	if (sb) {
		flow_judge(sb, &at, &q, BIND_NONE, &j);
		if (!strcmp(j.v.reason, v.reason))
			snprintf(v.rule, sizeof(v.rule), "%s", j.v.rule);
		if (reasons[i].allow)
			sb->allowed++;
		else
			sb->denied++;
	}
	flow_judge_audit_dir(sb, &k, NULL, &v, reasons[i].allow, in);
}

/* A flow the kernel allowed is named: for the audit, and for the policy
 * changes that judge open flows again (conns). */
static void name(const struct flow_key *k, const struct client_hello *ch,
		 struct quic_conn *qc)
{
	struct sandbox *sb;
	uint32_t mark;

	/* its sandbox: the ct mark's (the fast path leaves the packet's
	 * mark as it was; NFLOG here cannot carry the entry) */
	if (ct_get_mark(k, &mark) < 0 ||
	    !(sb = sandbox_get(mark_get_id(marks, mark)))) {
		quic_conn_free(qc);
		return;
	}
	conns_add(k, ch->sni, ch->sni_len);
	if (qc)
		conns_set_quic(k, qc);
	audit_flow_name(sb->name, k, ch->sni);
}

/* A hello, or part of one, of a flow the kernel allowed without reading
 * it: TCP segments (the one that starts the hello, those after it) and
 * QUIC Initials, gathered until the server_name is whole. */
static void named(const struct pkt *p)
{
	struct quic_conn *qc = NULL;
	struct client_hello ch;
	struct flow_key k;
	enum hello_step st;

	flow_key_of(p, &k);
	/* named already: by the daemon's verdict, or by a packet before */
	if (conns_sni(&k))
		return;
	if (p->proto == IPPROTO_TCP)
		st = hellos_tcp(&k, p, now_ns(), &ch);
	else if (p->proto == IPPROTO_UDP)
		st = hellos_quic(&k, p, &ch, &qc);
	else
		return;
	if (st == HELLO_NAMED)
		name(&k, &ch, qc);
}

void nflog_close(void)
{
	hellos_fini();
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
}

static int packet_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFULA_MAX + 1] = { 0 };
	char prefix[64];
	uint32_t mark = 0;
	struct pkt p;

	(void)data;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, tb) < 0 ||
	    !tb[NFULA_PREFIX] || !tb[NFULA_PAYLOAD])
		return MNL_CB_OK;
	snprintf(prefix, sizeof(prefix), "%.*s",
		 (int)mnl_attr_get_payload_len(tb[NFULA_PREFIX]),
		 (const char *)mnl_attr_get_payload(tb[NFULA_PREFIX]));
	if (tb[NFULA_MARK])
		mark = ntohl(mnl_attr_get_u32(tb[NFULA_MARK]));
	log_debug("nflog: %s mark 0x%08x", prefix, mark);
	memset(&p, 0, sizeof(p));
	/* non-TCP/UDP packets are refused, but still audited */
	switch (pkt_decode(PKT_LINKTYPE_RAW, mnl_attr_get_payload(
				   tb[NFULA_PAYLOAD]),
			   mnl_attr_get_payload_len(tb[NFULA_PAYLOAD]), &p)) {
	case PKT_OK:
	case PKT_IGNORED:
		if (!strcmp(prefix, NFLOG_NAME_PREFIX))
			named(&p);
		else
			record(prefix, mark, &p);
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

int nflog_receive(void)
{
	static char buf[65536];	/* a batch, or one whole ClientHello */

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf),
				 MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		mnl_cb_run(buf, (size_t)n, 0, 0, packet_cb, NULL);
	}
}

/* At a stop: what the kernel still holds in a batch comes within
 * BATCH_MS; read until a batch's time passes without any (SIGTERM loses
 * no audit row, SPEC §8), for a few batches at most. */
void nflog_drain(void)
{
	struct pollfd p = { .fd = nl ? mnl_socket_get_fd(nl) : -1,
			    .events = POLLIN };

	for (int i = 0; i < 8 && poll(&p, 1, BATCH_MS * 2) > 0; i++)
		nflog_receive();
	nflog_receive();
}
