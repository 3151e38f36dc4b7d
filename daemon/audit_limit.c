/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>

#include "audit_limit.h"

#define BUCKETS_MAX 1024

/* A token bucket per sandbox name (the audit names sandboxes, not ids). */
struct bucket {
	char sandbox[64];
	double tokens;
	uint64_t last_ns, held;
};

static struct bucket buckets[BUCKETS_MAX];
static size_t nbuckets;

static struct bucket *bucket_of(const char *sandbox, uint64_t now)
{
	static size_t last;	/* a flood comes from one sandbox */
	struct bucket *b;

	if (last < nbuckets && !strcmp(buckets[last].sandbox, sandbox))
		return &buckets[last];
	for (size_t i = 0; i < nbuckets; i++)
		if (!strcmp(buckets[i].sandbox, sandbox))
			return &buckets[last = i];
	if (nbuckets == BUCKETS_MAX)
		return NULL;	/* more names than sandboxes can be: unlimited */
	b = &buckets[nbuckets++];
	snprintf(b->sandbox, sizeof(b->sandbox), "%s", sandbox);
	b->tokens = AUDIT_DENY_BURST;
	b->last_ns = now;
	b->held = 0;
	return b;
}

static void refill(struct bucket *b, uint64_t now)
{
	b->tokens += (double)(now - b->last_ns) / 1e9 * AUDIT_DENY_RATE;
	if (b->tokens > AUDIT_DENY_BURST)
		b->tokens = AUDIT_DENY_BURST;
	b->last_ns = now;
}

bool audit_limit_take(const char *sandbox, uint64_t now)
{
	struct bucket *b = bucket_of(sandbox, now);

	if (!b)
		return true;
	refill(b, now);
	if (b->tokens >= 1) {
		b->tokens--;
		return true;
	}
	b->held++;
	return false;
}

bool audit_limit_suppressed(uint64_t now, char *sandbox, size_t len,
			    uint64_t *count)
{
	for (size_t i = 0; i < nbuckets; i++) {
		struct bucket *b = &buckets[i];

		refill(b, now);
		if (!b->held || b->tokens < 1)
			continue;
		b->tokens--;	/* the summary row is one of its rows */
		snprintf(sandbox, len, "%s", b->sandbox);
		*count = b->held;
		b->held = 0;
		return true;
	}
	return false;
}

void audit_limit_reset(void)
{
	nbuckets = 0;
}
