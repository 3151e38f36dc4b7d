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
	bool past_sslrequest;	/* the stream holds the Postgres requests
				 * too and the ClientHello after them (a
				 * capture): read on past them */
	size_t skip;		/* bytes of requests already let through */
	unsigned requests;	/* FB_REQ_* already let through */
	enum pg_start request;	/* COMPLETE at a request: which one */
	enum payload_kind kind;
	enum pg_start pg;	/* PG_NOT_PG unless Postgres started it */
	bool peeked;		/* ch.sni is of a hello not yet whole */
	struct client_hello ch;
};

#define FB_REQ_GSSENC 1u
#define FB_REQ_SSL 2u

/* The reassembly judge. Before a ClientHello a client may send a
 * GSSENCRequest, then an SSLRequest (SPEC §5): unless past_sslrequest,
 * each ends the judgement (COMPLETE, kind PAYLOAD_NONE, `request' set)
 * so that its 8 bytes, and nothing after them, can pass; fb_passed()
 * then moves on. */
enum reasm_state fb_judge(const uint8_t *buf, size_t len, void *arg);
/* Whether a Postgres request started the stream. */
bool fb_postgres(const struct first_bytes *fb);
/* The request the judge stopped at has been let through. */
void fb_passed(struct first_bytes *fb);
/* What the first bytes came to, once reassembly (r, may be NULL) ended. */
enum payload_kind fb_payload(const struct first_bytes *fb,
			     const struct reasm *r);
/* The payload part of a policy query: kind, SNI, ECH. */
void fb_query(const struct first_bytes *fb, const struct reasm *r,
	      struct flow_query *q);

#endif
