/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_PEERS_H
#define SBXFWD_PEERS_H

#include <stdint.h>

#include "flow.h"

/* Which sandbox a flow redirected to the resolver comes from, by the
 * reply tuple the local socket sees: what conntrack said, kept for
 * PEERS_KEEP_NS so that a client's next queries from the same port cost
 * no netlink round trip. Bounded (a hash of PEERS_SLOTS, the newest
 * wins); forgotten whenever a sandbox is created, changed or removed. */
#define PEERS_SLOTS 4096
#define PEERS_KEEP_NS (1000ull * 1000000)

/* 0 and *sb set when known. */
int peers_get(const struct flow_key *reply, uint64_t now, uint32_t *sb);
void peers_put(const struct flow_key *reply, uint32_t sb, uint64_t now);
void peers_forget(void);

#endif
