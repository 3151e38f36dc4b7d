/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <endian.h>

#include <libmnl/libmnl.h>

#include "ct.h"
#include "ct_proc.h"

static struct mnl_socket *ct_open(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);

	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	return nl;
}

static struct nlmsghdr *ct_msg(char *buf, uint16_t type, uint16_t flags,
			       uint8_t family)
{
	static uint32_t seq;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	if (!seq)
		seq = (uint32_t)time(NULL);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++seq;	/* one answer per request: never mixed */
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return nlh;
}

static int flush_family(struct mnl_socket *nl, uint8_t family, uint32_t mark,
			uint32_t mask)
{
	char buf[8192];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	int n;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	/* no tuple: a flush, filtered by mark */
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, 0, NULL, NULL) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int ct_flush_mark(uint32_t mark, uint32_t mask, char *err, size_t errlen)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int ret = -EIO;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	if ((ret = flush_family(nl, AF_INET, mark, mask)) == 0)
		ret = flush_family(nl, AF_INET6, mark, mask);
out:
	if (ret)
		snprintf(err, errlen, "conntrack: %s", strerror(-ret));
	if (nl)
		mnl_socket_close(nl);
	return ret;
}

/* ---- dump and update ---- */

struct dump_ctx {
	ct_entry_fn fn;
	void *arg;
};

/* A table of attributes by type, up to max: a newer kernel's types past
 * it are skipped (Linux 6.14 adds CTA_TIMESTAMP_EVENT to the events once
 * time stamps are on; written into the table, it overran it). */
struct attrs {
	const struct nlattr **tb;
	uint16_t max;
};
#define ATTRS(tb, max) (&(struct attrs){ (tb), (max) })

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= t->max)
		t->tb[type] = a;
	return MNL_CB_OK;
}

/* CTA_TUPLE_ORIG into a flow key; false if it is not one we know. */
static bool tuple_parse(const struct nlattr *t, struct flow_key *k)
{
	const struct nlattr *tt[CTA_TUPLE_MAX + 1] = { 0 };
	const struct nlattr *ip[CTA_IP_MAX + 1] = { 0 };
	const struct nlattr *pr[CTA_PROTO_MAX + 1] = { 0 };

	memset(k, 0, sizeof(*k));
	if (mnl_attr_parse_nested(t, attr_cb, ATTRS(tt, CTA_TUPLE_MAX)) < 0 ||
	    !tt[CTA_TUPLE_IP] || !tt[CTA_TUPLE_PROTO] ||
	    mnl_attr_parse_nested(tt[CTA_TUPLE_IP], attr_cb,
				  ATTRS(ip, CTA_IP_MAX)) < 0 ||
	    mnl_attr_parse_nested(tt[CTA_TUPLE_PROTO], attr_cb,
				  ATTRS(pr, CTA_PROTO_MAX)) < 0 ||
	    !pr[CTA_PROTO_NUM])
		return false;
	if (ip[CTA_IP_V4_SRC] && ip[CTA_IP_V4_DST] &&
	    mnl_attr_get_payload_len(ip[CTA_IP_V4_SRC]) == 4) {
		k->family = AF_INET;
		memcpy(k->src, mnl_attr_get_payload(ip[CTA_IP_V4_SRC]), 4);
		memcpy(k->dst, mnl_attr_get_payload(ip[CTA_IP_V4_DST]), 4);
	} else if (ip[CTA_IP_V6_SRC] && ip[CTA_IP_V6_DST] &&
		   mnl_attr_get_payload_len(ip[CTA_IP_V6_SRC]) == 16) {
		k->family = AF_INET6;
		memcpy(k->src, mnl_attr_get_payload(ip[CTA_IP_V6_SRC]), 16);
		memcpy(k->dst, mnl_attr_get_payload(ip[CTA_IP_V6_DST]), 16);
	} else {
		return false;
	}
	k->proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	if (pr[CTA_PROTO_SRC_PORT] && pr[CTA_PROTO_DST_PORT]) {
		k->sport = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]));
		k->dport = ntohs(mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]));
	}
	return true;
}

/* An entry's attributes into tb, its original tuple and mark; false
 * when it is not one we know. */
static bool entry_parse(const struct nlmsghdr *nlh, const struct nlattr **tb,
			struct flow_key *k, uint32_t *mark)
{
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb,
			   ATTRS(tb, CTA_MAX)) < 0 ||
	    !tb[CTA_TUPLE_ORIG] || !tb[CTA_MARK] ||
	    !tuple_parse(tb[CTA_TUPLE_ORIG], k))
		return false;
	*mark = ntohl(mnl_attr_get_u32(tb[CTA_MARK]));
	return true;
}

/* TIME_WAIT or CLOSE, from CTA_PROTOINFO's TCP state. */
static bool tcp_ended(const struct nlattr *protoinfo)
{
	const struct nlattr *pi[CTA_PROTOINFO_MAX + 1] = { 0 };
	const struct nlattr *tcp[CTA_PROTOINFO_TCP_MAX + 1] = { 0 };
	uint8_t st;

	if (!protoinfo ||
	    mnl_attr_parse_nested(protoinfo, attr_cb,
				  ATTRS(pi, CTA_PROTOINFO_MAX)) < 0 ||
	    !pi[CTA_PROTOINFO_TCP] ||
	    mnl_attr_parse_nested(pi[CTA_PROTOINFO_TCP], attr_cb,
				  ATTRS(tcp, CTA_PROTOINFO_TCP_MAX)) < 0 ||
	    !tcp[CTA_PROTOINFO_TCP_STATE] ||
	    mnl_attr_validate(tcp[CTA_PROTOINFO_TCP_STATE], MNL_TYPE_U8) < 0)
		return false;
	st = mnl_attr_get_u8(tcp[CTA_PROTOINFO_TCP_STATE]);
	return st == TCP_CONNTRACK_TIME_WAIT || st == TCP_CONNTRACK_CLOSE;
}

static int entry_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTA_MAX + 1] = { 0 };
	struct dump_ctx *c = data;
	struct flow_key k;
	uint32_t mark;

	if (entry_parse(nlh, tb, &k, &mark))
		c->fn(&k, mark, tcp_ended(tb[CTA_PROTOINFO]), c->arg);
	return MNL_CB_OK;
}

/* A small table is read from /proc (no bucket locks), a big one dumped
 * (the kernel filters it by mark before formatting). */
#define PROC_WALK_MAX 2000

int ct_each(uint32_t mark, uint32_t mask, ct_entry_fn fn, void *arg,
	    char *err, size_t errlen)
{
	static char buf[65536];
	long entries = ct_proc_count();
	struct mnl_socket *nl;
	struct dump_ctx c = { fn, arg };
	struct nlmsghdr *nlh;
	int n, ret = 0;

	/* -EBADF: unread, the dump does it */
	if (entries >= 0 && entries <= PROC_WALK_MAX &&
	    (ret = ct_proc_each(mark, mask, fn, arg)) != -EBADF) {
		if (ret)
			snprintf(err, errlen, "/proc/net/nf_conntrack: %s",
				 strerror(-ret));
		return ret;
	}
	ret = 0;
	if (!(nl = ct_open())) {
		snprintf(err, errlen, "conntrack: %s", strerror(errno));
		return -errno;
	}
	nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, AF_UNSPEC);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		ret = -errno;
	while (ret == 0) {
		n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			ret = -errno;
			break;
		}
		n = mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl),
			       entry_cb, &c);
		if (n <= MNL_CB_STOP) {
			if (n < 0)
				ret = -errno;
			break;
		}
	}
	if (ret)
		snprintf(err, errlen, "conntrack dump: %s", strerror(-ret));
	mnl_socket_close(nl);
	return ret;
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t which,
		      const struct flow_key *k)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, which);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	struct nlattr *pr;

	if (k->family == AF_INET) {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, k->src);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, k->dst);
	} else {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, k->src);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, k->dst);
	}
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, k->proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(k->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(k->dport));
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, t);
}

/* One socket for updates and lookups, opened at the first and kept: a
 * policy change may update many entries, DNS looks one up per query. */
static struct mnl_socket *upd;

/* One request, its answer through `cb'. */
static int ct_request(struct nlmsghdr *nlh, char *buf, size_t len,
		      mnl_cb_t cb, void *arg)
{
	uint32_t seq = nlh->nlmsg_seq;
	int n;

	if (!upd && !(upd = ct_open()))
		return -errno;
	if (mnl_socket_sendto(upd, nlh, nlh->nlmsg_len) < 0 ||
	    (n = (int)mnl_socket_recvfrom(upd, buf, len)) < 0 ||
	    mnl_cb_run(buf, (size_t)n, seq, 0, cb, arg) < 0)
		return -errno;
	return 0;
}

struct lookup {
	struct flow_key *orig;
	uint32_t *mark;
	bool found;
};

static int lookup_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTA_MAX + 1] = { 0 };
	struct lookup *l = data;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb,
			   ATTRS(tb, CTA_MAX)) < 0 ||
	    !tb[CTA_TUPLE_ORIG] || !tuple_parse(tb[CTA_TUPLE_ORIG], l->orig))
		return MNL_CB_OK;
	*l->mark = tb[CTA_MARK] ? ntohl(mnl_attr_get_u32(tb[CTA_MARK])) : 0;
	l->found = true;
	return MNL_CB_OK;
}

static int ct_get(uint16_t which, const struct flow_key *k,
		  struct flow_key *orig, uint32_t *mark)
{
	char buf[4096];
	struct lookup l = { orig, mark, false };
	struct nlmsghdr *nlh;
	int rc;

	/* no NLM_F_ACK: the entry, or an error, is the one answer */
	nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, 0, k->family);
	put_tuple(nlh, which, k);
	if ((rc = ct_request(nlh, buf, sizeof(buf), lookup_cb, &l)) < 0)
		return rc;
	return l.found ? 0 : -ENOENT;
}

int ct_get_reply(const struct flow_key *reply, struct flow_key *orig,
		 uint32_t *mark)
{
	return ct_get(CTA_TUPLE_REPLY, reply, orig, mark);
}

int ct_get_entry(const struct flow_key *k, struct flow_key *orig,
		 uint32_t *mark)
{
	return ct_get(CTA_TUPLE_ORIG, k, orig, mark);
}

int ct_get_mark(const struct flow_key *k, uint32_t *mark)
{
	struct flow_key orig;

	return ct_get_entry(k, &orig, mark);
}

int ct_set_mark(const struct flow_key *k, uint32_t value, uint32_t mask)
{
	char buf[1024];
	struct nlmsghdr *nlh;

	/* no NLM_F_CREATE: an update of the entry with this tuple */
	nlh = ct_msg(buf, IPCTNL_MSG_CT_NEW, NLM_F_ACK, k->family);
	put_tuple(nlh, CTA_TUPLE_ORIG, k);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(value & mask));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
	return ct_request(nlh, buf, sizeof(buf), NULL, NULL);
}

int ct_delete(const struct flow_key *k)
{
	char buf[1024];
	struct nlmsghdr *nlh;

	nlh = ct_msg(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, k->family);
	put_tuple(nlh, CTA_TUPLE_ORIG, k);
	return ct_request(nlh, buf, sizeof(buf), NULL, NULL);
}

/* ---- ends of flows (destroy events, with accounting) ---- */

static struct mnl_socket *events;

int ct_events_open(char *err, size_t errlen)
{
	static const char *const sysctls[] = {
		"/proc/sys/net/netfilter/nf_conntrack_acct",
		"/proc/sys/net/netfilter/nf_conntrack_timestamp",
	};
	int size = 8 << 20, one = 1;
	FILE *f;

	/* byte counters on every entry, from now on; and its start, which
	 * tells its row from that of a newer flow on the same ends (a port
	 * used again ends the entry in TIME_WAIT as the new one begins) */
	for (size_t i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++)
		if ((f = fopen(sysctls[i], "w"))) {
			fputs("1", f);
			fclose(f);
		}
	events = mnl_socket_open(NETLINK_NETFILTER);
	if (!events || mnl_socket_bind(events, 1u << (NFNLGRP_CONNTRACK_DESTROY -
						      1), MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "conntrack events: %s", strerror(errno));
		return -1;
	}
	setsockopt(mnl_socket_get_fd(events), SOL_SOCKET, SO_RCVBUFFORCE,
		   &size, sizeof(size));
	/* an overrun loses ends (their rows keep no end time), not reads */
	setsockopt(mnl_socket_get_fd(events), SOL_NETLINK, NETLINK_NO_ENOBUFS,
		   &one, sizeof(one));
	return mnl_socket_get_fd(events);
}

static uint64_t counter_bytes(const struct nlattr *c)
{
	const struct nlattr *tb[CTA_COUNTERS_MAX + 1] = { 0 };

	if (!c || mnl_attr_parse_nested(c, attr_cb,
					ATTRS(tb, CTA_COUNTERS_MAX)) < 0 ||
	    !tb[CTA_COUNTERS_BYTES])
		return 0;
	return be64toh(mnl_attr_get_u64(tb[CTA_COUNTERS_BYTES]));
}

/* CTA_TIMESTAMP's start (ns, CLOCK_REALTIME); 0 when it has none. */
static uint64_t start_ns(const struct nlattr *t)
{
	const struct nlattr *tb[CTA_TIMESTAMP_MAX + 1] = { 0 };

	if (!t || mnl_attr_parse_nested(t, attr_cb,
					ATTRS(tb, CTA_TIMESTAMP_MAX)) < 0 ||
	    !tb[CTA_TIMESTAMP_START] ||
	    mnl_attr_validate(tb[CTA_TIMESTAMP_START], MNL_TYPE_U64) < 0)
		return 0;
	return be64toh(mnl_attr_get_u64(tb[CTA_TIMESTAMP_START]));
}

struct end_ctx {
	ct_end_fn fn;
	void *arg;
};

static int end_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTA_MAX + 1] = { 0 };
	struct end_ctx *c = data;
	struct flow_key k;
	uint32_t mark;

	if (entry_parse(nlh, tb, &k, &mark))
		c->fn(&k, mark, counter_bytes(tb[CTA_COUNTERS_ORIG]),
		      counter_bytes(tb[CTA_COUNTERS_REPLY]),
		      start_ns(tb[CTA_TIMESTAMP]), c->arg);
	return MNL_CB_OK;
}

int ct_restart(const struct flow_key *k, uint32_t state_mask, ct_end_fn fn,
	       void *arg)
{
	char buf[4096];
	struct end_ctx c = { fn, arg };
	struct nlmsghdr *nlh;
	int rc;

	/* the entry as it is, its counters zeroed in the same step */
	nlh = ct_msg(buf, IPCTNL_MSG_CT_GET_CTRZERO, 0, k->family);
	put_tuple(nlh, CTA_TUPLE_ORIG, k);
	if ((rc = ct_request(nlh, buf, sizeof(buf), end_cb, &c)) < 0)
		return rc;
	return ct_set_mark(k, 0, state_mask);
}

void ct_events_read(ct_end_fn fn, void *arg)
{
	static char buf[65536];
	struct end_ctx c = { fn, arg };
	int n;

	while ((n = (int)recv(mnl_socket_get_fd(events), buf, sizeof(buf),
			      MSG_DONTWAIT)) > 0)
		mnl_cb_run(buf, (size_t)n, 0, 0, end_cb, &c);
}

void ct_fini(void)
{
	if (upd)
		mnl_socket_close(upd);
	upd = NULL;
	if (events)
		mnl_socket_close(events);
	events = NULL;
	ct_proc_close();
}
