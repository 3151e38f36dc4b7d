/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The netlink side of the `inet sbxfw` table: the socket, the batch
 * every change is sent in (one buffer; each message's meaning kept by its
 * sequence number), the messages for the table, a chain and a rule, and
 * the commit that reads every ACK and names the message the first error
 * belongs to. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "nft_int.h"

#define BATCH_SIZE (4u << 20)

static struct mnl_socket *nl;
const char *table = NFT_TABLE;	/* another only while probing */
static uint32_t seq;

/* ---- batches, with each message's meaning kept for error reports ---- */

/* One buffer for every batch: 8 MiB malloc'd and freed per change was
 * an mmap, page faults and an munmap with its TLB shootdown each time.
 * Pages past BATCH_KEEP a big batch touched are given back after it. */
#define BATCH_KEEP (512u << 10)
static char batch_buf[BATCH_SIZE * 2] __attribute__((aligned(4096)));

void batch_begin(struct batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	/* the message that crosses the limit is written past it */
	bt->buf = batch_buf;
	bt->b = mnl_nlmsg_batch_start(bt->buf, BATCH_SIZE);
	bt->first_seq = bt->next_seq = ++seq;
	seq += 1u << 20;	/* room for this batch's messages */
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), bt->next_seq++);
	mnl_nlmsg_batch_next(bt->b);
}

struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type,
			   uint16_t flags, const char *what)
{
	static char scratch[65536];
	void *at = bt->overflow ? scratch : mnl_nlmsg_batch_current(bt->b);

	if (bt->nwhat == bt->cap) {
		bt->cap = bt->cap ? bt->cap * 2 : 64;
		bt->what = realloc(bt->what, bt->cap * sizeof(*bt->what));
	}
	bt->what[bt->nwhat++] = what;
	return nftnl_nlmsg_build_hdr(at, type, NFPROTO_INET,
				     flags | NLM_F_ACK, bt->next_seq++);
}

/* Past the limit the batch fails at commit; messages go to scratch. */
void batch_done_msg(struct batch *bt)
{
	if (!bt->overflow && !mnl_nlmsg_batch_next(bt->b))
		bt->overflow = true;
}

static void batch_free(struct batch *bt)
{
	size_t used = bt->b ? mnl_nlmsg_batch_size(bt->b) : 0;

	if (bt->b)
		mnl_nlmsg_batch_stop(bt->b);
	if (used > BATCH_KEEP || bt->overflow)
		madvise(batch_buf + BATCH_KEEP, sizeof(batch_buf) - BATCH_KEEP,
			MADV_DONTNEED);
	free(bt->what);
}

/* The message a batch error belongs to, by sequence number. */
static const char *batch_what(const struct batch *bt, uint32_t s)
{
	uint32_t i = s - bt->first_seq - 1;

	return i < bt->nwhat ? bt->what[i] : "batch";
}

/* Send the batch and read every ACK; the first error names its message. */
int batch_commit(struct batch *bt, char *err, size_t errlen)
{
	char rbuf[8192];
	size_t acks = 0;
	int n, ret = -EIO, first = 0;
	const char *what = NULL;

	if (bt->overflow) {
		snprintf(err, errlen, "nft: batch larger than %u bytes",
			 BATCH_SIZE);
		ret = -E2BIG;
		goto out;
	}
	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), bt->next_seq++);
	mnl_nlmsg_batch_next(bt->b);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b),
			      mnl_nlmsg_batch_size(bt->b)) < 0) {
		snprintf(err, errlen, "nft: send: %s", strerror(errno));
		goto out;
	}
	/* One ACK per message (NLM_F_ACK); after an error the kernel aborts
	 * the batch and acknowledges the rest with errors or not at all, so
	 * stop at the first one. */
	while (acks < bt->nwhat && !first) {
		n = (int)mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
		if (n < 0) {
			snprintf(err, errlen, "nft: receive: %s",
				 strerror(errno));
			goto out;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(h, n); h = mnl_nlmsg_next(h, &n)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

			if (h->nlmsg_type != NLMSG_ERROR ||
			    h->nlmsg_seq <= bt->first_seq ||
			    h->nlmsg_seq >= bt->next_seq)
				continue;	/* not this batch's */
			acks++;
			if (e->error && !first) {
				first = e->error;
				what = batch_what(bt, h->nlmsg_seq);
			}
		}
	}
	if (first) {
		snprintf(err, errlen, "nft: %s: %s", what, strerror(-first));
		ret = first;
		goto out;
	}
	ret = 0;
out:
	batch_free(bt);
	return ret;
}

int nft_init(char *err, size_t errlen)
{
	int size = (int)BATCH_SIZE * 2, one = 1;

	if (nl)
		return 0;
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "nft: netlink socket: %s",
			 strerror(errno));
		return -errno;
	}
	seq = (uint32_t)time(NULL);
	/* large batches (many ranges) in one sendmsg, many ACKs back */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &size,
		   sizeof(size));
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		   sizeof(size));
	/* an error's ACK without the request it refuses (a message of many
	 * elements would not fit the receive buffer, hiding the error) */
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_CAP_ACK, &one,
		   sizeof(one));
	return 0;
}

void nft_fini(void)
{
	if (nl)
		mnl_socket_close(nl);
	nl = NULL;
}

/* ---- messages: the table, a chain, a rule ---- */

/* flags: only on creating; an existing table is then left as it is */
void msg_table(struct batch *bt, uint16_t type, uint32_t flags,
	       const char *what)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	if (flags)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	nlh = batch_msg(bt, type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
			what);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	batch_done_msg(bt);
}

/* type NULL: a regular chain, jumped to */
void msg_chain(struct batch *bt, const char *name, const char *type,
	       uint32_t hook, int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (type) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = batch_msg(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, name);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	batch_done_msg(bt);
}

struct nftnl_rule *rule_new(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return r;
}

void msg_rule(struct batch *bt, struct nftnl_rule *r, const char *what)
{
	struct nlmsghdr *nlh = batch_msg(bt, NFT_MSG_NEWRULE,
					 NLM_F_APPEND | NLM_F_CREATE, what);

	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_done_msg(bt);
}

uint32_t nft_portid(void)
{
	return nl ? mnl_socket_get_portid(nl) : 0;
}

int nft_table_delete(char *err, size_t errlen)
{
	struct batch bt;

	batch_begin(&bt);
	msg_table(&bt, NFT_MSG_DELTABLE, 0, "table");
	return batch_commit(&bt, err, errlen);
}
