/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_QUIC_H
#define SBXFW_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clienthello.h"

/* The ClientHello of a QUIC connection, read from the client's Initial
 * packets (RFC 9001 §5: keys derived from the Destination Connection ID,
 * so anyone on the path can read them). QUIC v1 and v2. */

enum quic_status { QUIC_OK, QUIC_NEED_MORE, QUIC_MALFORMED };

struct quic_initial;

/* A long-header Initial packet of a version we read. Pure. */
bool quic_is_initial(const uint8_t *dgram, size_t len);
struct quic_initial *quic_initial_new(void);
void quic_initial_free(struct quic_initial *q);
/* Feed one client datagram; QUIC_OK once the ClientHello is complete
 * (then written to ch). Packets that fail to decrypt are ignored. */
enum quic_status quic_initial_add(struct quic_initial *q, const uint8_t *dgram,
				  size_t len, struct client_hello *ch);

#endif
