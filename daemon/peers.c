/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "peers.h"

static struct peer {
	struct flow_key key;
	uint32_t sb;		/* 0: empty */
	uint32_t gen;
	uint64_t until;
} slots[PEERS_SLOTS];
static uint32_t gen;	/* what was put before a change is forgotten */

static struct peer *slot_of(const struct flow_key *k)
{
	return &slots[flow_key_hash(k) % PEERS_SLOTS];
}

int peers_get(const struct flow_key *reply, uint64_t now, uint32_t *sb)
{
	const struct peer *p = slot_of(reply);

	if (!p->sb || p->gen != gen || now >= p->until ||
	    memcmp(&p->key, reply, sizeof(*reply)))
		return -1;
	*sb = p->sb;
	return 0;
}

void peers_put(const struct flow_key *reply, uint32_t sb, uint64_t now)
{
	struct peer *p = slot_of(reply);

	p->key = *reply;
	p->sb = sb;
	p->gen = gen;
	p->until = now + PEERS_KEEP_NS;
}

void peers_forget(void)
{
	gen++;
}
