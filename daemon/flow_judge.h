/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_FLOW_JUDGE_H
#define SBXFWD_FLOW_JUDGE_H

#include <stdbool.h>

#include "flow.h"
#include "judge.h"
#include "sandbox.h"

/* The daemon's side of the one judge (common/judge.h): a sandbox's flow,
 * judged under its policy, the ini's [tls] ech and ip_binding, and the
 * resolver's address binding; and the flow's audit row, written here
 * for every caller. */

void flow_judge_configure(bool ech_deny, bool ip_binding);

/* Judges the flow k of sandbox sb (NULL: destroyed since, refused
 * "no-sandbox"); q carries what its first bytes said, and gets k's
 * destination, port and protocol. */
bool flow_judge(const struct sandbox *sb, const struct flow_key *k,
		struct flow_query *q, enum bind_how how, struct judgement *j);

/* The flow's row: k's ends, q's name (q may be NULL), v's reason and
 * rule; inbound: opened towards the sandbox (k from the other end). */
void flow_judge_audit(const struct sandbox *sb, const struct flow_key *k,
		      const struct flow_query *q,
		      const struct verdict_result *v, bool allow);
void flow_judge_audit_dir(const struct sandbox *sb, const struct flow_key *k,
			  const struct flow_query *q,
			  const struct verdict_result *v, bool allow,
			  bool inbound);

#endif
