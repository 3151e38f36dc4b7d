/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rules several chains are made of: a sandbox's id from its
 * interface or address into the mark (classify), the range and mode sets
 * looked up in the order of SPEC §2 (for flows out and in), the
 * no-payload, TTL and packet mark rules, the reverse path check; and the
 * classify chain. */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>

#include <libnftnl/rule.h>

#include "nft_int.h"

#define NORMAL_TTL 64

/* Each id bit of the sandbox a map gives, OR-ed into the ct mark. */
void r_classify_into(struct batch *bt, const struct marks *m,
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
void r_classify(struct batch *bt, const struct marks *m,
		const char *chain, enum sb_key key)
{
	r_classify_into(bt, m, chain, key, true);
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

struct nftnl_rule *r_lookup(const char *chain, const struct marks *m,
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
 * only, when `original'; a reset too only when `rst' (on a flow the
 * daemon holds or judges, the client's reset goes to it: the entry ends,
 * and a SYN of the same ports next begins another, which must not meet
 * what the flow holds or judged). */
void r_nopayload(struct batch *bt, const char *chain, int v6,
		 bool original, bool rst)
{
	struct nftnl_rule *r = rule_new(chain);

	if (original)
		m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	if (!rst)
		m_tcp_flags(r, TCP_RST, 0);
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

/* The TTL and hop limit of the client's packets of an undecided flow,
 * the same for all: a segment that expires past this host (and never
 * reaches the server) cannot be judged in place of the real one. */
void rules_ttl(struct batch *bt, const char *chain)
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
void rules_packet_mark(struct batch *bt, const char *chain,
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

/* A flow not classified yet is (the classify chain), and the rule that
 * follows is for flows of no sandbox: returned for the caller to finish. */
struct nftnl_rule *r_classified(struct batch *bt, const char *chain,
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

/* What the kernel decides of SPEC §2, in its order: denied ranges,
 * deny-all, allowed ranges, allow-all (without denied domains). By the
 * destination; for a flow towards a sandbox (`in'), by its source, with
 * "in:" before the reasons and every allow-all sandbox. */
void rules_policy(struct batch *bt, const struct nft_opts *o,
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

/* A sandbox's packet (by its interface, or its source range: key) must
 * come in by the interface its source is routed through (reverse path),
 * or another link could speak in its name. */
void r_rpf_in(struct batch *bt, const char *chain, enum sb_key key)
{
	struct nftnl_rule *r = rule_new(chain);

	k_sb(r, key, R0);
	x_lookup(r, R0, sb_map(key), R1);
	x_fib_rpf(r, R2);
	x_cmp32(r, R2, NFT_CMP_EQ, 0);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "reverse path rule");
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

void rules_classify(struct batch *bt, const struct marks *m)
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
