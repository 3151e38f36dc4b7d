/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Another program's change to the table, seen in the nftables events.
 *
 * Every change the kernel commits is told to the NFNLGRP_NFTABLES group,
 * each message with the netlink port of the batch that made it, the
 * batch ending with a NEWGEN message that names the process. Ours carry
 * the daemon's port; an element the kernel times out, port 0 (not a
 * change anyone made). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include "nft.h"
#include "nft_watch.h"

static struct mnl_socket *nl;
static char buf[65536];		/* events, read by both readers */

int nft_watch_open(char *err, size_t errlen)
{
	int size = 8 << 20;

	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 1u << (NFNLGRP_NFTABLES - 1),
				   MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "nftables events: %s", strerror(errno));
		return -errno;
	}
	/* our own batches' events too: a rebuild is thousands of them */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		   sizeof(size));
	return mnl_socket_get_fd(nl);
}

void nft_watch_close(void)
{
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
}

struct seen {
	uint32_t own;
	bool foreign;
	char *who;
	size_t wholen;
};

static int attr_table(const struct nlattr *a, void *data)
{
	const char **name = data;

	/* the table's name is attribute 1 of every object's message */
	if (mnl_attr_get_type(a) == NFTA_TABLE_NAME &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		*name = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

struct gen {
	uint32_t pid;
	const char *name;
};

static int attr_gen(const struct nlattr *a, void *data)
{
	struct gen *g = data;

	if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		g->pid = ntohl(mnl_attr_get_u32(a));
	if (mnl_attr_get_type(a) == NFTA_GEN_PROC_NAME &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		g->name = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static bool ours(const struct nlmsghdr *h)
{
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(h);
	const char *name = NULL;

	if (g->nfgen_family != NFPROTO_INET)
		return false;
	mnl_attr_parse(h, sizeof(*g), attr_table, &name);
	return name && !strcmp(name, NFT_TABLE);
}

static int message(const struct nlmsghdr *h, void *data)
{
	struct seen *s = data;
	uint16_t type = NFNL_MSG_TYPE(h->nlmsg_type);
	struct gen g = { 0, NULL };

	if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)) ||
	    h->nlmsg_pid == s->own)
		return MNL_CB_OK;
	if (type == NFT_MSG_NEWGEN) {
		if (s->foreign && !*s->who) {
			mnl_attr_parse(h, sizeof(struct nfgenmsg), attr_gen,
				       &g);
			if (g.name)
				snprintf(s->who, s->wholen, "%s (pid %u)",
					 g.name, g.pid);
		}
		return MNL_CB_OK;
	}
	if (h->nlmsg_pid && ours(h))
		s->foreign = true;
	return MNL_CB_OK;
}

bool nft_watch_read(uint32_t own, char *who, size_t wholen)
{
	struct seen s = { own, false, who, wholen };
	ssize_t n;

	*who = '\0';
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
		mnl_cb_run(buf, (size_t)n, 0, 0, message, &s);
	if (n < 0 && errno == ENOBUFS) {	/* lost: maybe a change */
		snprintf(who, wholen, "unknown (events lost)");
		return true;
	}
	return s.foreign;
}

void nft_watch_who(uint32_t own, char *who, size_t wholen, int wait_ms)
{
	struct seen s = { own, true, who, wholen };
	struct pollfd p = { nl ? mnl_socket_get_fd(nl) : -1, POLLIN, 0 };
	ssize_t n;

	*who = '\0';
	while (!*who && poll(&p, 1, wait_ms) > 0)
		while (!*who &&
		       (n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
			mnl_cb_run(buf, (size_t)n, 0, 0, message, &s);
}
