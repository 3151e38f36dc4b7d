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
#include "rst.h"

struct revoke_ctx {
	struct sandbox *sb;
	const struct marks *m;
	bool ech_deny;
	int cut;
};

static void judge_again(const struct flow_key *k, uint32_t ctmark, void *arg)
{
	struct revoke_ctx *c = arg;
	const char *sni = k->proto == IPPROTO_TCP ? conns_sni(k) : NULL;
	struct flow_query q = {
		.family = k->family, .dport = k->dport, .proto = k->proto,
		.payload = sni ? PAYLOAD_TLS : k->proto == IPPROTO_UDP ?
			   PAYLOAD_NOT_TLS : PAYLOAD_NONE,
		.sni = sni, .sni_len = sni ? strlen(sni) : 0,
		.ech_deny = c->ech_deny,
	};
	struct verdict_result v;
	struct flow_record r;

	/* the kernel filters the dump by mark; checked again all the same */
	if ((ctmark & c->m->id) != mark_id(c->m, c->sb->id) ||
	    (ctmark & c->m->state) != mark_state(c->m, ST_ALLOW))
		return;
	memcpy(q.dst, k->dst, 16);
	policy_eval(c->sb->policy, &q, &v);
	/* DNS that an allowed range let through goes to the resolver now */
	if (v.verdict == VERDICT_ALLOW)
		return;
	if (ct_set_mark(k, mark_state(c->m, ST_DENY), c->m->state) < 0)
		return;		/* ended meanwhile */
	c->cut++;
	c->sb->denied++;
	if (k->proto == IPPROTO_TCP) {
		struct flow_key back;

		flow_key_reverse(k, &back);
		rst_probe(k);		/* the server answers */
		rst_probe(&back);	/* the client answers */
	}
	audit_record_init(&r, c->sb->name, k);
	if (sni)
		snprintf(r.sni, sizeof(r.sni), "%s", sni);
	r.allow = false;
	/* an open flow that now lacks its name needs one to be judged */
	r.reason = v.verdict == VERDICT_DENY ? v.reason : "policy-changed";
	snprintf(r.rule, sizeof(r.rule), "%s", v.rule);
	audit_flow(&r);
}

int revoke_sandbox(struct sandbox *sb, const struct marks *m, bool ech_deny,
		   char *err, size_t errlen)
{
	struct revoke_ctx c = { sb, m, ech_deny, 0 };
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
