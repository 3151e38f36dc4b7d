/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_QUIC_H
#define SBXFW_QUIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clienthello.h"
#include "firstbytes.h"
#include "quic_packet.h"

/* The ClientHello of a QUIC connection, read from the client's Initial
 * packets (RFC 9001 §5: keys derived from the Destination Connection ID,
 * so anyone on the path can read them). QUIC v1 and v2. One code path
 * for `sbxfw inspect' and the daemon's verdicts (SPEC §1.9). */

enum quic_status {
	QUIC_OK,		/* the ClientHello is whole */
	QUIC_NEED_MORE,
	QUIC_MALFORMED,		/* not a valid Initial or ClientHello */
	QUIC_CONFLICT,		/* CRYPTO frames overlap with other bytes */
	QUIC_TOO_BIG,		/* the CRYPTO stream outgrows the bound */
	QUIC_STRANGER,		/* a datagram of another connection: another
				 * Destination Connection ID, version or keys */
};

struct quic_initial;

/* Pure. */
struct quic_initial *quic_initial_new(void);
void quic_initial_free(struct quic_initial *q);
/* Bytes it holds, for the holder's bound. */
size_t quic_initial_bytes(const struct quic_initial *q);
/* Feed one client datagram; QUIC_OK once the ClientHello is complete
 * (then written to ch). Its long headers must be of one connection
 * (RFC 9000 §12.2) and its Initials open under one set of keys: once
 * one did, a datagram that is not the same connection's is a STRANGER,
 * and is not read; before, MALFORMED. */
enum quic_status quic_initial_add(struct quic_initial *q, const uint8_t *dgram,
				  size_t len, struct client_hello *ch);

/* One datagram of a flow not judged yet, for whoever judges it: MORE
 * while its ClientHello is not whole, VERSION when the datagram is of a
 * version to negotiate (answer it, drop it, go on waiting), OTHER when
 * it is not of the connection being judged (another Destination
 * Connection ID, version or keys, or long headers we cannot read: judge
 * it on its own, or drop it), else DONE with fb->kind (and fb->ch)
 * saying what the flow is. A flow whose first datagram is no long-header
 * packet is PAYLOAD_NOT_QUIC. */
enum quic_step {
	QUIC_STEP_MORE, QUIC_STEP_VERSION, QUIC_STEP_OTHER, QUIC_STEP_DONE
};
enum quic_step quic_judge(struct quic_initial *q, const uint8_t *dgram,
			  size_t len, struct first_bytes *fb);

/* The connection a flow was allowed for: its keys' connection ID and
 * version, and its ClientHello's CRYPTO bytes (16 KiB at most). NULL
 * unless q read a whole hello. */
struct quic_conn;
struct quic_conn *quic_conn_new(const struct quic_initial *q);
void quic_conn_free(struct quic_conn *c);
size_t quic_conn_bytes(const struct quic_conn *c);

/* A client's long-header datagram on a flow allowed for c (NULL when
 * not known): PASS when it opens no connection (0-RTT, Handshake, the
 * judged connection's Initials carrying no CRYPTO bytes or the judged
 * ones again), UNREAD when it cannot be read (a version other than v1
 * and v2, an Initial that opens under no keys,
 * packets of two connections): drop it; JUDGE when its Initials carry
 * a hello not judged yet: fb says what it is (a whole ClientHello,
 * CRYPTO bytes that differ from the judged ones, a hello not whole in
 * the datagram) and *judge (to free) holds its keys, for the refusal. */
enum quic_later { QUIC_LATER_PASS, QUIC_LATER_UNREAD, QUIC_LATER_JUDGE };
enum quic_later quic_later(const struct quic_conn *c, const uint8_t *dgram,
			   size_t len, struct quic_initial **judge,
			   struct first_bytes *fb);

/* The server's Initial refusing the connection: CONNECTION_CLOSE with
 * CONNECTION_REFUSED and `reason', under the Initial keys of the
 * client's first Initial; 0 before one decrypted. */
size_t quic_refusal(const struct quic_initial *q, const char *reason,
		    uint8_t *out, size_t cap);
/* The same, from the header of the datagram's first packet alone (an
 * Initial of v1 or v2), nothing decrypted: for a flow refused whatever
 * its name. 0 when that packet is no such Initial. */
size_t quic_refusal_header(const uint8_t *dgram, size_t len,
			   const char *reason, uint8_t *out, size_t cap);

#endif
