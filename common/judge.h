/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_JUDGE_H
#define SBXFW_JUDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "domain.h"
#include "policy.h"

/* The one judge of a flow (SPEC §2, §3, §6): from its facts (the
 * destination, port and protocol, what its first bytes said, whether
 * the broker holds it) under a sandbox's policy, the verdict, its reason
 * and rule. Every caller asks here and only carries the answer out: the
 * queued packets, the broker's flows, revocation, `check', `inspect'. No
 * I/O: address binding is asked of the caller's function. */

/* Address binding: may a flow whose SNI `name' (normalised) the policy
 * allows go to `addr'? YES when the sandbox got it in an answer for the
 * name or the daemon's own resolution has it; NO when the daemon's own
 * resolution is known and has not; WAIT while it is not known. How:
 * BIND_RESOLVE starts a resolution when needed (WAIT until it ends),
 * BIND_FINAL waits no more (unknown is NO), BIND_PEEK starts nothing
 * (sbxfw check); BIND_NONE asks nothing (revocation judges names). */
enum bound { BOUND_YES, BOUND_NO, BOUND_WAIT };
enum bind_how { BIND_NONE, BIND_RESOLVE, BIND_FINAL, BIND_PEEK };
typedef enum bound (*judge_bind_fn)(const char *name, int family,
				    const uint8_t *addr, enum bind_how how,
				    void *arg);

struct judge_env {
	const struct policy *policy;
	bool ech_deny;		/* ini [tls] ech = deny */
	judge_bind_fn bind;	/* NULL: no address binding */
	void *arg;
};

struct judgement {
	struct verdict_result v;	/* VERDICT_DNS: to the resolver */
	enum bound bound;	/* YES unless binding was asked */
	bool bound_asked;
	bool inject;		/* brokered: terminated, headers injected */
	char host[DOMAIN_MAX + 1];	/* the SNI normalised, or "" */
};

/* Whether the flow of q may go (its verdict allows and its address is
 * bound); j says why, and WAIT in j->bound when it waits for a
 * resolution. q's family, dst, dport, proto and payload facts are the
 * caller's; its ech_deny is set from e. */
bool judge(const struct judge_env *e, struct flow_query *q,
	   enum bind_how how, struct judgement *j);

#endif
