/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_PGSTARTUP_H
#define SBXFW_PGSTARTUP_H

#include <stddef.h>
#include <stdint.h>

#define PG_REQUEST_LEN 8	/* SSLRequest and GSSENCRequest */

enum pg_start {
	PG_NEED_MORE,		/* fewer than 8 bytes, could still be one */
	PG_SSL_REQUEST,		/* answer 'S', a ClientHello follows */
	PG_GSSENC_REQUEST,	/* answer 'N', the client falls back */
	PG_DIRECT_TLS,		/* sslnegotiation=direct: a ClientHello */
	PG_PLAINTEXT,		/* a v3 StartupMessage or CancelRequest */
	PG_NOT_PG,
};

/* Classify the first bytes a client sent. Pure. */
enum pg_start pg_classify(const uint8_t *buf, size_t len);
const char *pg_start_name(enum pg_start s);

#endif
