/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_QUIC_PACKET_H
#define SBXFW_QUIC_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* QUIC packets on the wire, below any connection's state: long headers
 * walked (RFC 9000 §17.2), Initial keys (RFC 9001 §5.2, RFC 9369 §3.3),
 * protection removed and applied. QUIC v1 and v2. Pure. */

#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define QUIC_CID_MAX 20

/* What a datagram's first packet is. */
enum quic_form {
	QUIC_INITIAL,		/* a long-header Initial of a version we read */
	QUIC_LONG,		/* another long-header packet of one (0-RTT,
				 * Handshake) */
	QUIC_OTHER_VERSION,	/* long header, a version we do not read */
	QUIC_SHORT,		/* short header: a connection under way */
	QUIC_NOT,		/* not QUIC */
};

enum quic_form quic_form(const uint8_t *dgram, size_t len);
bool quic_is_initial(const uint8_t *dgram, size_t len);
/* RFC 9000 §16 variable-length integer at *p, *p moved past it; false
 * when cut short. */
bool quic_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);

struct quic_keys {
	uint8_t key[16], iv[12], hp[16];
};
/* The Initial keys of one side, from a Destination Connection ID. */
bool quic_derive_keys(uint32_t version, bool server, const uint8_t *dcid,
		      size_t dcid_len, struct quic_keys *k);

#define QUIC_LT_INITIAL 0
#define QUIC_LT_RETRY 3

/* One long-header packet of a datagram. */
struct quic_lpkt {
	uint32_t version;
	unsigned type;		/* in v1's numbering (QUIC_LT_*) */
	const uint8_t *dcid, *scid;
	size_t dl, sl;
	size_t pn_off, total;	/* from the packet's first byte */
};
/* The long-header packet at d[*off], *off moved past it: 1; 0 past the
 * datagram's long headers; -1 at one we do not read (another version, a
 * Retry, a Length past the datagram). */
int quic_lpkt_next(const uint8_t *d, size_t len, size_t *off,
		   struct quic_lpkt *lp);
/* A datagram's long-header packets are one connection's (RFC 9000
 * §12.2): their number, or -1; the first in *first, how many are
 * Initials in *initials (when not NULL). */
int quic_lpkt_all(const uint8_t *d, size_t len, struct quic_lpkt *first,
		  size_t *initials);
bool quic_same_cid(const uint8_t *a, size_t al, const uint8_t *b, size_t bl);
/* An Initial packet's frames, decrypted under k (to free; their length
 * in *n); NULL when it does not open under k. */
uint8_t *quic_open_packet(const struct quic_keys *k, const uint8_t *pkt,
			  const struct quic_lpkt *lp, size_t *n);

/* RFC 9000 §17.2.1: the Version Negotiation packet answering a client's
 * long-header datagram, listing v1 and v2; 0 when it is none. */
size_t quic_version_negotiation(const uint8_t *dgram, size_t len,
				uint8_t *out, size_t cap);
/* A protected Initial packet (RFC 9001 §5): the client's (server false)
 * or the server's, keys from odcid, `frames' padded to at least 20
 * bytes with the packet number. Returns its length, 0 if cap is short. */
size_t quic_initial_seal(uint32_t version, bool server, const uint8_t *odcid,
			 size_t odcid_len, const uint8_t *dcid, size_t dcid_len,
			 const uint8_t *scid, size_t scid_len, uint32_t pn,
			 const uint8_t *frames, size_t flen, uint8_t *out,
			 size_t cap);

#endif
