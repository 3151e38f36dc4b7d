/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_REASM_H
#define SBXFW_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reassembly of the first bytes of one TCP direction, enough to read a
 * ClientHello (possibly behind a Postgres SSLRequest). Segments may come
 * out of order, twice, or overlapping; bytes that overlap must agree. */

#define REASM_LIMIT_DEFAULT (16384 + 1024)
#define REASM_FIRST_CAP 2048

enum reasm_state { REASM_NEED_MORE, REASM_COMPLETE, REASM_GIVE_UP };

enum reasm_why {
	REASM_WHY_NONE,
	REASM_WHY_TOO_BIG,	/* the message does not fit the bound */
	REASM_WHY_TIMEOUT,	/* it did not come in time */
	REASM_WHY_CONFLICT,	/* overlapping segments disagree */
	REASM_WHY_JUDGE,	/* the judge gave up */
};

/* Looks at the contiguous prefix and says whether it is enough. */
typedef enum reasm_state (*reasm_judge_fn)(const uint8_t *buf, size_t len,
					   void *arg);

struct reasm {
	uint32_t base;		/* sequence number of the first byte */
	size_t limit;
	size_t cap;		/* bytes allocated, up to limit */
	size_t contig;		/* bytes contiguous from base */
	size_t stored;		/* bytes received, each counted once */
	size_t end;		/* past the last byte received */
	uint64_t deadline_ns;
	enum reasm_state state;
	enum reasm_why why;
	uint8_t *buf;
	uint8_t *have;		/* bitmap of received bytes */
};

void reasm_init(struct reasm *r, uint32_t base, size_t limit,
		uint64_t now_ns, uint64_t timeout_ns);
void reasm_fini(struct reasm *r);
/* Add a segment's payload; returns the state, which stays once it is
 * COMPLETE or GIVE_UP. */
enum reasm_state reasm_add(struct reasm *r, uint32_t seq, const uint8_t *data,
			   size_t len, uint64_t now_ns, reasm_judge_fn judge,
			   void *arg);
/* After COMPLETE, when the judge's caller moved on (past a Postgres
 * request): judge the bytes there are again and go on. */
enum reasm_state reasm_resume(struct reasm *r, reasm_judge_fn judge,
			      void *arg);
/* Time passed without data: gives up once the deadline is behind us. */
enum reasm_state reasm_tick(struct reasm *r, uint64_t now_ns);
const char *reasm_why_name(enum reasm_why w);

#endif
