/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The expressions rules are made of, through libnftnl: the x_ helpers
 * (one expression each, or a pair), the m_ matches and s_ statements made
 * of them, and the k_ keys that sets are looked up by. Nothing here sends
 * anything: the caller hands the rule to msg_rule (nft_batch.c). */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "nft_int.h"

/* ---- expressions ---- */

void x_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

/* A meta or ct key loaded into a register, or set from one. */
void x_keyed(struct nftnl_rule *r, bool ct, uint32_t key, uint32_t reg,
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

void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
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
void x_bitwise(struct nftnl_rule *r, uint32_t reg, uint32_t len,
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
void x_bitwise_bytes(struct nftnl_rule *r, uint32_t reg, uint32_t len,
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
void x_payload_write(struct nftnl_rule *r, uint32_t off, uint32_t len,
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
void x_fib_rpf(struct nftnl_rule *r, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("fib");

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR |
			   NFTA_FIB_F_IIF | NFTA_FIB_F_PRESENT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_OIF);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, reg);
	x_add(r, e);
}

void x_cmp(struct nftnl_rule *r, uint32_t reg, uint32_t op,
	   const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	x_add(r, e);
}

/* A host-order u32 in reg to network order, for an ordered compare. */
void x_hton32(struct nftnl_rule *r, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 4);
	x_add(r, e);
}

void x_cmp8(struct nftnl_rule *r, uint32_t reg, uint32_t op, uint8_t v)
{
	x_cmp(r, reg, op, &v, 1);
}

void x_cmp32(struct nftnl_rule *r, uint32_t reg, uint32_t op,
	     uint32_t v)
{
	x_cmp(r, reg, op, &v, 4);
}

/* dreg 0: a set membership test; otherwise a map lookup into dreg */
void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set,
	      uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, dreg);
	x_add(r, e);
}

void x_dynset_add(struct nftnl_rule *r, uint32_t sreg, const char *set)
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
void m_alive(struct nftnl_rule *r)
{
	x_imm32(r, R8, 0);
	x_lookup(r, R8, "alive", 0);
}

void x_verdict(struct nftnl_rule *r, int code, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	x_add(r, e);
}

void x_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	x_add(r, e);
}

void x_log_len(struct nftnl_rule *r, uint16_t group,
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
void x_queue(struct nftnl_rule *r, const struct nft_opts *o,
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
void x_redirect(struct nftnl_rule *r, uint16_t port)
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

void m_nfproto(struct nftnl_rule *r, uint8_t proto)
{
	x_meta(r, NFT_META_NFPROTO, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, proto);
}

void m_l4proto(struct nftnl_rule *r, uint32_t op, uint8_t proto)
{
	x_meta(r, NFT_META_L4PROTO, R0);
	x_cmp8(r, R0, op, proto);
}

/* (ct|meta) mark & mask op value */
void m_mark(struct nftnl_rule *r, bool ct, uint32_t mask, uint32_t op,
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
void s_mark(struct nftnl_rule *r, bool ct, uint32_t clear, uint32_t set)
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

/* The TCP flags under mask are want. */
void m_tcp_flags(struct nftnl_rule *r, uint8_t mask, uint8_t want)
{
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, R0);
	x_bitwise(r, R0, 1, mask, 0);
	x_cmp8(r, R0, NFT_CMP_EQ, want);
}

void m_ct_direction(struct nftnl_rule *r, uint8_t dir)
{
	x_ct(r, NFT_CT_DIRECTION, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, dir);
}

/* The sandbox id of the ct mark in R0, for set keys. */
void k_sandbox(struct nftnl_rule *r, const struct marks *m)
{
	x_ct(r, NFT_CT_MARK, R0);
	x_bitwise(r, R0, 4, m->id, 0);
}

/* IPv4 and IPv6 addresses in the network header */
#define V4_SADDR 12
#define V4_DADDR 16
#define V6_SADDR 8
#define V6_DADDR 24

uint32_t addr_off(int v6, bool dst)
{
	return v6 ? (dst ? V6_DADDR : V6_SADDR) : (dst ? V4_DADDR : V4_SADDR);
}

uint32_t addr_len(int v6)
{
	return v6 ? 16 : 4;
}

/* A TCP flow key into consecutive registers from R0: source, destination
 * (or the reverse, for a reply), ports, then the 32-bit field at th_off:
 * the sequence number of an original packet is matched against the
 * acknowledgement number of the server's SYN-ACK. */
void k_tcp_first(struct nftnl_rule *r, int v6, bool reply,
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

/* A UDP datagram to 443 whose first packet has a long header (QUIC's
 * Initial, 0-RTT, Handshake, or a version we do not read). */
void m_quic_long(struct nftnl_rule *r)
{
	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R0);
	x_cmp(r, R0, NFT_CMP_EQ, &(uint16_t){ htons(443) }, 2);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 0, 1, R0);
	x_bitwise(r, R0, 1, 0x80, 0);
	x_cmp8(r, R0, NFT_CMP_EQ, 0x80);
}

void k_sb(struct nftnl_rule *r, enum sb_key key, uint32_t reg)
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

const char *sb_map(enum sb_key key)
{
	static const char *const maps[] = { "sb_iif", "sb_src4", "sb_src6" };

	return maps[key % 3];
}

/* A kernel verdict: audit it through NFLOG, cache it in the ct mark. */
void s_decide(struct nftnl_rule *r, const struct nft_opts *o,
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

/* Matches once the packet's sandbox is past `rate' packets a second (a
 * burst of twice that), its token bucket in the meter `set'. */
void x_sandbox_over(struct nftnl_rule *r, const struct nft_opts *o,
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
