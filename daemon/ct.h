/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CT_H
#define SBXFWD_CT_H

#include <stddef.h>
#include <stdint.h>

#include "ct_proc.h"
#include "flow.h"

/* Delete the conntrack entries whose mark & mask == mark (ctnetlink), so
 * that a sandbox's flows end with it. */
int ct_flush_mark(uint32_t mark, uint32_t mask, char *err, size_t errlen);

/* Each conntrack entry whose mark & mask == mark (ct_entry_fn in
 * ct_proc.h). */
int ct_each(uint32_t mark, uint32_t mask, ct_entry_fn fn, void *arg,
	    char *err, size_t errlen);
/* Set the bits `mask' of one entry's mark to `value'. */
int ct_set_mark(const struct flow_key *k, uint32_t value, uint32_t mask);
/* The entry whose reply tuple is `reply' (a redirected flow as a local
 * socket sees it, local end first): its original tuple and its mark.
 * -ENOENT when there is none. */
int ct_get_reply(const struct flow_key *reply, struct flow_key *orig,
		 uint32_t *mark);
/* Delete the entry whose original tuple is k; -ENOENT if none. */
int ct_delete(const struct flow_key *k);
/* The entry ctnetlink finds for k as an original tuple (it matches a
 * reply tuple too): its original tuple and mark; -ENOENT if none. */
int ct_get_entry(const struct flow_key *k, struct flow_key *orig,
		 uint32_t *mark);
/* The mark of the entry whose original tuple is k; -ENOENT if none. */
int ct_get_mark(const struct flow_key *k, uint32_t *mark);
/* Flows that end (conntrack destroy events, byte accounting and time
 * stamps turned on): a descriptor to watch, then each end's tuple, mark,
 * bytes each way and the entry's start (ns of CLOCK_REALTIME; 0 for an
 * entry made before the stamps were on). */
typedef void (*ct_end_fn)(const struct flow_key *k, uint32_t ctmark,
			  uint64_t bytes_out, uint64_t bytes_in,
			  uint64_t start_ns, void *arg);
int ct_events_open(char *err, size_t errlen);
void ct_events_read(ct_end_fn fn, void *arg);
/* The entry whose original tuple is k begins another connection: the
 * last one's end to fn (its counters, zeroed meanwhile), then the bits
 * state_mask of its mark cleared (undecided). -ENOENT if none. */
int ct_restart(const struct flow_key *k, uint32_t state_mask, ct_end_fn fn,
	       void *arg);
void ct_fini(void);

#endif
