/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_RST_H
#define SBXFWD_RST_H

#include <stdint.h>

#include "flow.h"

/* Resets the daemon sends itself: to the server of a denied TCP flow,
 * which accepted the handshake and waits for bytes that will never come,
 * and to both ends of a flow a policy change cut. Each goes from k's
 * source to its destination, at the sequence number that end expects. */
int rst_init(void);
void rst_fini(void);
void rst_send(const struct flow_key *k, uint32_t seq);
/* An ACK outside the receiver's window, which it answers at once with an
 * ACK of its own: that answer, hitting a "deny" ct mark, gets the flow
 * reset at the exact sequence numbers, even when it was idle. */
void rst_probe(const struct flow_key *k);

#endif
