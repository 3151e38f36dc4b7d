/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_FIRSTBYTES_H
#define SBXFW_FIRSTBYTES_H

#include <stdbool.h>

#include "clienthello.h"
#include "pgstartup.h"
#include "policy.h"
#include "reasm.h"

/* What a client's first bytes are: a ClientHello, directly or behind a
 * Postgres SSLRequest, or something else. The reassembly judge. */
struct first_bytes {
	bool past_sslrequest;	/* the stream holds the SSLRequest too and the
				 * ClientHello after it (a capture) */
	enum payload_kind kind;
	enum pg_start pg;	/* PG_NOT_PG unless Postgres started it */
	struct client_hello ch;
};

enum reasm_state fb_judge(const uint8_t *buf, size_t len, void *arg);
/* What the first bytes came to, once reassembly (r, may be NULL) ended. */
enum payload_kind fb_payload(const struct first_bytes *fb,
			     const struct reasm *r);
/* The payload part of a policy query: kind, SNI, ECH. */
void fb_query(const struct first_bytes *fb, const struct reasm *r,
	      struct flow_query *q);

#endif
