/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The `inet sbxfw` table, built through libnftnl, one batch per change:
 * its chains in their order with their rules, the whole table made anew
 * with its sets and elements (owned where the kernel can), the rules alone
 * replaced on a reload, and the probe for the native queue expression. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>

#include <libnftnl/rule.h>

#include "nft_int.h"

/* NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST once the kernel took them */
static uint32_t table_flags;
static bool cannot_own;		/* the kernel refused them once */

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

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
	for (size_t i = 0; i < nset_defs; i++)
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
