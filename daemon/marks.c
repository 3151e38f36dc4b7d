/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>

#include "marks.h"

int marks_init(struct marks *m, uint32_t mask)
{
	unsigned bits;

	if (!mask)
		return -EINVAL;
	m->mask = mask;
	m->shift = (unsigned)__builtin_ctz(mask);
	bits = (unsigned)__builtin_popcount(mask);
	/* contiguous: the mask shifted down is all ones */
	if (((uint64_t)(mask >> m->shift) + 1) & (mask >> m->shift))
		return -EINVAL;
	if (bits < MARK_STATE_BITS + 1)
		return -EINVAL;
	m->state = ((1u << MARK_STATE_BITS) - 1) << m->shift;
	m->id = mask & ~m->state;
	m->max_id = (1u << (bits - MARK_STATE_BITS)) - 1;
	return 0;
}
