/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "conns.h"
#include "ct.h"
#include "dns.h"
#include "flow_judge.h"
#include "log.h"
#include "revoke.h"
#include "route.h"
#include "rst.h"

struct revoke_ctx {
	struct sandbox *sb;
	const struct marks *m;
	int cut, adopted;
};

int revoke_flow(const struct flow_key *k, uint32_t mark, uint32_t mask)
{
	struct flow_key back;
	int rc = ct_set_mark(k, mark, mask);

	if (rc < 0 || k->proto != IPPROTO_TCP)
		return rc;
	flow_key_reverse(k, &back);
	rst_probe(k);		/* the server answers */
	rst_probe(&back);	/* the client answers */
	return 0;
}

/* The flow's ct mark becomes "deny" with the sandbox's id; both ends are
 * made to answer (and meet it); the audit says why. */
static void cut(struct revoke_ctx *c, const struct flow_key *k,
		const struct flow_query *q, const char *reason,
		const char *rule, bool inbound)
{
	uint32_t mark = mark_id(c->m, c->sb->id) | mark_state(c->m, ST_DENY);
	struct verdict_result v = { VERDICT_DENY, reason, "" };

	if (revoke_flow(k, mark, c->m->mask) < 0)
		return;		/* ended meanwhile */
	c->cut++;
	c->sb->denied++;
	snprintf(v.rule, sizeof(v.rule), "%s", rule);
	flow_judge_audit_dir(c->sb, k, q, &v, false, inbound);
}

/* The judge's word on an open flow to `to' (its destination, or for a
 * flow opened towards the sandbox its source) whose name is sni (or
 * unknown), the address bound when it began. */
static void judge_open(const struct revoke_ctx *c, const struct flow_key *k,
		       const uint8_t *to, const char *sni,
		       struct flow_query *q, struct judgement *j)
{
	struct flow_key at = *k;

	*q = (struct flow_query){
		.payload = sni ? PAYLOAD_TLS :
			   k->proto == IPPROTO_UDP && k->dport != 443 ?
			   PAYLOAD_NOT_TLS : PAYLOAD_NONE,
		.sni = sni, .sni_len = sni ? strlen(sni) : 0,
	};
	memcpy(at.dst, to, 16);
	flow_judge(c->sb, &at, q, BIND_NONE, j);
}

static void judge_again(const struct flow_key *k, uint32_t ctmark,
			bool ended, void *arg)
{
	struct revoke_ctx *c = arg;
	const char *sni = conns_sni(k);
	uint32_t st = ctmark & c->m->state;
	struct flow_query q;
	struct judgement j;

	/* the kernel filters the dump by mark; checked again all the same.
	 * A connection that ended is not cut (nor audited as cut): its
	 * entry carries nothing more (chain "ended"), and a new one on its
	 * ports is judged afresh. */
	if (ended || (ctmark & c->m->id) != mark_id(c->m, c->sb->id) ||
	    (st != mark_state(c->m, ST_ALLOW) &&
	     st != mark_state(c->m, ST_JUDGED)))
		return;
	judge_open(c, k, k->dst, sni, &q, &j);
	/* DNS that an allowed range let through goes to the resolver now */
	if (j.v.verdict == VERDICT_ALLOW)
		return;
	/* an open flow that now lacks its name needs one to be judged */
	cut(c, k, &q, j.v.verdict == VERDICT_DENY ? j.v.reason :
	    "policy-changed", j.v.rule, false);
}

int revoke_sandbox(struct sandbox *sb, const struct marks *m, char *err,
		   size_t errlen)
{
	struct revoke_ctx c = { sb, m, 0, 0 };
	int rc;

	/* names it may no longer resolve: their addresses bind no more */
	dns_forget(sb->id, sb->policy);
	rc = ct_each(mark_id(m, sb->id), m->id, judge_again, &c, err, errlen);

	if (rc < 0)
		return rc;
	if (c.cut)
		log_info("sandbox %s: %d open flows cut by the policy change",
			 sb->name, c.cut);
	return c.cut;
}

/* Whether addr is the sandbox's, as the table tells: by its address, or
 * by the interface the route to it leaves through. */
static bool is_sandbox_end(const struct sandbox *sb, int family,
			   const uint8_t *addr)
{
	char oif[IF_NAMESIZE];

	return sandbox_matches(sb, route_oif(family, addr, oif) == 0 ? oif :
				   NULL, family, addr);
}

/* An open flow of no sandbox until now: the new sandbox's own (judged as
 * a new flow would be, without its name) or one towards it (the inbound
 * rule); allowed ones take its id, the rest are cut. */
static void adopt(const struct flow_key *k, uint32_t ctmark, bool ended,
		  void *arg)
{
	struct revoke_ctx *c = arg;
	bool out = is_sandbox_end(c->sb, k->family, k->src);
	struct flow_query q;
	struct judgement j;
	struct verdict_result *v = &j.v;
	const char *reason;

	(void)ctmark, (void)ended;
	if (!out && !is_sandbox_end(c->sb, k->family, k->dst))
		return;
	/* inbound: judged by the remote end's address */
	judge_open(c, k, out ? k->dst : k->src, NULL, &q, &j);
	if (!out && v->verdict != VERDICT_DENY &&
	    c->sb->policy->mode == MODE_ALLOW_ALL)
		v->verdict = VERDICT_ALLOW;
	if (v->verdict == VERDICT_ALLOW) {
		ct_set_mark(k, mark_id(c->m, c->sb->id) |
			    mark_state(c->m, ST_ALLOW), c->m->mask);
		c->adopted++;
		return;
	}
	if (v->verdict == VERDICT_DENY && strcmp(v->reason, "not-tls") &&
	    strcmp(v->reason, "clienthello-incomplete"))
		reason = v->reason;
	else
		reason = out ? "policy-changed" : "inbound-not-allowed";
	cut(c, k, NULL, reason, v->rule, !out);
}

int revoke_adopt(struct sandbox *sb, const struct marks *m, char *err,
		 size_t errlen)
{
	struct revoke_ctx c = { sb, m, 0, 0 };
	int rc = ct_each(mark_state(m, ST_OTHER), m->mask, adopt, &c, err,
			 errlen);

	if (rc < 0)
		return rc;
	if (c.cut || c.adopted)
		log_info("sandbox %s: of the flows open before it, %d cut, %d "
			 "kept", sb->name, c.cut, c.adopted);
	return c.cut;
}
