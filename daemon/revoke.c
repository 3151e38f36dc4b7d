/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "conns.h"
#include "ct.h"
#include "dns.h"
#include "log.h"
#include "revoke.h"
#include "route.h"
#include "rst.h"

struct revoke_ctx {
	struct sandbox *sb;
	const struct marks *m;
	bool ech_deny;
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
		const char *sni, const char *reason, const char *rule)
{
	uint32_t mark = mark_id(c->m, c->sb->id) | mark_state(c->m, ST_DENY);
	struct flow_record r;

	if (revoke_flow(k, mark, c->m->mask) < 0)
		return;		/* ended meanwhile */
	c->cut++;
	c->sb->denied++;
	audit_record_init(&r, c->sb->name, k);
	if (sni)
		snprintf(r.sni, sizeof(r.sni), "%s", sni);
	r.allow = false;
	r.reason = reason;
	snprintf(r.rule, sizeof(r.rule), "%s", rule);
	audit_flow(&r);
}

/* The policy's word on a flow to `to' whose name is sni (or unknown). */
static void judge(const struct revoke_ctx *c, const struct flow_key *k,
		  const uint8_t *to, const char *sni, struct verdict_result *v)
{
	struct flow_query q = {
		.family = k->family, .dport = k->dport, .proto = k->proto,
		.payload = sni ? PAYLOAD_TLS :
			   k->proto == IPPROTO_UDP && k->dport != 443 ?
			   PAYLOAD_NOT_TLS : PAYLOAD_NONE,
		.sni = sni, .sni_len = sni ? strlen(sni) : 0,
		.ech_deny = c->ech_deny,
	};

	memcpy(q.dst, to, 16);
	policy_eval(c->sb->policy, &q, v);
}

static void judge_again(const struct flow_key *k, uint32_t ctmark,
			bool ended, void *arg)
{
	struct revoke_ctx *c = arg;
	const char *sni = conns_sni(k);
	uint32_t st = ctmark & c->m->state;
	struct verdict_result v;

	/* the kernel filters the dump by mark; checked again all the same.
	 * A connection that ended is not cut (nor audited as cut): its
	 * entry carries nothing more (chain "ended"), and a new one on its
	 * ports is judged afresh. */
	if (ended || (ctmark & c->m->id) != mark_id(c->m, c->sb->id) ||
	    (st != mark_state(c->m, ST_ALLOW) &&
	     st != mark_state(c->m, ST_JUDGED)))
		return;
	judge(c, k, k->dst, sni, &v);
	/* DNS that an allowed range let through goes to the resolver now */
	if (v.verdict == VERDICT_ALLOW)
		return;
	/* an open flow that now lacks its name needs one to be judged */
	cut(c, k, sni, v.verdict == VERDICT_DENY ? v.reason : "policy-changed",
	    v.rule);
}

int revoke_sandbox(struct sandbox *sb, const struct marks *m, bool ech_deny,
		   char *err, size_t errlen)
{
	struct revoke_ctx c = { sb, m, ech_deny, 0, 0 };
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
	struct verdict_result v;
	const char *reason;

	(void)ctmark, (void)ended;
	if (!out && !is_sandbox_end(c->sb, k->family, k->dst))
		return;
	/* inbound: judged by the remote end's address */
	judge(c, k, out ? k->dst : k->src, NULL, &v);
	if (!out && v.verdict != VERDICT_DENY &&
	    c->sb->policy->mode == MODE_ALLOW_ALL)
		v.verdict = VERDICT_ALLOW;
	if (v.verdict == VERDICT_ALLOW) {
		ct_set_mark(k, mark_id(c->m, c->sb->id) |
			    mark_state(c->m, ST_ALLOW), c->m->mask);
		c->adopted++;
		return;
	}
	if (v.verdict == VERDICT_DENY && strcmp(v.reason, "not-tls") &&
	    strcmp(v.reason, "clienthello-incomplete"))
		reason = v.reason;
	else
		reason = out ? "policy-changed" : "inbound-not-allowed";
	cut(c, k, NULL, reason, v.rule);
}

int revoke_adopt(struct sandbox *sb, const struct marks *m, bool ech_deny,
		 char *err, size_t errlen)
{
	struct revoke_ctx c = { sb, m, ech_deny, 0, 0 };
	int rc = ct_each(mark_state(m, ST_OTHER), m->mask, adopt, &c, err,
			 errlen);

	if (rc < 0)
		return rc;
	if (c.cut || c.adopted)
		log_info("sandbox %s: of the flows open before it, %d cut, %d "
			 "kept", sb->name, c.cut, c.adopted);
	return c.cut;
}
