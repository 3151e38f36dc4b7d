/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The `inet sbxfw` table, built through libnftnl, one batch per change.
 *
 * forward (hook forward, priority -10):
 *   decided flows take the fast path on their ct mark; the first packet of
 *   an undecided flow is classified into a sandbox (its id OR-ed into the
 *   ct mark bit by bit, since nftables cannot OR two registers), then the
 *   kernel decides what ranges and modes decide; what needs the payload is
 *   marked "pending" and queued with the bypass flag.
 * commit (hook forward, priority -9): a verdict mark from the daemon goes
 *   into the ct mark; a packet still "pending" was bypassed because no
 *   daemon listens, and is refused (fail closed) or let through (fail_open).
 */
#include <netinet/in.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "nft.h"
#include "xalloc.h"

#define R0 NFT_REG32_00
#define R1 NFT_REG32_01
#define R2 NFT_REG32_02
#define R3 NFT_REG32_03
#define R4 NFT_REG32_04
#define R5 NFT_REG32_05
#define R8 NFT_REG32_08

#define BATCH_SIZE (4u << 20)
#define FIRST_TIMEOUT_MS 10000	/* SYN-ACK to ClientHello, generously */
#define FIRST_SIZE 131072	/* ~13,000 new TCP flows/s sustained */

static struct mnl_socket *nl;
static const char *table = NFT_TABLE;	/* another only while probing */
static uint32_t seq;
/* NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST once the kernel took them */
static uint32_t table_flags;
static bool cannot_own;		/* the kernel refused them once */

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

/* ---- batches, with each message's meaning kept for error reports ---- */

struct batch {
	struct mnl_nlmsg_batch *b;
	char *buf;
	uint32_t first_seq, next_seq;
	const char **what;	/* by seq - first_seq */
	size_t nwhat, cap;
	bool overflow;
};

/* One buffer for every batch: 8 MiB malloc'd and freed per change was
 * an mmap, page faults and an munmap with its TLB shootdown each time.
 * Pages past BATCH_KEEP a big batch touched are given back after it. */
#define BATCH_KEEP (512u << 10)
static char batch_buf[BATCH_SIZE * 2] __attribute__((aligned(4096)));

static void batch_begin(struct batch *bt)
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

static struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type,
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
static void batch_done_msg(struct batch *bt)
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
static int batch_commit(struct batch *bt, char *err, size_t errlen)
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

/* ---- expressions ---- */

static void x_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

/* A meta or ct key loaded into a register, or set from one. */
static void x_keyed(struct nftnl_rule *r, bool ct, uint32_t key, uint32_t reg,
		    bool set)
{
	struct nftnl_expr *e = nftnl_expr_alloc(ct ? "ct" : "meta");

	nftnl_expr_set_u32(e, ct ? NFTNL_EXPR_CT_KEY : NFTNL_EXPR_META_KEY,
			   key);
	if (set)
		nftnl_expr_set_u32(e, ct ? NFTNL_EXPR_CT_SREG :
				   NFTNL_EXPR_META_SREG, reg);
	else
		nftnl_expr_set_u32(e, ct ? NFTNL_EXPR_CT_DREG :
				   NFTNL_EXPR_META_DREG, reg);
	x_add(r, e);
}

#define x_meta(r, key, reg) x_keyed(r, false, key, reg, false)
#define x_meta_set(r, key, reg) x_keyed(r, false, key, reg, true)
#define x_ct(r, key, reg) x_keyed(r, true, key, reg, false)
#define x_ct_set(r, key, reg) x_keyed(r, true, key, reg, true)

static void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
		      uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	x_add(r, e);
}

/* reg = (reg & mask) ^ xor over len bytes (1 or 4) */
static void x_bitwise(struct nftnl_rule *r, uint32_t reg, uint32_t len,
		      uint32_t mask, uint32_t xor)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint8_t m8 = (uint8_t)mask, x8 = (uint8_t)xor;

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, len == 1 ? (void *)&m8 :
		       (void *)&mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, len == 1 ? (void *)&x8 :
		       (void *)&xor, len);
	x_add(r, e);
}

/* reg = (reg & mask) ^ xor over len bytes, given as bytes */
static void x_bitwise_bytes(struct nftnl_rule *r, uint32_t reg, uint32_t len,
			    const uint8_t *mask, const uint8_t *xor)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	x_add(r, e);
}

/* Write len bytes of reg at off in the network header; csum_off: the
 * IPv4 header checksum to fix, or 0. */
static void x_payload_write(struct nftnl_rule *r, uint32_t off, uint32_t len,
			    uint32_t reg, uint32_t csum_off)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE,
			   NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, reg);
	if (csum_off) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE,
				   NFT_PAYLOAD_CSUM_INET);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET,
				   csum_off);
	}
	x_add(r, e);
}

/* fib saddr . iif oif present: 0 in reg when the route back to the
 * source does not leave through the interface the packet came in by */
static void x_fib_rpf(struct nftnl_rule *r, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR |
			   NFTA_FIB_F_IIF | NFTA_FIB_F_PRESENT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_OIF);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, reg);
	x_add(r, e);
}

static void x_cmp(struct nftnl_rule *r, uint32_t reg, uint32_t op,
		  const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	x_add(r, e);
}

/* A host-order u32 in reg to network order, for an ordered compare. */
static void x_hton32(struct nftnl_rule *r, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 4);
	x_add(r, e);
}

static void x_cmp8(struct nftnl_rule *r, uint32_t reg, uint32_t op, uint8_t v)
{
	x_cmp(r, reg, op, &v, 1);
}

static void x_cmp32(struct nftnl_rule *r, uint32_t reg, uint32_t op,
		    uint32_t v)
{
	x_cmp(r, reg, op, &v, 4);
}

/* dreg 0: a set membership test; otherwise a map lookup into dreg */
static void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set,
		     uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
	x_add(r, e);
}

static void x_dynset_add(struct nftnl_rule *r, uint32_t sreg, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");

	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	x_add(r, e);
}

static void x_imm32(struct nftnl_rule *r, uint32_t reg, uint32_t v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &v, sizeof(v));
	x_add(r, e);
}

/* Only while a daemon lives: what the kernel allows on its own (ranges,
 * allow-all, the broker's redirect) waits for the queue otherwise, and
 * the queue without a listener refuses (SPEC §1.5), after a crash too. */
static void m_alive(struct nftnl_rule *r)
{
	x_imm32(r, R8, 0);
	x_lookup(r, R8, "alive", 0);
}

static void x_verdict(struct nftnl_rule *r, int code, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	x_add(r, e);
}

static void x_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	x_add(r, e);
}

static void x_log_len(struct nftnl_rule *r, uint16_t group,
		      const char *prefix, uint32_t snaplen)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, snaplen);
	x_add(r, e);
}

/* an audit row's worth: the headers */
static void x_log(struct nftnl_rule *r, uint16_t group, const char *prefix)
{
	x_log_len(r, group, prefix, 128);
}

/* bypass: with no daemon, accept (to the commit chain, which refuses);
 * without, drop */
static void x_queue(struct nftnl_rule *r, const struct nft_opts *o,
		    bool bypass)
{
	struct nftnl_expr *e;
	uint16_t flags = o->queues > 1 ? NFT_QUEUE_FLAG_CPU_FANOUT : 0;

	if (bypass)
		flags |= NFT_QUEUE_FLAG_BYPASS;
	if (o->native_queue) {
		e = nftnl_expr_alloc("queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, o->queue);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, o->queues);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, flags);
	} else {
		/* xt_NFQ_info_v3, padded to XT_ALIGN as nft_compat checks;
		 * libnftnl keeps (and frees) the pointer it is given */
		uint8_t *info = calloc(1, 8);
		struct xt_NFQ_info_v3 v = {
			.queuenum = o->queue, .queues_total = o->queues,
			.flags = (o->queues > 1 ? NFQ_FLAG_CPU_FANOUT : 0) |
				 (bypass ? NFQ_FLAG_BYPASS : 0),
		};

		memcpy(info, &v, sizeof(v));
		e = nftnl_expr_alloc("target");
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, 8);
	}
	x_add(r, e);
}

/* redirect to :port (this host, the address the packet came to) */
static void x_redirect(struct nftnl_rule *r, uint16_t port)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");
	uint16_t p = htons(port);

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, R1);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &p, sizeof(p));
	x_add(r, e);
	e = nftnl_expr_alloc("redir");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, R1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MAX, R1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_FLAGS,
			   NF_NAT_RANGE_PROTO_SPECIFIED);
	x_add(r, e);
}

/* ---- compound matches and statements ---- */

static void m_nfproto(struct nftnl_rule *r, uint8_t proto)
{
	x_meta(r, NFT_META_NFPROTO, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, proto);
}

static void m_l4proto(struct nftnl_rule *r, uint32_t op, uint8_t proto)
{
	x_meta(r, NFT_META_L4PROTO, R0);
	x_cmp8(r, R0, op, proto);
}

/* (ct|meta) mark & mask op value */
static void m_mark(struct nftnl_rule *r, bool ct, uint32_t mask, uint32_t op,
		   uint32_t value)
{
	if (ct)
		x_ct(r, NFT_CT_MARK, R0);
	else
		x_meta(r, NFT_META_MARK, R0);
	x_bitwise(r, R0, 4, mask, 0);
	x_cmp32(r, R0, op, value);
}

/* (ct|meta) mark = (mark & ~clear) | set */
static void s_mark(struct nftnl_rule *r, bool ct, uint32_t clear, uint32_t set)
{
	if (ct)
		x_ct(r, NFT_CT_MARK, R0);
	else
		x_meta(r, NFT_META_MARK, R0);
	x_bitwise(r, R0, 4, ~(clear | set), set);
	if (ct)
		x_ct_set(r, NFT_CT_MARK, R0);
	else
		x_meta_set(r, NFT_META_MARK, R0);
}

static void m_ct_direction(struct nftnl_rule *r, uint8_t dir)
{
	x_ct(r, NFT_CT_DIRECTION, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, dir);
}

/* The sandbox id of the ct mark in R0, for set keys. */
static void k_sandbox(struct nftnl_rule *r, const struct marks *m)
{
	x_ct(r, NFT_CT_MARK, R0);
	x_bitwise(r, R0, 4, m->id, 0);
}

/* IPv4 and IPv6 addresses in the network header */
#define V4_SADDR 12
#define V4_DADDR 16
#define V6_SADDR 8
#define V6_DADDR 24

static uint32_t addr_off(int v6, bool dst)
{
	return v6 ? (dst ? V6_DADDR : V6_SADDR) : (dst ? V4_DADDR : V4_SADDR);
}

static uint32_t addr_len(int v6)
{
	return v6 ? 16 : 4;
}

/* A TCP flow key into consecutive registers from R0: source, destination
 * (or the reverse, for a reply), ports, then the 32-bit field at th_off:
 * the sequence number of an original packet is matched against the
 * acknowledgement number of the server's SYN-ACK. */
static void k_tcp_first(struct nftnl_rule *r, int v6, bool reply,
			uint32_t th_off)
{
	uint32_t al = addr_len(v6), reg = R0;

	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off(v6, reply), al, reg);
	reg += al / 4;
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off(v6, !reply), al, reg);
	reg += al / 4;
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, reply ? 2 : 0, 2, reg++);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, reply ? 0 : 2, 2, reg++);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, th_off, 4, reg);
}

/* ---- table, sets, chains ---- */

/* flags: only on creating; an existing table is then left as it is */
static void msg_table(struct batch *bt, uint16_t type, uint32_t flags,
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

enum set_kind { SK_HASH, SK_INTERVAL, SK_CONCAT_INTERVAL, SK_DYNAMIC,
		SK_METER, SK_TIMED };

/* nft's datatype numbers, so that `nft list ruleset' can show the sets;
 * a concatenation puts the first field's type in the highest bits */
enum { T_IPV4 = 7, T_IPV6 = 8, T_PROTO = 12, T_SERVICE = 13, T_MARK = 19,
       T_IFNAME = 41 };
/* nft shows a concatenation only of fixed-size types: header fields as
 * 8-bit protocol and 16-bit service numbers, a sequence number as a mark */
#define CAT2(a, b) ((a) << 6 | (b))
#define CAT3(a, b, c) (CAT2(a, b) << 6 | (c))
#define CAT5(a, b, c, d, e) (CAT3(a, b, c) << 12 | CAT2(d, e))

struct set_def {
	const char *name;
	enum set_kind kind;
	uint32_t key_len;
	uint32_t data_len;	/* 0: a set, not a map */
	uint8_t fields[6];	/* concatenation field lengths */
	uint32_t key_type;
};

static const struct set_def set_defs[] = {
	{ "sb_iif", SK_INTERVAL, 16, 4, { 0 }, T_IFNAME },
	{ "sb_src4", SK_INTERVAL, 4, 4, { 0 }, T_IPV4 },
	{ "sb_src6", SK_INTERVAL, 16, 4, { 0 }, T_IPV6 },
	{ "deny4", SK_CONCAT_INTERVAL, 8, 0, { 4, 4 }, CAT2(T_MARK, T_IPV4) },
	{ "deny6", SK_CONCAT_INTERVAL, 20, 0, { 4, 16 }, CAT2(T_MARK, T_IPV6) },
	{ "allow4", SK_CONCAT_INTERVAL, 8, 0, { 4, 4 }, CAT2(T_MARK, T_IPV4) },
	{ "allow6", SK_CONCAT_INTERVAL, 20, 0, { 4, 16 }, CAT2(T_MARK, T_IPV6) },
	{ "mode_deny", SK_HASH, 4, 0, { 0 }, T_MARK },
	{ "mode_allow", SK_HASH, 4, 0, { 0 }, T_MARK },
	{ "mode_open", SK_HASH, 4, 0, { 0 }, T_MARK },
	{ "nopayload4", SK_HASH, 12, 0, { 0 },
	  CAT3(T_PROTO, T_PROTO, T_SERVICE) },
	{ "nopayload6", SK_HASH, 8, 0, { 0 }, CAT2(T_PROTO, T_SERVICE) },
	{ "first4", SK_DYNAMIC, 20, 0, { 0 },
	  CAT5(T_IPV4, T_IPV4, T_SERVICE, T_SERVICE, T_MARK) },
	{ "first6", SK_DYNAMIC, 44, 0, { 0 },
	  CAT5(T_IPV6, T_IPV6, T_SERVICE, T_SERVICE, T_MARK) },
	/* conntrack ids: flows let through unread whose hello began */
	{ "hello", SK_DYNAMIC, 4, 0, { 0 }, T_MARK },
	{ "sb_flows", SK_METER, 4, 0, { 0 }, T_MARK },
	{ "sb_quic", SK_METER, 4, 0, { 0 }, T_MARK },
	/* sandbox . an address of an injection domain, until its TTL */
	{ "inject4", SK_TIMED, 8, 0, { 0 }, CAT2(T_MARK, T_IPV4) },
	{ "inject6", SK_TIMED, 20, 0, { 0 }, CAT2(T_MARK, T_IPV6) },
	/* one element while a daemon lives (nft_alive) */
	{ "alive", SK_TIMED, 4, 0, { 0 }, T_MARK },
};

static struct nftnl_set *set_new(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

static void msg_set(struct batch *bt, const struct set_def *d, uint32_t id)
{
	struct nftnl_set *s = set_new(d->name);
	uint32_t flags = 0;
	struct nlmsghdr *nlh;

	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
	if (d->data_len) {
		flags |= NFT_SET_MAP;
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, T_MARK);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, d->data_len);
	}
	switch (d->kind) {
	case SK_HASH:
		break;
	case SK_INTERVAL:
		flags |= NFT_SET_INTERVAL;
		break;
	case SK_CONCAT_INTERVAL:
		flags |= NFT_SET_INTERVAL | NFT_SET_CONCAT;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, d->fields,
				   (uint32_t)strlen((const char *)d->fields));
		break;
	case SK_DYNAMIC:
		flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
		nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FIRST_TIMEOUT_MS);
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, FIRST_SIZE);
		break;
	case SK_METER:
		flags |= NFT_SET_EVAL;
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 65536);
		break;
	case SK_TIMED:
		flags |= NFT_SET_TIMEOUT;
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 65536);
		break;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nlh = batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE, d->name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	batch_done_msg(bt);
}

/* type NULL: a regular chain, jumped to */
static void msg_chain(struct batch *bt, const char *name, const char *type,
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

static struct nftnl_rule *rule_new(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	return r;
}

static void msg_rule(struct batch *bt, struct nftnl_rule *r, const char *what)
{
	struct nlmsghdr *nlh = batch_msg(bt, NFT_MSG_NEWRULE,
					 NLM_F_APPEND | NLM_F_CREATE, what);

	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	batch_done_msg(bt);
}

/* ---- elements ---- */

/* Add one to a big-endian number; false when it wraps to zero. */
static bool be_increment(uint8_t *b, size_t len)
{
	while (len--)
		if (++b[len])
			return true;
	return false;
}

/* A set's elements to add or remove, in chunks of ELEMS_PER_MSG: one
 * message each (the elements' nest has a 16-bit length: past about 3,000
 * ranges in one message it overflowed, and the kernel refused it). */
#define ELEMS_PER_MSG 256

/* One element, as bytes: what is added, and compared to tell what a
 * change adds and removes. */
struct erec {
	uint8_t key[32], end[32], data[16];
	uint8_t klen, dlen;
	bool has_end;
	uint32_t flags;
};

struct elems {
	const char *name;
	struct erec *r;
	size_t n, cap;
};

static void elems_start(struct elems *es, const char *name)
{
	es->name = name;
	es->r = NULL;
	es->n = es->cap = 0;
}

static void elems_free(struct elems *es)
{
	free(es->r);
	elems_start(es, es->name);
}

static struct nftnl_set_elem *erec_elem(const struct erec *r)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, r->key, r->klen);
	if (r->has_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, r->end, r->klen);
	if (r->dlen)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, r->data, r->dlen);
	if (r->flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, r->flags);
	return e;
}

/* One message per ELEMS_PER_MSG elements; the elements freed. */
static void elems_put(struct batch *bt, struct elems *es, uint16_t type,
		      const char *what)
{
	for (size_t i = 0; i < es->n; i += ELEMS_PER_MSG) {
		struct nftnl_set *s = set_new(es->name);
		struct nlmsghdr *nlh;

		for (size_t j = i; j < es->n && j < i + ELEMS_PER_MSG; j++)
			nftnl_set_elem_add(s, erec_elem(&es->r[j]));
		nlh = batch_msg(bt, type, type == NFT_MSG_NEWSETELEM ?
				NLM_F_CREATE : 0, what);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_done_msg(bt);
		nftnl_set_free(s);
	}
	elems_free(es);
}

/* A zeroed record at the end (compared whole: no stray bytes). */
static struct erec *erec_new(struct elems *es)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 16;
		es->r = xreallocarray(es->r, es->cap, sizeof(*es->r));
	}
	return memset(&es->r[es->n++], 0, sizeof(struct erec));
}

static void elem_add(struct elems *es, const void *key, size_t klen,
		     const void *key_end, const void *data, uint32_t dlen,
		     uint32_t flags)
{
	struct erec *r = erec_new(es);

	memcpy(r->key, key, klen);
	r->klen = (uint8_t)klen;
	if (key_end) {
		memcpy(r->end, key_end, klen);
		r->has_end = true;
	}
	if (data) {
		memcpy(r->data, data, dlen);
		r->dlen = (uint8_t)dlen;
	}
	r->flags = flags;
}

static int erec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct erec));
}

/* Sorted, each element once. */
static void elems_sort(struct elems *es)
{
	size_t k = 0;

	if (!es->n)
		return;
	qsort(es->r, es->n, sizeof(*es->r), erec_cmp);
	for (size_t i = 0; i < es->n; i++)
		if (!k || erec_cmp(&es->r[k - 1], &es->r[i]))
			es->r[k++] = es->r[i];
	es->n = k;
}

/* What is in a and not in b (both sorted), into out. */
static void elems_minus(const struct elems *a, const struct elems *b,
			struct elems *out)
{
	size_t j = 0;

	for (size_t i = 0; i < a->n; i++) {
		int c = 1;

		while (j < b->n && (c = erec_cmp(&a->r[i], &b->r[j])) > 0)
			j++;
		if (j == b->n || c < 0)
			*erec_new(out) = a->r[i];
	}
}

/* An interval [start, start+span) of an rbtree map, value `data`. */
static void elem_interval(struct elems *es, uint8_t *start, size_t klen,
			  size_t span_bytes, const uint32_t *data)
{
	uint8_t end[16];

	elem_add(es, start, klen, NULL, data, data ? 4 : 0, 0);
	memcpy(end, start, klen);
	if (be_increment(end, span_bytes))
		elem_add(es, end, klen, NULL, NULL, 0,
			 NFT_SET_ELEM_INTERVAL_END);
}

/* An interface name or `prefix*' as an interval of 16-byte names. */
static void elem_iface(struct elems *es, const char *name, uint32_t value)
{
	uint8_t key[16] = { 0 };
	size_t n = strlen(name);
	bool prefix = n && name[n - 1] == '*';

	if (prefix)
		n--;
	memcpy(key, name, n < 16 ? n : 15);
	elem_interval(es, key, 16, prefix ? n : 16, &value);
}

static size_t cidr_len(const struct cidr *c)
{
	return c->family == AF_INET ? 4 : 16;
}

/* The prefix's last address, in place. */
static void cidr_last(const struct cidr *c, uint8_t *out)
{
	size_t len = cidr_len(c);

	memcpy(out, c->addr, len);
	for (size_t bit = c->plen; bit < len * 8; bit++)
		out[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

static void elem_source(struct elems *es, const struct cidr *c,
			uint32_t value)
{
	uint8_t start[16], last[16];
	size_t len = cidr_len(c);

	memcpy(start, c->addr, len);
	cidr_last(c, last);
	elem_add(es, start, len, NULL, &value, 4, 0);
	if (be_increment(last, len))
		elem_add(es, last, len, NULL, NULL, 0,
			 NFT_SET_ELEM_INTERVAL_END);
}

static void elem_range(struct elems *es, uint32_t id, const struct cidr *c)
{
	uint8_t key[20], end[20];
	size_t len = cidr_len(c);

	memcpy(key, &id, 4);
	memcpy(key + 4, c->addr, len);
	memcpy(end, &id, 4);
	cidr_last(c, end + 4);
	elem_add(es, key, 4 + len, end, NULL, 0, 0);
}

static int cidr_order(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return c ? c : x->plen - y->plen;
}

/* A list's ranges without those inside another (an interval set refuses
 * overlaps): sorted by address, the wider first, a prefix is inside
 * another exactly when it starts before the last kept one ends. */
static void elems_ranges(struct elems *es4, struct elems *es6, uint32_t id,
			 const struct cidr *l, size_t n)
{
	struct cidr *s;
	uint8_t last[16];
	size_t kept = n;

	if (!n)
		return;
	s = xreallocarray(NULL, n, sizeof(*s));
	memcpy(s, l, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cidr_order);
	for (size_t i = 0; i < n; i++) {
		if (kept < n && s[kept].family == s[i].family &&
		    memcmp(s[i].addr, last, cidr_len(&s[i])) <= 0)
			continue;
		kept = i;
		cidr_last(&s[i], last);
		elem_range(s[i].family == AF_INET6 ? es6 : es4, id, &s[i]);
	}
	free(s);
}

enum { E_IIF, E_SRC4, E_SRC6, E_DENY4, E_DENY6, E_ALLOW4, E_ALLOW6,
       E_MODE_DENY, E_MODE_ALLOW, E_MODE_OPEN, E_MAX };

/* Lists of ranges a change leaves as they were: neither side of the
 * difference needs their elements. */
#define SKIP_ALLOW 1u
#define SKIP_DENY 2u

static void elems_sandbox(struct elems es[E_MAX], const struct nft_sandbox *sb,
			  const struct marks *m, unsigned skip)
{
	const struct policy *p = sb->policy;
	uint32_t id = mark_id(m, sb->id);

	for (size_t i = 0; i < sb->nifaces; i++)
		elem_iface(&es[E_IIF], sb->ifaces[i], id);
	for (size_t i = 0; i < sb->nsources; i++)
		elem_source(&es[sb->sources[i].family == AF_INET ? E_SRC4 :
				E_SRC6], &sb->sources[i], id);
	if (!(skip & SKIP_ALLOW))
		elems_ranges(&es[E_ALLOW4], &es[E_ALLOW6], id,
			     p->cidrs[LIST_ALLOW], p->ncidrs[LIST_ALLOW]);
	if (!(skip & SKIP_DENY))
		elems_ranges(&es[E_DENY4], &es[E_DENY6], id,
			     p->cidrs[LIST_DENY], p->ncidrs[LIST_DENY]);
	if (p->mode == MODE_DENY_ALL)
		elem_add(&es[E_MODE_DENY], &id, 4, NULL, NULL, 0, 0);
	if (p->mode == MODE_ALLOW_ALL && p->ndomains[LIST_DENY] == 0)
		elem_add(&es[E_MODE_ALLOW], &id, 4, NULL, NULL, 0, 0);
	/* inbound flows: every allow-all sandbox */
	if (p->mode == MODE_ALLOW_ALL)
		elem_add(&es[E_MODE_OPEN], &id, 4, NULL, NULL, 0, 0);
}

static void elems_init(struct elems es[E_MAX])
{
	for (int i = 0; i < E_MAX; i++)
		elems_start(&es[i], set_defs[i].name);
}

static void elems_flush(struct batch *bt, struct elems es[E_MAX],
			uint16_t type)
{
	for (int i = 0; i < E_MAX; i++)
		elems_put(bt, &es[i], type, set_defs[i].name);
}

static bool cidrs_same(const struct cidr *a, size_t na, const struct cidr *b,
		       size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

/* The lists of ranges two states of a sandbox share (SKIP_ bits). */
static unsigned ranges_same(const struct nft_sandbox *a,
			    const struct nft_sandbox *b)
{
	const struct policy *p = a->policy, *q = b->policy;
	unsigned same = 0;

	if (cidrs_same(p->cidrs[LIST_ALLOW], p->ncidrs[LIST_ALLOW],
		       q->cidrs[LIST_ALLOW], q->ncidrs[LIST_ALLOW]))
		same |= SKIP_ALLOW;
	if (cidrs_same(p->cidrs[LIST_DENY], p->ncidrs[LIST_DENY],
		       q->cidrs[LIST_DENY], q->ncidrs[LIST_DENY]))
		same |= SKIP_DENY;
	return same;
}

/* Whether the rest of elems_sandbox's inputs are the same: the match,
 * the mode, and whether it denies domains. */
static bool rest_same(const struct nft_sandbox *a, const struct nft_sandbox *b)
{
	const struct policy *p = a->policy, *q = b->policy;

	if (a->id != b->id || a->nifaces != b->nifaces ||
	    !cidrs_same(a->sources, a->nsources, b->sources, b->nsources) ||
	    p->mode != q->mode ||
	    !p->ndomains[LIST_DENY] != !q->ndomains[LIST_DENY])
		return false;
	for (size_t i = 0; i < a->nifaces; i++)
		if (strcmp(a->ifaces[i], b->ifaces[i]))
			return false;
	return true;
}

int nft_sandbox_update(const struct nft_sandbox *old,
		       const struct nft_sandbox *new, const struct marks *m,
		       char *err, size_t errlen)
{
	struct elems was[E_MAX], is[E_MAX], gone[E_MAX], added[E_MAX];
	struct batch bt;
	unsigned skip = old && new ? ranges_same(old, new) : 0;

	if (skip == (SKIP_ALLOW | SKIP_DENY) && rest_same(old, new))
		return 0;	/* a domain's change: the kernel has no part */
	/* only what differs: a set of 10,000 ranges took the kernel 80 s
	 * to empty and fill again for a one-rule change */
	elems_init(was);
	elems_init(is);
	elems_init(gone);
	elems_init(added);
	if (old)
		elems_sandbox(was, old, m, skip);
	if (new)
		elems_sandbox(is, new, m, skip);
	for (int i = 0; i < E_MAX; i++) {
		elems_sort(&was[i]);
		elems_sort(&is[i]);
		elems_minus(&was[i], &is[i], &gone[i]);
		elems_minus(&is[i], &was[i], &added[i]);
		elems_free(&was[i]);
		elems_free(&is[i]);
	}
	batch_begin(&bt);
	elems_flush(&bt, gone, NFT_MSG_DELSETELEM);
	elems_flush(&bt, added, NFT_MSG_NEWSETELEM);
	return batch_commit(&bt, err, errlen);
}

/* ---- the ruleset ---- */

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_RST 0x04
#define TCP_FIN 0x01
#define CT_STATE_INVALID 0x01
#define CT_STATE_NEW 0x08
#define CT_STATE_UNTRACKED 0x40
#define NORMAL_TTL 64

/* Remember the client's first sequence number from the server's SYN-ACK
 * (its acknowledgement number) so that a queued segment can be known as
 * the first of the stream, whatever order segments come in. */
static void r_syn_ack(struct batch *bt, const struct marks *m, int v6)
{
	struct nftnl_rule *r = rule_new("forward");

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, ST_NONE));
	m_ct_direction(r, IP_CT_DIR_REPLY);
	m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, R0);
	x_bitwise(r, R0, 1, TCP_SYN | TCP_ACK, 0);
	x_cmp8(r, R0, NFT_CMP_EQ, TCP_SYN | TCP_ACK);
	k_tcp_first(r, v6, true, 8);
	x_dynset_add(r, R0, v6 ? "first6" : "first4");
	msg_rule(bt, r, "rule remembering first sequence numbers");
}

/* A flow the kernel allowed without reading it: the segment that starts
 * its ClientHello (a handshake record, type client_hello) is logged as it
 * passes, for the flow's name in the audit; nothing waits for it. So are
 * the client's segments after it (a hello may span several: Chromium's,
 * with its post-quantum key share, takes two, its server_name anywhere),
 * the flow's conntrack id kept in the set "hello" from its start (10 s).
 * Within a flow's first 16 packets only (both ways; a Postgres SSLRequest
 * comes first), so that a sandbox cannot flood the log group that the
 * kernel's verdicts are audited through. QUIC the same: a client's
 * long-header datagrams on UDP 443, in the commit chain, which sees a
 * flow's first datagram too with the ct mark the forward chain just gave
 * it. */
#define NAME_PACKETS 16

/* A rule for a client's packets of a flow allowed: chain, protocol. */
static struct nftnl_rule *r_allowed_out(const char *chain,
					const struct nft_opts *o,
					uint8_t proto)
{
	struct nftnl_rule *r = rule_new(chain);

	m_mark(r, true, o->marks->state, NFT_CMP_EQ,
	       mark_state(o->marks, ST_ALLOW));
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_l4proto(r, NFT_CMP_EQ, proto);
	return r;
}

/* Within the flow's first NAME_PACKETS packets. */
static void m_first_packets(struct nftnl_rule *r)
{
	/* the counter is a host-order u64: (packets & ~15) == 0 */
	uint64_t under = ~(uint64_t)(NAME_PACKETS - 1), zero = 0, none = 0;

	x_ct(r, NFT_CT_PKTS, R0);
	x_bitwise_bytes(r, R0, 8, (const uint8_t *)&under,
			(const uint8_t *)&none);
	x_cmp(r, R0, NFT_CMP_EQ, &zero, 8);
}

/* A UDP datagram to 443 whose first packet has a long header (QUIC's
 * Initial, 0-RTT, Handshake, or a version we do not read). */
static void m_quic_long(struct nftnl_rule *r)
{
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R0);
	x_cmp(r, R0, NFT_CMP_EQ, &(uint16_t){ htons(443) }, 2);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 0, 1, R0);
	x_bitwise(r, R0, 1, 0x80, 0);
	x_cmp8(r, R0, NFT_CMP_EQ, 0x80);
}

static void r_name(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = r_allowed_out("forward", o, IPPROTO_TCP);

	/* the segments after the start (which is not in the set yet, so
	 * logged once): any with a payload byte */
	m_first_packets(r);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 0, 1, R0);
	x_ct(r, NFT_CT_ID, R0);
	x_lookup(r, R0, "hello", 0);
	x_log_len(r, o->log_group, NFLOG_NAME_PREFIX, NFLOG_NAME_SNAPLEN);
	msg_rule(bt, r, "naming rule, after the hello's start");
	r = r_allowed_out("forward", o, IPPROTO_TCP);
	m_first_packets(r);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 0, 1, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, 0x16);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 5, 1, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, 0x01);
	x_log_len(r, o->log_group, NFLOG_NAME_PREFIX, NFLOG_NAME_SNAPLEN);
	x_ct(r, NFT_CT_ID, R0);
	x_dynset_add(r, R0, "hello");
	msg_rule(bt, r, "naming rule");
}

static void r_name_quic(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = r_allowed_out("commit", o, IPPROTO_UDP);

	m_first_packets(r);
	m_quic_long(r);
	x_log_len(r, o->log_group, NFLOG_NAME_PREFIX, NFLOG_NAME_SNAPLEN);
	msg_rule(bt, r, "QUIC naming rule");
}

/* ct mark state s: verdict code (to chain) */
static void r_state(struct batch *bt, const struct marks *m, enum mark_state s,
		    int code, const char *chain)
{
	struct nftnl_rule *r = rule_new("forward");

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, s));
	x_verdict(r, code, chain);
	msg_rule(bt, r, "fast path rule");
}

/* What a sandbox is looked up by: where a packet comes from (its own
 * flows) or where it goes (flows opened towards it). */
enum sb_key { K_IIF, K_SRC4, K_SRC6, K_OIF, K_DST4, K_DST6 };

static void k_sb(struct nftnl_rule *r, enum sb_key key, uint32_t reg)
{
	int v6 = key == K_SRC6 || key == K_DST6;

	if (key == K_IIF || key == K_OIF) {
		x_meta(r, key == K_IIF ? NFT_META_IIFNAME : NFT_META_OIFNAME,
		       reg);
		return;
	}
	m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER,
		  addr_off(v6, key >= K_OIF), addr_len(v6), reg);
}

static const char *sb_map(enum sb_key key)
{
	static const char *const maps[] = { "sb_iif", "sb_src4", "sb_src6" };

	return maps[key % 3];
}

/* Each id bit of the sandbox a map gives, OR-ed into the ct mark. */
static void r_classify_into(struct batch *bt, const struct marks *m,
			    const char *chain, enum sb_key key, bool ct)
{
	for (unsigned b = 0; b < 32; b++) {
		uint32_t bit = 1u << b;
		struct nftnl_rule *r;

		if (!(m->id & bit))
			continue;
		r = rule_new(chain);
		k_sb(r, key, R0);
		x_lookup(r, R0, sb_map(key), R0);
		x_bitwise(r, R0, 4, bit, 0);
		x_cmp32(r, R0, NFT_CMP_EQ, bit);
		s_mark(r, ct, 0, bit);
		msg_rule(bt, r, "classify rule");
	}
}

/* The ct mark's sandbox id bits from the packet's `key'. */
static void r_classify(struct batch *bt, const struct marks *m,
		       const char *chain, enum sb_key key)
{
	r_classify_into(bt, m, chain, key, true);
}

/* A kernel verdict: audit it through NFLOG, cache it in the ct mark. */
static void s_decide(struct nftnl_rule *r, const struct nft_opts *o,
		     enum mark_state s, const char *reason)
{
	const struct marks *m = o->marks;

	if (s == ST_DENY || o->log_allowed)
		x_log(r, o->log_group, reason);
	s_mark(r, true, m->state, mark_state(m, s));
	if (s == ST_DENY)
		x_verdict(r, NFT_JUMP, "deny");
	else
		x_verdict(r, NF_ACCEPT, NULL);
}

/* sandbox . the packet's destination (source when `src') in a range set
 * (v6 0 or 1), or sandbox in a mode set (v6 < 0) */
static struct nftnl_rule *r_lookup_by(const char *chain, const struct marks *m,
				      const char *set, int v6, bool src)
{
	struct nftnl_rule *r = rule_new(chain);

	if (v6 >= 0)
		m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	k_sandbox(r, m);
	if (v6 >= 0)
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, addr_off(v6, !src),
			  addr_len(v6), R1);
	x_lookup(r, R0, set, 0);
	return r;
}

static struct nftnl_rule *r_lookup(const char *chain, const struct marks *m,
				   const char *set, int v6)
{
	return r_lookup_by(chain, m, set, v6, false);
}

static void r_range(struct batch *bt, const struct nft_opts *o,
		    const char *chain, bool src, int v6, const char *set,
		    enum mark_state s, const char *reason)
{
	struct nftnl_rule *r = r_lookup_by(chain, o->marks, set, v6, src);

	if (s == ST_ALLOW)
		m_alive(r);
	s_decide(r, o, s, reason);
	msg_rule(bt, r, reason);
}

/* TCP segments without payload (handshake, bare ACKs) need no verdict:
 * the header lengths and the packet length say so exactly. The client's
 * only, when `original'. */
static void r_nopayload(struct batch *bt, const char *chain, int v6,
			bool original)
{
	struct nftnl_rule *r = rule_new(chain);

	if (original)
		m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	if (v6) {
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 12, 1, R0);
		x_bitwise(r, R0, 1, 0xf0, 0);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 4, 2, R1);
	} else {
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 0, 1, R0);
		x_bitwise(r, R0, 1, 0x0f, 0);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 12, 1, R1);
		x_bitwise(r, R1, 1, 0xf0, 0);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 2, 2, R2);
	}
	x_lookup(r, R0, v6 ? "nopayload6" : "nopayload4", 0);
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "no-payload rule");
}

static void elems_nopayload(struct batch *bt)
{
	struct elems es[2];

	elems_start(&es[0], "nopayload4");
	elems_start(&es[1], "nopayload6");
	for (uint8_t doff = 5; doff <= 15; doff++) {
		uint8_t k6[8] = { (uint8_t)(doff << 4), 0, 0, 0,
				  0, (uint8_t)(doff * 4), 0, 0 };

		elem_add(&es[1], k6, 8, NULL, NULL, 0, 0);
		for (uint8_t ihl = 5; ihl <= 15; ihl++) {
			unsigned len = (ihl + doff) * 4u;
			uint8_t k4[12] = { ihl, 0, 0, 0,
					   (uint8_t)(doff << 4), 0, 0, 0,
					   (uint8_t)(len >> 8), (uint8_t)len };

			elem_add(&es[0], k4, 12, NULL, NULL, 0, 0);
		}
	}
	for (int i = 0; i < 2; i++)
		elems_put(bt, &es[i], NFT_MSG_NEWSETELEM, "nopayload");
}

/* The rbtree interval maps want an interval end at zero. */
static void elems_zero(struct batch *bt)
{
	static const char *const maps[] = { "sb_iif", "sb_src4", "sb_src6" };
	static const uint8_t zero[16];

	for (int i = 0; i < 3; i++) {
		struct elems es;

		elems_start(&es, maps[i]);
		elem_add(&es, zero, i == 1 ? 4 : 16, NULL, NULL, 0,
			 NFT_SET_ELEM_INTERVAL_END);
		elems_put(bt, &es, NFT_MSG_NEWSETELEM, maps[i]);
	}
}

/* The TTL and hop limit of the client's packets of an undecided flow,
 * the same for all: a segment that expires past this host (and never
 * reaches the server) cannot be judged in place of the real one. */
static void rules_ttl(struct batch *bt, const char *chain)
{
	static const uint8_t mask[2] = { 0x00, 0xff }, ttl[2] = { NORMAL_TTL };
	struct nftnl_rule *r;

	r = rule_new(chain);
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_nfproto(r, NFPROTO_IPV4);
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 2, R0);
	x_bitwise_bytes(r, R0, 2, mask, ttl);
	x_payload_write(r, 8, 2, R0, 10);
	msg_rule(bt, r, "ttl rule");
	r = rule_new(chain);
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_nfproto(r, NFPROTO_IPV6);
	x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 7, 1, R0);
	x_bitwise(r, R0, 1, 0, NORMAL_TTL);
	x_payload_write(r, 7, 1, R0, 0);
	msg_rule(bt, r, "hop limit rule");
}

/* The sandbox id of the ct mark into the packet mark too (for NFLOG and
 * the queue), bit by bit, with state s. */
static void rules_packet_mark(struct batch *bt, const char *chain,
			      const struct marks *m, enum mark_state s)
{
	struct nftnl_rule *r = rule_new(chain);

	s_mark(r, false, m->mask, mark_state(m, s));
	msg_rule(bt, r, "packet mark rule");
	for (unsigned b = 0; b < 32; b++) {
		if (!(m->id & (1u << b)))
			continue;
		r = rule_new(chain);
		m_mark(r, true, 1u << b, NFT_CMP_NEQ, 0);
		s_mark(r, false, 0, 1u << b);
		msg_rule(bt, r, "packet mark rule");
	}
}

/* Matches once the packet's sandbox is past `rate' packets a second (a
 * burst of twice that), its token bucket in the meter `set'. */
static void x_sandbox_over(struct nftnl_rule *r, const struct nft_opts *o,
			   const char *set, uint64_t rate)
{
	struct nftnl_expr *d = nftnl_expr_alloc("dynset");
	struct nftnl_expr *l = nftnl_expr_alloc("limit");

	k_sandbox(r, o->marks);
	nftnl_expr_set_u64(l, NFTNL_EXPR_LIMIT_RATE, rate);
	nftnl_expr_set_u64(l, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(l, NFTNL_EXPR_LIMIT_BURST, (uint32_t)(rate * 2));
	nftnl_expr_set_u32(l, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(l, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	nftnl_expr_set_u32(d, NFTNL_EXPR_DYNSET_SREG_KEY, R0);
	nftnl_expr_set_u32(d, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_ADD);
	nftnl_expr_set_str(d, NFTNL_EXPR_DYNSET_SET_NAME, set);
	nftnl_expr_set(d, NFTNL_EXPR_DYNSET_EXPR, l, 0);
	x_add(r, d);
}

/* A sandbox's share of what all share (conntrack, the first-byte set,
 * the queue): past flow_rate new flows a second (a burst of twice
 * that), its new flows are refused. A rate, not a count of
 * open flows: a token bucket per sandbox costs the same whatever the
 * number of flows (a conntrack count per sandbox slowed every new flow as
 * closed ones piled up). */
static void r_flow_limit(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_NEW, 0);
	x_cmp32(r, R0, NFT_CMP_NEQ, 0);
	x_sandbox_over(r, o, "sb_flows", o->flow_rate);
	s_decide(r, o, ST_DENY, "flow-limit");
	msg_rule(bt, r, "flow limit rule");
}

/* Mark as pending, as the first byte of the stream when it is, queue. */
static void r_queue(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	r = rule_new("forward");
	s_mark(r, false, m->state, mark_state(m, ST_PEND));
	msg_rule(bt, r, "pending mark rule");
	for (int v6 = 0; v6 <= 1; v6++) {
		r = rule_new("forward");
		m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
		k_tcp_first(r, v6, false, 4);
		x_lookup(r, R0, v6 ? "first6" : "first4", 0);
		s_mark(r, false, m->state, mark_state(m, ST_PEND_FIRST));
		msg_rule(bt, r, "first segment rule");
	}
	r = rule_new("forward");
	x_queue(r, o, true);
	msg_rule(bt, r, o->native_queue ? "queue rule" :
		 "queue rule (xt NFQUEUE)");
}

/* A SYN with data on a connection already under way is no handshake:
 * dropped, never taken as the stream's start. (On a new connection the
 * daemon strips its data: TCP Fast Open.) */
static void r_late_syn(struct batch *bt)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_NEW, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, 0);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, R0);
	x_bitwise(r, R0, 1, TCP_SYN, 0);
	x_cmp8(r, R0, NFT_CMP_EQ, TCP_SYN);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "late SYN rule");
}

/* A flow not classified yet is (the classify chain), and the rule that
 * follows is for flows of no sandbox: returned for the caller to finish. */
static struct nftnl_rule *r_classified(struct batch *bt, const char *chain,
				       const struct marks *m)
{
	struct nftnl_rule *r = rule_new(chain);

	m_mark(r, true, m->id, NFT_CMP_EQ, 0);
	x_verdict(r, NFT_JUMP, "classify");
	msg_rule(bt, r, "classify jump");
	r = rule_new(chain);
	m_mark(r, true, m->id, NFT_CMP_EQ, 0);
	return r;
}

static void r_jump_state(struct batch *bt, const char *chain,
			 const struct marks *m, enum mark_state s,
			 const char *to)
{
	struct nftnl_rule *r = rule_new(chain);

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, s));
	x_verdict(r, NFT_JUMP, to);
	msg_rule(bt, r, to);
}

/* Packets conntrack does not track (invalid ones such as SYN|FIN, or
 * NOTRACK): no verdict can hold them, so a sandbox's are dropped; those
 * of others go on untouched. */
static void r_untracked(struct batch *bt)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_INVALID | CT_STATE_UNTRACKED, 0);
	x_cmp32(r, R0, NFT_CMP_NEQ, 0);
	x_verdict(r, NFT_JUMP, "untracked");
	msg_rule(bt, r, "untracked jump");
}

static void rules_untracked(struct batch *bt)
{
	struct nftnl_rule *r;

	for (enum sb_key k = K_IIF; k <= K_SRC6; k++) {
		r = rule_new("untracked");
		k_sb(r, k, R0);
		x_lookup(r, R0, sb_map(k), R1);
		x_verdict(r, NF_DROP, NULL);
		msg_rule(bt, r, "untracked sandbox rule");
	}
	r = rule_new("untracked");
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "untracked rule");
}

/* A judged flow (allowed, its first bytes not yet acknowledged by the
 * server): the server's packets and the client's data are queued. */
static void rules_judged(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r;

	rules_ttl(bt, "judged");
	rules_packet_mark(bt, "judged", o->marks, ST_PEND_JUDGED);
	r_nopayload(bt, "judged", 0, true);
	r_nopayload(bt, "judged", 1, true);
	r = rule_new("judged");
	x_queue(r, o, true);
	msg_rule(bt, r, "judged queue rule");
}

/* What the kernel decides of SPEC §2, in its order: denied ranges,
 * deny-all, allowed ranges, allow-all (without denied domains). By the
 * destination; for a flow towards a sandbox (`in'), by its source, with
 * "in:" before the reasons and every allow-all sandbox. */
static void rules_policy(struct batch *bt, const struct nft_opts *o,
			 const char *chain, bool in)
{
	static const struct {
		const char *set;
		int v6;
		enum mark_state s;
		const char *reason, *in_reason;
	} rows[] = {
		{ "deny4", 0, ST_DENY, "range-denied", "in:range-denied" },
		{ "deny6", 1, ST_DENY, "range-denied", "in:range-denied" },
		{ "mode_deny", -1, ST_DENY, "mode-deny-all", "in:mode-deny-all" },
		{ "allow4", 0, ST_ALLOW, "range-allowed", "in:range-allowed" },
		{ "allow6", 1, ST_ALLOW, "range-allowed", "in:range-allowed" },
		{ NULL, -1, ST_ALLOW, "mode-allow-all", "in:mode-allow-all" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		r_range(bt, o, chain, in, rows[i].v6, rows[i].set ? rows[i].set :
			in ? "mode_open" : "mode_allow", rows[i].s,
			in ? rows[i].in_reason : rows[i].reason);
}

/* Flows opened from outside towards a sandbox carry its data out too:
 * allowed in allow-all, from allowed ranges, and nowhere else. */
static void rules_inbound(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	r_classify(bt, m, "inbound", K_OIF);
	r = rule_new("inbound");
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	x_verdict(r, NFT_GOTO, "inbound_sandbox");
	msg_rule(bt, r, "inbound interface rule");
	r_classify(bt, m, "inbound", K_DST4);
	r_classify(bt, m, "inbound", K_DST6);
	r = rule_new("inbound");
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	x_verdict(r, NFT_GOTO, "inbound_sandbox");
	msg_rule(bt, r, "inbound address rule");

	rules_packet_mark(bt, "inbound_sandbox", m, ST_NONE);
	rules_policy(bt, o, "inbound_sandbox", true);
	r = rule_new("inbound_sandbox");
	s_decide(r, o, ST_DENY, "in:inbound-not-allowed");
	msg_rule(bt, r, "inbound-not-allowed");
}

/* A QUIC 5-tuple may carry more than one connection (the server tells
 * them apart by connection ID): a client's long-header datagram on an
 * allowed UDP 443 flow, where another connection's Initial would be, goes
 * to the daemon with its sandbox's id and no state (without a daemon it
 * passes: an allowed flow's handshake must not fail with it). */
/* Longer than one datagram on an Ethernet MTU: a UDP GSO batch (one
 * packet, several datagrams, split only on delivery), whose later
 * datagrams the first-byte rule never reads. The daemon gets it split
 * (its queues take no GSO packets). */
#define QUIC_DATAGRAM_MAX 1500

static void r_quic_batch(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = r_allowed_out("forward", o, IPPROTO_UDP);

	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R0);
	x_cmp(r, R0, NFT_CMP_EQ, &(uint16_t){ htons(443) }, 2);
	x_meta(r, NFT_META_LEN, R0);
	x_hton32(r, R0);
	x_cmp(r, R0, NFT_CMP_GT, &(uint32_t){ htonl(QUIC_DATAGRAM_MAX) }, 4);
	x_verdict(r, NFT_JUMP, "quic_long");
	msg_rule(bt, r, "QUIC batch rule");
}

static void r_quic_long(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = r_allowed_out("forward", o, IPPROTO_UDP);

	m_quic_long(r);
	x_verdict(r, NFT_JUMP, "quic_long");
	msg_rule(bt, r, "QUIC long header rule");
	r_quic_batch(bt, o);
	rules_packet_mark(bt, "quic_long", m, ST_NONE);
	/* a handshake sends a few: past 4 x flow_rate a second a sandbox
	 * floods the daemon, and what exceeds is dropped */
	r = rule_new("quic_long");
	x_sandbox_over(r, o, "sb_quic", o->flow_rate * 4);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "QUIC long header limit rule");
	r = rule_new("quic_long");
	x_queue(r, o, true);
	msg_rule(bt, r, "QUIC long header queue rule");
}

/* The datagrams the daemon sends in a server's name are never tracked
 * (rst.h); the host's own output is otherwise untouched. */
static void rules_forged(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r = rule_new("forged");

	m_mark(r, false, m->mask, NFT_CMP_EQ, mark_state(m, NFT_FORGED_STATE));
	x_add(r, nftnl_expr_alloc("notrack"));
	msg_rule(bt, r, "forged datagram rule");
}

/* A verdict belongs to one connection. A SYN in the original direction
 * on an entry that holds a verdict begins another connection, which
 * conntrack may take as the old one, its mark and all (after a reset
 * from the server it does): to the daemon, which deletes the entry and
 * drops the SYN, so that the client's next SYN begins a new entry,
 * judged as any. Not bypassed: with no daemon, dropped. */
static void r_reopen(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = rule_new("forward");

	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, R0);
	x_bitwise(r, R0, 1, TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN, 0);
	x_cmp8(r, R0, NFT_CMP_EQ, TCP_SYN);
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_NEW, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, 0);
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	m_mark(r, true, m->state, NFT_CMP_NEQ, mark_state(m, ST_NONE));
	s_mark(r, false, m->state, mark_state(m, ST_REOPEN));
	x_queue(r, o, false);
	msg_rule(bt, r, "reopened connection rule");
}

/* A verdict belongs to one connection. An ended entry (CLOSE after a
 * reset, TIME_WAIT after a close) keeps its "allow" while conntrack keeps
 * it, and a server in SYN-cookie mode takes an ACK with data at the old
 * sequence numbers for a new connection: it would pass on the fast path
 * unjudged. A sandbox's TCP flows take their own timeout policy: the
 * host's timeouts, but ENDED_S for TIME_WAIT and CLOSE, a value no other
 * state starts from, so that an entry with that little time left has
 * ended (or, rarely, fell silent in a closing state for a long while):
 * the client's segments with data are dropped there (the "ended" chain).
 * Past it the entry is gone, and such a packet begins one of its own,
 * judged. Not 0: late segments of a closed connection would each open an
 * entry of their own. */
#define CT_TIMEOUT_OBJ "sb_tcp"
#define ENDED_S 7

static uint32_t host_timeout(const char *state, uint32_t dflt)
{
	char path[128];
	unsigned long v;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_%s", state);
	if (!(f = fopen(path, "re")))
		return dflt;
	if (fscanf(f, "%lu", &v) != 1 || v > UINT32_MAX)
		v = dflt;
	fclose(f);
	return (uint32_t)v;
}

static void msg_ct_timeout(struct batch *bt)
{
	static const struct {
		int idx;
		const char *state;
		uint32_t dflt;
	} states[] = {
		{ NFTNL_CTTIMEOUT_TCP_SYN_SENT, "syn_sent", 120 },
		{ NFTNL_CTTIMEOUT_TCP_SYN_RECV, "syn_recv", 60 },
		{ NFTNL_CTTIMEOUT_TCP_ESTABLISHED, "established", 432000 },
		{ NFTNL_CTTIMEOUT_TCP_FIN_WAIT, "fin_wait", 120 },
		{ NFTNL_CTTIMEOUT_TCP_CLOSE_WAIT, "close_wait", 60 },
		{ NFTNL_CTTIMEOUT_TCP_LAST_ACK, "last_ack", 30 },
		{ NFTNL_CTTIMEOUT_TCP_SYN_SENT2, "syn_sent", 120 },
		{ NFTNL_CTTIMEOUT_TCP_RETRANS, "max_retrans", 300 },
		{ NFTNL_CTTIMEOUT_TCP_UNACK, "unacknowledged", 300 },
	};
	uint32_t t[NFTNL_CTTIMEOUT_TCP_MAX];
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	t[NFTNL_CTTIMEOUT_TCP_TIME_WAIT] = ENDED_S;
	t[NFTNL_CTTIMEOUT_TCP_CLOSE] = ENDED_S;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		t[states[i].idx] = host_timeout(states[i].state,
						states[i].dflt);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, CT_TIMEOUT_OBJ);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
	nftnl_obj_set_u16(o, NFTNL_OBJ_CT_TIMEOUT_L3PROTO, NFPROTO_INET);
	nftnl_obj_set_u8(o, NFTNL_OBJ_CT_TIMEOUT_L4PROTO, IPPROTO_TCP);
	nftnl_obj_set_data(o, NFTNL_OBJ_CT_TIMEOUT_ARRAY, t, sizeof(t));
	nlh = batch_msg(bt, NFT_MSG_NEWOBJ, NLM_F_CREATE, "ct timeout");
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	batch_done_msg(bt);
}

/* A new TCP flow of a sandbox takes those timeouts (before conntrack
 * confirms it: its first packet). */
static void r_ct_timeout(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r = rule_new("forward");
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_CT_TIMEOUT);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, CT_TIMEOUT_OBJ);
	x_add(r, e);
	msg_rule(bt, r, "conntrack timeout rule");
}

/* An allowed TCP flow whose entry has ended: the client's bare segments
 * (ACKs, FINs, resets) pass, its data does not. Expiration first: an
 * open flow's is far above ENDED_S, and most packets stop there. */
static void r_ended(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_EXPIRATION, R0);
	x_hton32(r, R0);
	x_cmp(r, R0, NFT_CMP_LTE, &(uint32_t){ htonl(ENDED_S * 1000) }, 4);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, ST_ALLOW));
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	x_verdict(r, NFT_GOTO, "ended");
	msg_rule(bt, r, "ended connection rule");
	r_nopayload(bt, "ended", 0, true);
	r_nopayload(bt, "ended", 1, true);
	r = rule_new("ended");
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "ended connection drop");
}

/* A sandbox's packet (by its interface, or its source range: key) must
 * come in by the interface its source is routed through (reverse path),
 * or another link could speak in its name. */
static void r_rpf_in(struct batch *bt, const char *chain, enum sb_key key)
{
	struct nftnl_rule *r = rule_new(chain);

	k_sb(r, key, R0);
	x_lookup(r, R0, sb_map(key), R1);
	x_fib_rpf(r, R2);
	x_cmp32(r, R2, NFT_CMP_EQ, 0);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "reverse path rule");
}

static void rules_forward(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	/* before any verdict, a flow's own included: a packet that comes
	 * in by a sandbox's interface, or from a source-range sandbox's
	 * address, must come from an address routed back that way, or
	 * another link could speak in a sandbox's name on its open flows */
	r_rpf_in(bt, "forward", K_IIF);
	r_rpf_in(bt, "forward", K_SRC4);
	r_rpf_in(bt, "forward", K_SRC6);
	r_reopen(bt, o);
	r_ended(bt, m);
	/* the fast path first: most packets stop at the first rule */
	if (o->log_allowed)
		r_name(bt, o);
	r_quic_long(bt, o);
	r_state(bt, m, ST_ALLOW, NF_ACCEPT, NULL);
	r_state(bt, m, ST_OTHER, NF_ACCEPT, NULL);
	r_state(bt, m, ST_DENY, NFT_JUMP, "deny");
	r_untracked(bt);
	r_jump_state(bt, "forward", m, ST_JUDGED, "judged");
	r_syn_ack(bt, m, 0);
	r_syn_ack(bt, m, 1);
	/* a reply comes from the server: a sandbox's packet in the reply
	 * direction of an undecided flow (an entry opened towards it in
	 * another's name) is one it would send unjudged; the untracked
	 * chain drops a sandbox's and accepts the rest */
	r = rule_new("forward");
	m_ct_direction(r, IP_CT_DIR_REPLY);
	x_verdict(r, NFT_GOTO, "untracked");
	msg_rule(bt, r, "reply rule");
	r = r_classified(bt, "forward", m);
	x_verdict(r, NFT_JUMP, "inbound");
	msg_rule(bt, r, "inbound jump");
	r = rule_new("forward");
	m_mark(r, true, m->id, NFT_CMP_EQ, 0);
	s_mark(r, true, m->state, mark_state(m, ST_OTHER));
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "not-a-sandbox rule");
	r_ct_timeout(bt, m);
	rules_packet_mark(bt, "forward", m, ST_NONE);
	r_flow_limit(bt, o);
	rules_ttl(bt, "forward");
	rules_policy(bt, o, "forward", false);
	r_nopayload(bt, "forward", 0, false);
	r_nopayload(bt, "forward", 1, false);
	/* only TCP and UDP can say where they go */
	r = rule_new("forward");
	x_meta(r, NFT_META_L4PROTO, R0);
	x_cmp8(r, R0, NFT_CMP_NEQ, IPPROTO_TCP);
	x_cmp8(r, R0, NFT_CMP_NEQ, IPPROTO_UDP);
	s_decide(r, o, ST_DENY, "not-tls");
	msg_rule(bt, r, "not-tls");
	r_late_syn(bt);
	r_queue(bt, o);
}

static void r_rpf(struct batch *bt, enum sb_key key)
{
	r_rpf_in(bt, "classify", key);
}

/* An interface sandbox's packet whose source is not routed back through
 * the interface it came in by: spoofed (another's address), dropped. */
static void r_iif_rpf(struct batch *bt, const struct marks *m,
		      const char *chain, bool ct)
{
	struct nftnl_rule *r = rule_new(chain);

	m_mark(r, ct, m->id, NFT_CMP_NEQ, 0);
	x_fib_rpf(r, R2);
	x_cmp32(r, R2, NFT_CMP_EQ, 0);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "interface reverse path rule");
}

static void rules_classify(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r;

	r_classify(bt, m, "classify", K_IIF);
	/* an interface sandbox speaks in its own name only: a packet whose
	 * source is not routed back through the interface it came in by
	 * (another host's address, a server's) is spoofed */
	r_iif_rpf(bt, m, "classify", true);
	/* the interface wins over the source address */
	r = rule_new("classify");
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	x_verdict(r, NFT_RETURN, NULL);
	msg_rule(bt, r, "classify return");
	r_rpf(bt, K_SRC4);
	r_rpf(bt, K_SRC6);
	r_classify(bt, m, "classify", K_SRC4);
	r_classify(bt, m, "classify", K_SRC6);
}

static void rules_deny(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = rule_new("deny");

	/* a client's QUIC long header: to the daemon, which refuses it as
	 * its server would (not with deny_action = drop) or opens the flow
	 * again for a new connection (chain quic_refuse); from the forward
	 * chain only (the commit chain's carry a state) */
	m_mark(r, false, o->marks->state, NFT_CMP_EQ,
	       mark_state(o->marks, ST_NONE));
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_UDP);
	m_quic_long(r);
	x_verdict(r, NFT_JUMP, "quic_refuse");
	msg_rule(bt, r, "QUIC refusal rule");
	if (!o->drop) {
		/* a server's packet of a flow cut while open: the daemon
		 * resets both ends from it (dropped if no daemon listens) */
		r = rule_new("deny");
		m_ct_direction(r, IP_CT_DIR_REPLY);
		m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
		s_mark(r, false, o->marks->state,
		       mark_state(o->marks, ST_DENY));
		x_queue(r, o, false);
		msg_rule(bt, r, "cut flow rule");
		r = rule_new("deny");
		m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
		x_reject(r, NFT_REJECT_TCP_RST, 0);
		msg_rule(bt, r, "reset rule");
		r = rule_new("deny");
		x_reject(r, NFT_REJECT_ICMPX_UNREACH,
			 NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		msg_rule(bt, r, "icmp rule");
	}
	r = rule_new("deny");
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "drop rule");
}

/* A denied flow's QUIC long header (SPEC §1.9): ICMP alone leaves
 * some clients (ngtcp2) to their own timeout, so the daemon answers it
 * with the server's Initial closing the connection, and may judge afresh
 * an Initial that opens a new one on the 5-tuple (verdict.c). A sandbox's
 * own, its id in the packet mark found again by where the packet comes
 * from (none for a flow opened towards a sandbox), within its
 * long-header rate; the rest get the ICMP alone. Without a daemon the
 * queue lets it by to the commit chain, whose "deny" state refuses it in
 * the kernel. */
static void rules_quic_refuse(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = rule_new("quic_refuse");

	s_mark(r, false, m->mask, 0);
	msg_rule(bt, r, "QUIC refusal: packet mark cleared");
	/* the interface wins over the source address, as in classify; a
	 * spoofed source never got this far (forward's reverse path rules;
	 * the daemon opens an entry again only for the sandbox it belongs
	 * to, too) */
	r_classify_into(bt, m, "quic_refuse", K_IIF, false);
	for (int i = 0; i < 2; i++) {
		r = rule_new("quic_refuse");
		m_mark(r, false, m->id, NFT_CMP_NEQ, 0);
		x_verdict(r, NFT_GOTO, "quic_queue");
		msg_rule(bt, r, "QUIC refusal: a sandbox's packet");
		if (i)
			break;
		r_classify_into(bt, m, "quic_refuse", K_SRC4, false);
		r_classify_into(bt, m, "quic_refuse", K_SRC6, false);
	}
	r = rule_new("quic_queue");
	x_sandbox_over(r, o, "sb_quic", o->flow_rate * 4);
	x_verdict(r, NFT_RETURN, NULL);
	msg_rule(bt, r, "QUIC refusal limit rule");
	r = rule_new("quic_queue");
	s_mark(r, false, m->state, mark_state(m, ST_DENY));
	x_queue(r, o, true);
	msg_rule(bt, r, "QUIC refusal queue rule");
}

/* packet mark state pkt and ct mark state ct: the ct mark becomes to */
static void r_commit(struct batch *bt, const struct marks *m,
		     enum mark_state pkt, enum mark_state ct,
		     enum mark_state to)
{
	struct nftnl_rule *r = rule_new("commit");

	m_mark(r, false, m->state, NFT_CMP_EQ, mark_state(m, pkt));
	x_ct(r, NFT_CT_MARK, R0);
	x_bitwise(r, R0, 4, m->state, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, mark_state(m, ct));
	s_mark(r, true, m->state, mark_state(m, to));
	msg_rule(bt, r, "commit rule");
}

static void rules_commit(struct batch *bt, const struct nft_opts *o)
{
	static const enum mark_state pending[] = { ST_PEND, ST_PEND_FIRST,
						   ST_PEND_JUDGED };
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	if (o->log_allowed)
		r_name_quic(bt, o);
	/* no verdict of ours on it (the fast path): nothing to do */
	r = rule_new("commit");
	m_mark(r, false, m->state, NFT_CMP_EQ, mark_state(m, ST_NONE));
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "commit fast path");
	/* still pending: bypassed, no daemon on the queue */
	for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++) {
		r = rule_new("commit");
		m_mark(r, false, m->state, NFT_CMP_EQ,
		       mark_state(m, pending[i]));
		if (o->fail_open)
			x_verdict(r, NF_ACCEPT, NULL);
		else
			x_verdict(r, NFT_JUMP, "deny");
		msg_rule(bt, r, "fail-closed rule");
	}
	r_commit(bt, m, ST_ALLOW, ST_NONE, ST_ALLOW);
	r_commit(bt, m, ST_ALLOW, ST_JUDGED, ST_ALLOW);
	r_commit(bt, m, ST_JUDGED, ST_NONE, ST_JUDGED);
	r = rule_new("commit");
	m_mark(r, false, m->state, NFT_CMP_EQ, mark_state(m, ST_DENY));
	s_mark(r, true, m->state, mark_state(m, ST_DENY));
	x_verdict(r, NFT_JUMP, "deny");
	msg_rule(bt, r, "commit deny");
}

/* In the nat chain: flows to a port jump to `chain'. */
static void r_port_jump(struct batch *bt, uint8_t proto, uint16_t port,
			const char *chain)
{
	struct nftnl_rule *r = rule_new("dns");

	m_l4proto(r, NFT_CMP_EQ, proto);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R0);
	x_cmp(r, R0, NFT_CMP_EQ, &(uint16_t){ htons(port) }, 2);
	x_verdict(r, NFT_JUMP, chain);
	msg_rule(bt, r, "nat port rule");
}

/* The first rule of such a chain: flows of no sandbox return. */
static void r_sandboxes_only(struct batch *bt, const char *chain,
			     const struct marks *m)
{
	struct nftnl_rule *r = r_classified(bt, chain, m);

	x_verdict(r, NFT_RETURN, NULL);
	msg_rule(bt, r, "nat not-a-sandbox rule");
}

/* DNS from sandboxes (UDP and TCP 53, to any address) to the daemon's
 * resolver, unless SPEC §2 decides it before: denied ranges (the forward
 * chain denies), allowed ranges (it passes). deny-all goes to the
 * resolver too, which refuses every query at once (ICMP, rate-limited by
 * the kernel, would leave all but the first to the client's timeout). */
static void rules_dns(struct batch *bt, const struct nft_opts *o)
{
	static const char *const before[] = { "deny4", "deny6", "allow4",
					      "allow6" };
	static const int v6[] = { 0, 1, 0, 1 };
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	r_port_jump(bt, IPPROTO_UDP, 53, "dns_sandbox");
	r_port_jump(bt, IPPROTO_TCP, 53, "dns_sandbox");
	r_sandboxes_only(bt, "dns_sandbox", m);
	for (size_t i = 0; i < 4; i++) {
		r = r_lookup("dns_sandbox", m, before[i], v6[i]);
		x_verdict(r, NFT_RETURN, NULL);
		msg_rule(bt, r, "dns policy rule");
	}
	r = rule_new("dns_sandbox");
	x_redirect(r, o->dns_port);
	msg_rule(bt, r, "dns redirect rule");
}

/* New TCP flows of a sandbox to 443 at an address it learnt for an
 * injection domain go to the broker, unless SPEC §2 refuses them before
 * (denied ranges, deny-all: the forward chain does). */
static void rules_inject(struct batch *bt, const struct nft_opts *o)
{
	static const char *const before[] = { "deny4", "deny6" };
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	r_port_jump(bt, IPPROTO_TCP, 443, "inject_sandbox");
	r_sandboxes_only(bt, "inject_sandbox", m);
	for (int v6 = 0; v6 < 2; v6++) {
		r = r_lookup("inject_sandbox", m, before[v6], v6);
		x_verdict(r, NFT_RETURN, NULL);
		msg_rule(bt, r, "inject denied-range rule");
	}
	r = r_lookup("inject_sandbox", m, "mode_deny", -1);
	x_verdict(r, NFT_RETURN, NULL);
	msg_rule(bt, r, "inject deny-all rule");
	for (int v6 = 0; v6 < 2; v6++) {
		r = r_lookup("inject_sandbox", m, v6 ? "inject6" : "inject4",
			     v6);
		m_alive(r);
		x_redirect(r, o->broker_port);
		msg_rule(bt, r, "inject redirect rule");
	}
}

/* The broker's port takes only what the ruleset redirected to it. */
static void rules_broker_input(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = rule_new("broker_in");

	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R0);
	x_cmp(r, R0, NFT_CMP_EQ, &(uint16_t){ htons(o->broker_port) }, 2);
	x_ct(r, NFT_CT_STATUS, R0);
	x_bitwise(r, R0, 4, IPS_DST_NAT, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, 0);
	x_reject(r, NFT_REJECT_TCP_RST, 0);
	msg_rule(bt, r, "broker direct rule");
}

/* A chain, and when `flush', its rules out (a reload's). */
static void chain(struct batch *bt, bool flush, const char *name,
		  const char *type, uint32_t hook, int prio)
{
	struct nftnl_rule *r;

	msg_chain(bt, name, type, hook, prio);
	if (!flush)
		return;
	r = rule_new(name);
	nftnl_rule_nlmsg_build_payload(batch_msg(bt, NFT_MSG_DELRULE, 0,
						 name), r);
	nftnl_rule_free(r);
	batch_done_msg(bt);
}

static void chains_and_rules(struct batch *bt, const struct nft_opts *o,
			     bool flush)
{
	chain(bt, flush, "deny", NULL, 0, 0);
	chain(bt, flush, "classify", NULL, 0, 0);
	chain(bt, flush, "untracked", NULL, 0, 0);
	chain(bt, flush, "judged", NULL, 0, 0);
	chain(bt, flush, "quic_long", NULL, 0, 0);
	chain(bt, flush, "quic_refuse", NULL, 0, 0);
	chain(bt, flush, "quic_queue", NULL, 0, 0);
	chain(bt, flush, "ended", NULL, 0, 0);
	chain(bt, flush, "inbound", NULL, 0, 0);
	chain(bt, flush, "inbound_sandbox", NULL, 0, 0);
	chain(bt, flush, "forward", "filter", NF_INET_FORWARD, -10);
	chain(bt, flush, "commit", "filter", NF_INET_FORWARD, -9);
	chain(bt, flush, "forged", "filter", NF_INET_LOCAL_OUT, NF_IP_PRI_RAW);
	rules_deny(bt, o);
	rules_quic_refuse(bt, o);
	rules_classify(bt, o->marks);
	rules_untracked(bt);
	rules_judged(bt, o);
	rules_inbound(bt, o);
	rules_forward(bt, o);
	rules_commit(bt, o);
	rules_forged(bt, o->marks);
	if (o->dns_port || o->broker_port)
		chain(bt, flush, "dns", "nat", NF_INET_PRE_ROUTING,
		      NF_IP_PRI_NAT_DST);
	if (o->dns_port) {
		chain(bt, flush, "dns_sandbox", NULL, 0, 0);
		rules_dns(bt, o);
	}
	if (o->broker_port) {
		chain(bt, flush, "inject_sandbox", NULL, 0, 0);
		chain(bt, flush, "broker_in", "filter", NF_INET_LOCAL_IN, -10);
		rules_inject(bt, o);
		rules_broker_input(bt, o);
	}
}

static void table_build(struct batch *bt, const struct nft_opts *o,
			uint32_t flags)
{
	/* create-then-delete makes "replace" work whether it exists or not
	 * (ours, or one a stopped daemon left unowned) */
	msg_table(bt, NFT_MSG_NEWTABLE, 0, "table");
	msg_table(bt, NFT_MSG_DELTABLE, 0, "old table");
	msg_table(bt, NFT_MSG_NEWTABLE, flags, "table");
	for (size_t i = 0; i < sizeof(set_defs) / sizeof(set_defs[0]); i++)
		msg_set(bt, &set_defs[i], (uint32_t)i + 1);
	elems_zero(bt);
	elems_nopayload(bt);
	msg_ct_timeout(bt);
	chains_and_rules(bt, o, false);
}

int nft_rules_replace(const struct nft_opts *o, char *err, size_t errlen)
{
	struct batch bt;

	batch_begin(&bt);
	chains_and_rules(&bt, o, true);
	return batch_commit(&bt, err, errlen);
}

static void msg_inject(struct batch *bt, const struct marks *m,
		       const struct nft_inject *op)
{
	struct nftnl_set *s = set_new(op->family == AF_INET ? "inject4" :
				      "inject6");
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t id = mark_id(m, op->sandbox);
	uint8_t key[20];
	size_t len = op->family == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh;

	memcpy(key, &id, 4);
	memcpy(key + 4, op->addr, len);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)(4 + len));
	if (op->add)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT,
				       op->timeout_ms);
	nftnl_set_elem_add(s, e);
	nlh = batch_msg(bt, op->add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			op->add ? NLM_F_CREATE : 0, "inject element");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done_msg(bt);
	nftnl_set_free(s);
}

/* The daemon lives for timeout_ms more: the element again (a timeout
 * is only set on adding), the set emptied first in the same batch. */
static void msg_alive(struct batch *bt, uint32_t timeout_ms)
{
	struct nftnl_set *s = set_new("alive");
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t key = 0;
	struct nlmsghdr *nlh;

	nlh = batch_msg(bt, NFT_MSG_DELSETELEM, 0, "alive flush");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done_msg(bt);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
	nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	nftnl_set_elem_add(s, e);
	nlh = batch_msg(bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "alive");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done_msg(bt);
	nftnl_set_free(s);
}

int nft_alive(char *err, size_t errlen)
{
	struct batch bt;

	batch_begin(&bt);
	msg_alive(&bt, NFT_ALIVE_MS);
	return batch_commit(&bt, err, errlen);
}

static int table_commit(const struct nft_opts *o,
			const struct nft_sandbox *sbs, size_t n,
			const struct nft_inject *inj, size_t ninj,
			uint32_t flags, char *err, size_t errlen)
{
	struct elems es[E_MAX];
	struct batch bt;

	batch_begin(&bt);
	table_build(&bt, o, flags);
	/* in the same batch: never a moment without the sandboxes, nor a
	 * brokered name without its addresses */
	elems_init(es);
	for (size_t i = 0; i < n; i++)
		elems_sandbox(es, &sbs[i], o->marks, 0);
	elems_flush(&bt, es, NFT_MSG_NEWSETELEM);
	for (size_t i = 0; i < ninj && o->broker_port; i++)
		msg_inject(&bt, o->marks, &inj[i]);
	msg_alive(&bt, NFT_ALIVE_MS);
	return batch_commit(&bt, err, errlen);
}

int nft_table_create(const struct nft_opts *o, const struct nft_sandbox *sbs,
		     size_t n, const struct nft_inject *inj, size_t ninj,
		     char *err, size_t errlen)
{
	uint32_t flags = NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	int rc;

	if (!o->own_table || cannot_own)
		flags = 0;
	rc = table_commit(o, sbs, n, inj, ninj, flags, err, errlen);
	if (rc == -EOPNOTSUPP && flags) {	/* before Linux 6.9 */
		cannot_own = true;
		flags = 0;
		rc = table_commit(o, sbs, n, inj, ninj, flags, err, errlen);
	}
	if (rc == 0)
		table_flags = flags;
	return rc;
}

bool nft_table_owned(void)
{
	return table_flags != 0;
}

uint32_t nft_portid(void)
{
	return nl ? mnl_socket_get_portid(nl) : 0;
}

int nft_inject_elems(const struct marks *m, const struct nft_inject *ops,
		     size_t n, char *err, size_t errlen)
{
	struct batch bt;

	if (!n)
		return 0;
	batch_begin(&bt);
	for (size_t i = 0; i < n; i++)
		msg_inject(&bt, m, &ops[i]);
	return batch_commit(&bt, err, errlen);
}

/* The sets by which the kernel allows a new flow on its own (ranges,
 * allow-all, inbound allow-all, injection addresses) emptied in one batch:
 * every new sandbox flow then waits for a queue verdict, which no daemon
 * gives, and is refused (commit chain). Flows already allowed keep their
 * ct mark. */
int nft_close(char *err, size_t errlen)
{
	static const char *const allows[] = { "allow4", "allow6", "mode_allow",
					      "mode_open", "inject4",
					      "inject6", "alive" };
	struct batch bt;

	batch_begin(&bt);
	for (size_t i = 0; i < sizeof(allows) / sizeof(*allows); i++) {
		struct nftnl_set *s = set_new(allows[i]);
		struct nlmsghdr *nlh = batch_msg(&bt, NFT_MSG_DELSETELEM, 0,
						 allows[i]);

		/* no element: the whole set */
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_done_msg(&bt);
		nftnl_set_free(s);
	}
	return batch_commit(&bt, err, errlen);
}

int nft_table_delete(char *err, size_t errlen)
{
	struct batch bt;

	batch_begin(&bt);
	msg_table(&bt, NFT_MSG_DELTABLE, 0, "table");
	return batch_commit(&bt, err, errlen);
}

int nft_probe_native_queue(bool *native, char *err, size_t errlen)
{
	struct nft_opts o = { .queue = 0, .queues = 1, .native_queue = true };
	struct batch bt;
	struct nftnl_rule *r;
	char e[256];
	int ret;

	/* a scratch table, created and removed at once */
	table = NFT_TABLE "_probe";
	batch_begin(&bt);
	msg_table(&bt, NFT_MSG_NEWTABLE, 0, "table");
	msg_chain(&bt, "probe", NULL, 0, 0);
	r = rule_new("probe");
	x_queue(r, &o, true);
	msg_rule(&bt, r, "queue probe");
	msg_table(&bt, NFT_MSG_DELTABLE, 0, "table");
	ret = batch_commit(&bt, e, sizeof(e));
	table = NFT_TABLE;
	*native = ret == 0;
	if (ret && ret != -ENOENT && ret != -EOPNOTSUPP) {
		snprintf(err, errlen, "%s", e);
		return ret;
	}
	return 0;
}
