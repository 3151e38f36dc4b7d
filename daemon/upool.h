/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_UPOOL_H
#define SBXFWD_UPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Connected UDP sockets to the upstream resolvers, reused by forwarded
 * queries one at a time: a socket and its connect cost more than the
 * query. Each serves UPOOL_USES queries at most, then a fresh socket
 * (a fresh random source port) takes its place, so that the ports an
 * off-path spoofer must guess keep changing; every query still has its
 * own random id. */
#define UPOOL_USES 64
#define UPOOL_MAX 256

#define UPOOL_IDLE ((size_t)-1)

void upool_init(void);	/* before anything else */

/* A socket connected to `to' (upstream number `up'), new or idle, for
 * query `owner'; its slot in *slot. *fresh: just made (the caller adds
 * it to its epoll set, tagged with the slot, once). */
int upool_take(size_t up, const struct sockaddr *to, socklen_t tolen,
	       size_t owner, size_t *slot, bool *fresh);
/* Done with it: `ok' (it answered) keeps it for the next query, while
 * it has uses left; else it is closed. */
void upool_give(size_t slot, bool ok);
int upool_fd(size_t slot);
/* The query it serves, or UPOOL_IDLE. */
size_t upool_owner(size_t slot);
/* All closed (the upstreams changed, or the daemon stops). */
void upool_flush(void);

#endif
