/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CLIENTHELLO_H
#define SBXFW_CLIENTHELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CH_MAX 16384		/* largest handshake message we reassemble */
#define CH_SNI_MAX 255
#define CH_ALPN_MAX 8
#define CH_VERSIONS_MAX 16

enum ch_status {
	CH_OK,
	CH_NEED_MORE,		/* a valid prefix: wait for more bytes */
	CH_NOT_TLS,		/* does not start as a TLS handshake record */
	CH_MALFORMED,		/* starts as TLS but breaks the grammar */
};

struct client_hello {
	uint16_t legacy_version;
	bool has_sni;
	char sni[CH_SNI_MAX + 1];	/* raw bytes, NUL-terminated */
	size_t sni_len;
	char alpn[CH_ALPN_MAX][CH_SNI_MAX + 1];
	size_t nalpn;			/* how many of alpn[] are filled */
	uint16_t versions[CH_VERSIONS_MAX];	/* supported_versions */
	size_t nversions;
	bool ech;			/* encrypted_client_hello present */
	size_t records;			/* TLS records the message spans */
	size_t length;			/* stream bytes up to its end */
};

/* Parse the first bytes of a TLS stream. Pure: no I/O, no globals, every
 * length checked against the buffer. Duplicate extensions and a
 * server_name list with two host names are malformed (a server might act
 * on the other one). */
enum ch_status ch_parse(const uint8_t *buf, size_t len,
			struct client_hello *out);
/* The same over one handshake message without the record layer, as QUIC
 * carries it in CRYPTO frames. */
enum ch_status ch_parse_message(const uint8_t *msg, size_t len,
				struct client_hello *out);
/* ch_parse, and when it needs more bytes, the server_name of the part
 * there is (has_sni) if that extension is already whole: enough to deny
 * a name before the rest of its hello comes, never to allow one. */
enum ch_status ch_peek_sni(const uint8_t *buf, size_t len,
			   struct client_hello *out);
const char *ch_status_name(enum ch_status s);

#endif
