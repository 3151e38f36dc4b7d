/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_RST_H
#define SBXFWD_RST_H

#include <stdint.h>

#include "flow.h"

/* The server side of a denied TCP flow: it accepted the handshake and
 * waits for bytes that will never come. A reset in the client's name, at
 * the sequence number the server expects, ends it there. */
int rst_init(void);
void rst_fini(void);
void rst_to_server(const struct flow_key *k, uint32_t seq);

#endif
