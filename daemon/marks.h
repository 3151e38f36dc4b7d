/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_MARKS_H
#define SBXFWD_MARKS_H

#include <stdint.h>

/* sbxfw's part of the packet and conntrack marks: the bits of mark_mask,
 * which must be contiguous. Its low three bits are a state, the rest the
 * sandbox id. Bits outside the mask belong to other tools and are kept. */
enum mark_state {
	ST_NONE = 0,		/* undecided */
	ST_ALLOW = 1,
	ST_DENY = 2,
	ST_PEND = 3,		/* packet mark only: sent to the queue */
	ST_PEND_FIRST = 4,	/* ...and it is the flow's first byte */
	ST_OTHER = 5,		/* ct mark only: not a sandbox's flow */
	ST_REOPEN = 5,		/* packet mark only: a SYN on an entry with a
				 * verdict, sent to the queue */
	ST_JUDGED = 6,		/* allowed, until the server acknowledges
				 * the judged bytes every packet is queued */
	ST_PEND_JUDGED = 7,	/* packet mark only: queued, of a judged flow */
};

#define MARK_STATE_BITS 3

struct marks {
	uint32_t mask;		/* the whole field */
	unsigned shift;		/* of its lowest bit */
	uint32_t state;		/* the state bits, in place */
	uint32_t id;		/* the id bits, in place */
	uint32_t max_id;
};

/* -EINVAL when the mask is not contiguous or leaves no room for an id. */
int marks_init(struct marks *m, uint32_t mask);
static inline uint32_t mark_state(const struct marks *m, enum mark_state s)
{
	return (uint32_t)s << m->shift;
}
static inline uint32_t mark_id(const struct marks *m, uint32_t id)
{
	return id << (m->shift + MARK_STATE_BITS);
}
static inline uint32_t mark_get_id(const struct marks *m, uint32_t mark)
{
	return (mark & m->id) >> (m->shift + MARK_STATE_BITS);
}

#endif
