/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one judge of a flow: the policy's word, then what the broker's
 * injection rules and address binding add to it (judge.h). */
#include <stdio.h>
#include <string.h>

#include "judge.h"

/* Refusals that come before an injection, as before any domain rule. */
static bool refused_first(const char *reason)
{
	return !strcmp(reason, "range-denied") ||
	       !strcmp(reason, "mode-deny-all") ||
	       !strcmp(reason, "domain-denied") ||
	       !strcmp(reason, "ech-denied") ||
	       !strcmp(reason, "sni-invalid");
}

/* SPEC §3: what a domain rule or an injection allows goes only to an
 * address the name has. */
static bool bind(const struct judge_env *e, const struct flow_query *q,
		 enum bind_how how, struct judgement *j)
{
	if (!e->bind || how == BIND_NONE)
		return true;
	j->bound_asked = true;
	j->bound = j->host[0] ? e->bind(j->host, q->family, q->dst, how,
					e->arg) : BOUND_NO;
	if (j->bound == BOUND_NO) {
		j->v.verdict = VERDICT_DENY;
		j->v.reason = "sni-address-mismatch";
	}
	return j->bound == BOUND_YES;
}

/* A brokered flow to an injection domain is terminated by the broker,
 * under the injection rule (SPEC §6). */
static bool injected(const struct judge_env *e, const struct flow_query *q,
		     struct judgement *j)
{
	const struct inject_rule *ir;

	if (!q->brokered || !j->host[0] ||
	    (j->v.verdict == VERDICT_DENY && refused_first(j->v.reason)) ||
	    !(ir = policy_inject_find(e->policy, j->host, q->dport)))
		return false;
	j->inject = true;
	j->v.verdict = VERDICT_ALLOW;
	j->v.reason = "inject";
	snprintf(j->v.rule, sizeof(j->v.rule), "%s", ir->domain.text);
	return true;
}

bool judge(const struct judge_env *e, struct flow_query *q,
	   enum bind_how how, struct judgement *j)
{
	memset(j, 0, sizeof(*j));
	j->bound = BOUND_YES;
	q->ech_deny = e->ech_deny;
	policy_eval(e->policy, q, &j->v);
	if (q->sni && domain_name_normalize(q->sni, q->sni_len, j->host) < 0)
		j->host[0] = '\0';
	if (injected(e, q, j))
		return bind(e, q, how, j);
	if (j->v.verdict != VERDICT_ALLOW)
		return false;
	if (strcmp(j->v.reason, "domain-allowed"))
		return true;
	return bind(e, q, how, j);
}
