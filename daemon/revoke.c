/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "ct.h"
#include "dns.h"
#include "flow_judge.h"
#include "log.h"
#include "revoke.h"
#include "route.h"
#include "rst.h"
#include "xalloc.h"

struct revoke_ctx {
	struct sandbox *sb;
	const struct marks *m;
	int cut, adopted;
	/* own_flow()'s last answer */
	bool memo_set, memo_own;
	int memo_family;
	uint8_t memo_src[16];
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

/* Whether addr is the sandbox's, as the table tells: by its address, or
 * by the interface the route to it leaves through. */
static bool is_sandbox_end(const struct sandbox *sb, int family,
			   const uint8_t *addr)
{
	char oif[IF_NAMESIZE];

	return sandbox_matches(sb, route_oif(family, addr, oif) == 0 ? oif :
				   NULL, family, addr);
}

/* Whether k is the sandbox's own flow (its source is the sandbox's) or
 * one opened towards it; the answer for the last source kept, as most
 * of a sandbox's flows share theirs. */
static bool own_flow(struct revoke_ctx *c, const struct flow_key *k)
{
	if (!c->memo_set || c->memo_family != k->family ||
	    memcmp(c->memo_src, k->src, 16)) {
		c->memo_own = is_sandbox_end(c->sb, k->family, k->src);
		c->memo_family = k->family;
		memcpy(c->memo_src, k->src, 16);
		c->memo_set = true;
	}
	return c->memo_own;
}

/* The judge's word on an open flow: the sandbox's own (out) by its
 * destination and its name (sni, or unknown), the address bound when it
 * began; one opened towards it by its other end, its source, as the
 * kernel's inbound rules judge it (allowed in allow-all, unless a range
 * denies it). */
static void judge_open(const struct revoke_ctx *c, const struct flow_key *k,
		       bool out, const char *sni, struct flow_query *q,
		       struct judgement *j)
{
	struct flow_key at = *k;

	*q = (struct flow_query){
		.payload = sni ? PAYLOAD_TLS :
			   k->proto == IPPROTO_UDP && k->dport != 443 ?
			   PAYLOAD_NOT_TLS : PAYLOAD_NONE,
		.sni = sni, .sni_len = sni ? strlen(sni) : 0,
	};
	if (!out)
		memcpy(at.dst, k->src, 16);
	flow_judge(c->sb, &at, q, BIND_NONE, j);
	if (!out && j->v.verdict != VERDICT_DENY &&
	    c->sb->policy->mode == MODE_ALLOW_ALL)
		j->v.verdict = VERDICT_ALLOW;
}

/* Why a flow the judge does not allow is cut: its denial; or, where it
 * needs what is not known of an open flow (a name; its first bytes,
 * unless `bytes' were judged when it began), that the policy changed,
 * for one towards the sandbox that it is not allowed in. */
static const char *cut_reason(const struct verdict_result *v, bool out,
			      bool bytes)
{
	if (v->verdict == VERDICT_DENY &&
	    (bytes || (strcmp(v->reason, "not-tls") &&
		       strcmp(v->reason, "clienthello-incomplete"))))
		return v->reason;
	return out ? "policy-changed" : "inbound-not-allowed";
}

static void judge_again(const struct flow_key *k, uint32_t ctmark,
			bool ended, void *arg)
{
	struct revoke_ctx *c = arg;
	uint32_t st = ctmark & c->m->state;
	const char *sni = conns_sni(k);
	struct flow_query q;
	struct judgement j;
	bool out;

	/* the kernel filters the dump by mark; checked again all the same.
	 * A connection that ended is not cut (nor audited as cut): its
	 * entry carries nothing more (chain "ended"), and a new one on its
	 * ports is judged afresh. */
	if (ended || (ctmark & c->m->id) != mark_id(c->m, c->sb->id) ||
	    (st != mark_state(c->m, ST_ALLOW) &&
	     st != mark_state(c->m, ST_JUDGED)))
		return;
	/* towards the sandbox only when its destination is known to be the
	 * sandbox's: otherwise judged as its own, by where it goes */
	out = own_flow(c, k) || !is_sandbox_end(c->sb, k->family, k->dst);
	judge_open(c, k, out, out ? sni : NULL, &q, &j);
	/* DNS that an allowed range let through goes to the resolver now */
	if (j.v.verdict == VERDICT_ALLOW)
		return;
	/* an open flow that now lacks its name needs one to be judged */
	cut(c, k, &q, cut_reason(&j.v, out, out), j.v.rule, !out);
}

int revoke_sandbox(struct sandbox *sb, const struct marks *m, char *err,
		   size_t errlen)
{
	struct revoke_ctx c = { .sb = sb, .m = m };
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

/* Adoption: the new sandboxes, each one's counts. */
struct adopt_ctx {
	struct revoke_ctx c;
	struct sandbox *const *sbs;
	size_t n;
	int *cut, *adopted;
};

/* The first new sandbox addr (leaving by oif) is the end of; n: none. */
static size_t owner(const struct adopt_ctx *a, const char *oif, int family,
		    const uint8_t *addr)
{
	size_t i = 0;

	while (i < a->n && !sandbox_matches(a->sbs[i], oif, family, addr))
		i++;
	return i;
}

/* An open flow of no sandbox until now: the new sandbox's whose own it
 * is (judged as a new flow would be, without its name), else the one it
 * is opened towards (the inbound rule), as the kernel classifies by
 * source first: a flow from one new sandbox to another is its source's
 * to judge, whatever order the files come in. Allowed ones take its id,
 * the rest are cut. */
static void adopt(const struct flow_key *k, uint32_t ctmark, bool ended,
		  void *arg)
{
	struct adopt_ctx *a = arg;
	struct revoke_ctx *c = &a->c;
	char soif[IF_NAMESIZE], doif[IF_NAMESIZE];
	bool s_ok = route_oif(k->family, k->src, soif) == 0,
	     d_ok = route_oif(k->family, k->dst, doif) == 0, out;
	struct flow_query q;
	struct judgement j;
	size_t i;

	(void)ctmark, (void)ended;
	i = owner(a, s_ok ? soif : NULL, k->family, k->src);
	if (!(out = i < a->n))
		i = owner(a, d_ok ? doif : NULL, k->family, k->dst);
	if (i == a->n)
		return;
	c->sb = a->sbs[i];
	judge_open(c, k, out, NULL, &q, &j);
	if (j.v.verdict == VERDICT_ALLOW) {
		ct_set_mark(k, mark_id(c->m, c->sb->id) |
			    mark_state(c->m, ST_ALLOW), c->m->mask);
		a->adopted[i]++;
		return;
	}
	c->cut = 0;
	cut(c, k, NULL, cut_reason(&j.v, out, false), j.v.rule, !out);
	a->cut[i] += c->cut;
}

int revoke_adopt(struct sandbox *const *sbs, size_t n, const struct marks *m,
		 char *err, size_t errlen)
{
	struct adopt_ctx a = { .c = { .m = m }, .sbs = sbs, .n = n,
			       .cut = xcalloc(n + 1, sizeof(int)),
			       .adopted = xcalloc(n + 1, sizeof(int)) };
	int rc = n ? ct_each(mark_state(m, ST_OTHER), m->mask, adopt, &a, err,
			     errlen) : 0, cuts = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (a.cut[i] || a.adopted[i])
			log_info("sandbox %s: of the flows open before it, %d "
				 "cut, %d kept", sbs[i]->name, a.cut[i],
				 a.adopted[i]);
		cuts += a.cut[i];
	}
	free(a.cut);
	free(a.adopted);
	return rc < 0 ? rc : cuts;
}
