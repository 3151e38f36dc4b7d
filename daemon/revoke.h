/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_REVOKE_H
#define SBXFWD_REVOKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "marks.h"
#include "sandbox.h"

/* Cut one open flow: the bits `mask' of its ct mark become `mark' (a
 * "deny" state), and both ends of a TCP flow are made to answer, so
 * that their answers meet it and they are reset. -errno when the entry
 * is gone. */
int revoke_flow(const struct flow_key *k, uint32_t mark, uint32_t mask);

/* Judge a sandbox's open flows (its conntrack entries) again under its
 * current policy, and cut those it no longer allows: their ct mark turns
 * to "deny", so their next packet, either way, is reset in the kernel.
 * A flow whose name the daemon does not know (decided by a range or a
 * mode) is judged by its address alone; where the policy now needs the
 * name, it is cut. Returns the number cut, or -errno. */
int revoke_sandbox(struct sandbox *sb, const struct marks *m, char *err,
		   size_t errlen);

/* New sandboxes' flows opened before they were (marked "not a
 * sandbox"): their own, and those towards them, judged as they would be
 * now; those not allowed are cut. One conntrack walk for all n. Returns
 * the number cut, or -errno. */
int revoke_adopt(struct sandbox *const *sbs, size_t n, const struct marks *m,
		 char *err, size_t errlen);

#endif
