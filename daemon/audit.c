/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "log.h"
#include "xalloc.h"

#define RING 16384		/* records waiting, at most */
#define BATCH 512		/* flush early past this many */

static struct store *store;
static bool log_allowed;
static struct flow_record *ring;
static size_t head, len;
static uint64_t written, lost;

void audit_init(struct store *st, bool allowed)
{
	store = st;
	log_allowed = allowed;
	ring = xcalloc(RING, sizeof(*ring));
	head = len = 0;
}

void audit_fini(void)
{
	audit_flush();
	free(ring);
	ring = NULL;
}

void audit_flow(const struct flow_record *r)
{
	if (r->allow && !log_allowed)
		return;
	if (len == RING) {
		lost++;
		return;
	}
	ring[(head + len++) % RING] = *r;
}

bool audit_due(void)
{
	return len >= BATCH;
}

void audit_flush(void)
{
	char err[256];

	while (len) {
		/* the contiguous part of the ring, then the rest */
		size_t n = len < RING - head ? len : RING - head;

		if (store_flows_insert(store, ring + head, n, err,
				       sizeof(err)) < 0) {
			log_warnx("audit: %zu records not written: %s", n, err);
			lost += n;
		} else {
			written += n;
		}
		head = (head + n) % RING;
		len -= n;
	}
}

uint64_t audit_written(void)
{
	return written;
}

uint64_t audit_lost(void)
{
	return lost;
}
