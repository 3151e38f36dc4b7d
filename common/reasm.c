/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "reasm.h"
#include "xalloc.h"

const char *reasm_why_name(enum reasm_why w)
{
	static const char *const names[] = { "none", "too-big", "timeout",
					     "overlap-conflict", "judge" };
	return names[w];
}

void reasm_init(struct reasm *r, uint32_t base, size_t limit,
		uint64_t now_ns, uint64_t timeout_ns)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	r->limit = limit;
	r->deadline_ns = now_ns + timeout_ns;
	/* most ClientHellos fit the first size; grown up to the limit */
	r->cap = limit < REASM_FIRST_CAP ? limit : REASM_FIRST_CAP;
	r->buf = xmalloc(r->cap);
	r->have = xcalloc((r->cap + 7) / 8, 1);
}

static void grow(struct reasm *r, size_t need)
{
	size_t cap = r->cap, old = (r->cap + 7) / 8;

	while (cap < need)
		cap *= 2;
	if (cap > r->limit)
		cap = r->limit;
	r->buf = xreallocarray(r->buf, cap, 1);
	r->have = xreallocarray(r->have, (cap + 7) / 8, 1);
	memset(r->have + old, 0, (cap + 7) / 8 - old);
	r->cap = cap;
}

void reasm_fini(struct reasm *r)
{
	free(r->buf);
	free(r->have);
	r->buf = r->have = NULL;
}

static bool have_bit(const struct reasm *r, size_t i)
{
	return i < r->cap && (r->have[i / 8] >> (i % 8) & 1);
}

static enum reasm_state give_up(struct reasm *r, enum reasm_why why)
{
	r->state = REASM_GIVE_UP;
	r->why = why;
	return r->state;
}

enum reasm_state reasm_tick(struct reasm *r, uint64_t now_ns)
{
	if (r->state == REASM_NEED_MORE && now_ns >= r->deadline_ns)
		return give_up(r, REASM_WHY_TIMEOUT);
	return r->state;
}

/* Marks [off, off + len) received. */
static void have_range(struct reasm *r, size_t off, size_t len)
{
	size_t end = off + len;

	for (; off < end && off % 8; off++)
		r->have[off / 8] |= (uint8_t)(1u << (off % 8));
	if (end - off >= 8) {
		memset(r->have + off / 8, 0xff, (end - off) / 8);
		off += (end - off) / 8 * 8;
	}
	for (; off < end; off++)
		r->have[off / 8] |= (uint8_t)(1u << (off % 8));
}

/* Copy bytes in, checking those already there; false on a conflict.
 * Bytes past all received so far (a stream in order) are copied whole. */
static bool store(struct reasm *r, size_t off, const uint8_t *data,
		  size_t len)
{
	size_t i;

	if (off >= r->end) {
		memcpy(r->buf + off, data, len);
		have_range(r, off, len);
		r->stored += len;
		r->end = off + len;
		return true;
	}
	for (i = 0; i < len; i++) {
		size_t at = off + i;
		if (have_bit(r, at)) {
			if (r->buf[at] != data[i])
				return false;
			continue;
		}
		r->buf[at] = data[i];
		r->have[at / 8] |= (uint8_t)(1u << (at % 8));
		r->stored++;
	}
	if (off + len > r->end)
		r->end = off + len;
	return true;
}

/* The first byte not received from FROM on. */
static size_t gap(const struct reasm *r, size_t from)
{
	while (from < r->limit && from % 8 && have_bit(r, from))
		from++;
	while (from + 8 <= r->cap && r->have[from / 8] == 0xff)
		from += 8;
	while (from < r->limit && have_bit(r, from))
		from++;
	return from;
}

/* The judge's word on the contiguous prefix. */
static enum reasm_state judged(struct reasm *r, reasm_judge_fn judge,
			       void *arg)
{
	r->state = judge(r->buf, r->contig, arg);
	if (r->state == REASM_GIVE_UP)
		r->why = REASM_WHY_JUDGE;
	else if (r->state == REASM_NEED_MORE && r->contig == r->limit)
		return give_up(r, REASM_WHY_TOO_BIG);
	return r->state;
}

enum reasm_state reasm_add(struct reasm *r, uint32_t seq, const uint8_t *data,
			   size_t len, uint64_t now_ns, reasm_judge_fn judge,
			   void *arg)
{
	uint32_t off = seq - r->base;
	size_t before = r->contig;

	if (r->state != REASM_NEED_MORE || reasm_tick(r, now_ns) != REASM_NEED_MORE)
		return r->state;
	if (len == 0)
		return r->state;
	if ((int32_t)off < 0) {		/* starts before base: trim */
		uint32_t skip = -off;
		if (skip >= len)
			return r->state;
		data += skip;
		len -= skip;
		off = 0;
	}
	if (off >= r->limit)
		return give_up(r, REASM_WHY_TOO_BIG);
	if (len > r->limit - off)
		len = r->limit - off;
	if (off + len > r->cap)
		grow(r, off + len);
	if (!store(r, off, data, len))
		return give_up(r, REASM_WHY_CONFLICT);
	r->contig = gap(r, r->contig);
	if (r->contig == before)
		return r->state;
	return judged(r, judge, arg);
}

enum reasm_state reasm_resume(struct reasm *r, reasm_judge_fn judge,
			      void *arg)
{
	if (r->state != REASM_COMPLETE)
		return r->state;
	return judged(r, judge, arg);
}
