/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_HELLOS_H
#define SBXFWD_HELLOS_H

#include <stdint.h>

#include "clienthello.h"
#include "flow.h"
#include "pkt.h"
#include "quic.h"

/* The hellos of flows the kernel lets through unread (allow-all, allowed
 * ranges), gathered from the packets NFLOG logs of them, for their names
 * (the audit; the policy changes that judge open flows again). A hello
 * may span TCP segments (Chromium's, with its post-quantum key share,
 * takes two, its server_name anywhere in them) or QUIC Initials: a few
 * flows are gathered at a time, the oldest given up for a new one. No
 * I/O. */

enum hello_step {
	HELLO_NAMED,	/* ch holds the server_name */
	HELLO_MORE,	/* the rest of the hello is still to come */
	HELLO_NONE,	/* no name: not a hello, none in it, or given up */
};

/* A TCP segment logged: one that starts a hello, or one after it. */
enum hello_step hellos_tcp(const struct flow_key *k, const struct pkt *p,
			   uint64_t now_ns, struct client_hello *ch);
/* A client's QUIC datagram; when HELLO_NAMED, *conn (the caller's to
 * free) is the connection its Initials opened. */
enum hello_step hellos_quic(const struct flow_key *k, const struct pkt *p,
			    struct client_hello *ch, struct quic_conn **conn);
/* A new flow on these ends: what was gathered of another is not its. */
void hellos_forget(const struct flow_key *k);
/* Flows being gathered. */
size_t hellos_count(void);
void hellos_fini(void);

#endif
