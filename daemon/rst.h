/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_RST_H
#define SBXFWD_RST_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Packets the daemon sends itself in one end's name, each from k's
 * source to its destination. Resets: to the server of a denied TCP flow,
 * which accepted the handshake and waits for bytes that will never come,
 * and to both ends of a flow a policy change cut, at the sequence number
 * that end expects. Datagrams: a QUIC client's refusal (SPEC §1.9). */
/* Datagrams go out with the packet mark `forged', which the table never
 * tracks: a conntrack entry of theirs, server to client, would make the
 * client's next datagram a "reply" that passes. */
int rst_init(uint32_t forged);
void rst_fini(void);
void rst_send(const struct flow_key *k, uint32_t seq);
/* An ACK outside the receiver's window, which it answers at once with an
 * ACK of its own: that answer, hitting a "deny" ct mark, gets the flow
 * reset at the exact sequence numbers, even when it was idle. */
void rst_probe(const struct flow_key *k);

#define RST_PAYLOAD_MAX 1232	/* of a datagram */
void rst_datagram(const struct flow_key *k, const uint8_t *payload,
		  size_t len);

#endif
