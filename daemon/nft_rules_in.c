/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The chains for flows towards sandboxes and for what is redirected to
 * this host: inbound (flows opened from outside towards a sandbox), the
 * nat chain that takes a sandbox's DNS to the daemon's resolver and its
 * new flows to an injection domain to the broker, and the broker's input
 * chain. */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include <libnftnl/rule.h>

#include "nft_int.h"

/* Flows opened from outside towards a sandbox carry its data out too:
 * allowed in allow-all, from allowed ranges, and nowhere else. */
void rules_inbound(struct batch *bt, const struct nft_opts *o)
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
void rules_dns(struct batch *bt, const struct nft_opts *o)
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
void rules_inject(struct batch *bt, const struct nft_opts *o)
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
void rules_broker_input(struct batch *bt, const struct nft_opts *o)
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
