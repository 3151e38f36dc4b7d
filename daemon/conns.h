/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CONNS_H
#define SBXFWD_CONNS_H

#include <stddef.h>

#include "flow.h"
#include "quic.h"

/* The SNI of each flow the daemon allowed (TCP, QUIC), for as long as it may be
 * open, so that a policy change can judge it again (SPEC §4). Bounded:
 * past the limit the oldest are forgotten (and would be cut by a change
 * that needs their name). */
#define CONNS_BYTES_MAX (8u << 20)	/* and past this many bytes */

void conns_init(size_t max);
size_t conns_count(void);
size_t conns_bytes(void);
void conns_fini(void);
void conns_add(const struct flow_key *k, const char *sni, size_t len);
/* A new flow on these ends (a port used again): the name of the one
 * before is not its own. */
void conns_forget(const struct flow_key *k);
/* NULL when unknown. */
const char *conns_sni(const struct flow_key *k);
/* A QUIC flow's connection: the one its verdict was given for, which
 * conns owns from then on (after conns_add; not kept across a restart).
 * NULL is none. */
void conns_set_quic(const struct flow_key *k, struct quic_conn *c);
const struct quic_conn *conns_quic(const struct flow_key *k);

/* Across a restart (revocation needs the names of flows still open):
 * written at stop (0600, beside the database), read once at start.
 * -errno on an error; conns_load returns how many it read. */
int conns_save(const char *path);
int conns_load(const char *path);

#endif
