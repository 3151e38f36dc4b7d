/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A sandbox's flow before the one judge, and its audit row (flow_judge.h). */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "dns.h"
#include "flow_judge.h"
#include "metrics.h"
#include "strcopy.h"

static bool ech_deny, binding;

void flow_judge_configure(bool deny_ech, bool ip_binding)
{
	ech_deny = deny_ech;
	binding = ip_binding;
}

static enum bound resolver_bound(const char *name, int family,
				 const uint8_t *addr, enum bind_how how,
				 void *arg)
{
	const struct sandbox *sb = arg;

	return dns_bound(sb->id, name, family, addr, how);
}

bool flow_judge(const struct sandbox *sb, const struct flow_key *k,
		struct flow_query *q, enum bind_how how, struct judgement *j)
{
	struct judge_env e = { NULL, ech_deny, binding ? resolver_bound : NULL,
			       (void *)sb };

	q->family = k->family;
	memcpy(q->dst, k->dst, 16);
	q->dport = k->dport;
	q->proto = k->proto;
	if (!sb) {
		/* a flow of a sandbox destroyed since: fail closed */
		memset(j, 0, sizeof(*j));
		j->v = (struct verdict_result){ VERDICT_DENY, "no-sandbox",
						"" };
		return false;
	}
	e.policy = sb->policy;
	return judge(&e, q, how, j);
}

void flow_judge_audit(const struct sandbox *sb, const struct flow_key *k,
		      const struct flow_query *q,
		      const struct verdict_result *v, bool allow)
{
	flow_judge_audit_dir(sb, k, q, v, allow, false);
}

void flow_judge_audit_dir(const struct sandbox *sb, const struct flow_key *k,
			  const struct flow_query *q,
			  const struct verdict_result *v, bool allow,
			  bool inbound)
{
	struct flow_record r;

	audit_record_init(&r, sb ? sb->name : "?", k);
	r.inbound = inbound;
	if (q && q->sni)
		str_copy(r.sni, sizeof(r.sni), q->sni,
			 strnlen(q->sni, q->sni_len));
	r.allow = allow;
	r.reason = v->reason;
	metrics_verdict(sb, allow, v->reason);
	str_set(r.rule, sizeof(r.rule), v->rule);
	audit_flow(&r);
}
