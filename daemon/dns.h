/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_DNS_H
#define SBXFWD_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dns_msg.h"
#include "histogram.h"
#include "judge.h"
#include "marks.h"

/* The sandboxes' resolver (SPEC §3). The ruleset redirects DNS from
 * sandboxes (UDP and TCP 53, any destination) to the port this listens
 * on; conntrack tells which sandbox asked. Names the policy allows are
 * forwarded to the upstream resolvers, the answers filtered and their
 * addresses remembered for address binding; other names get NXDOMAIN with
 * Extended DNS Error 15 (Blocked). Never blocks: every socket is
 * non-blocking, in an epoll set of its own. */

/* What the resolver tells the layers above it. */
struct sandbox;
struct dns_hooks {
	/* a resolution of the daemon's own ended */
	void (*resolved)(void);
	/* an answer's addresses for `name': a sandbox's (sb), or the
	 * daemon's own (sb NULL), held for_ns (0: each its TTL) */
	void (*learned)(const struct sandbox *sb, const char *name,
			const struct dns_learned_addr *a, size_t n,
			uint64_t for_ns, uint64_t now);
};

/* Opens the listening sockets on one free port for UDP and TCP, IPv4 and
 * IPv6. Returns the epoll descriptor to watch, or -1 with err set. */
int dns_open(const struct marks *m, const struct dns_hooks *hooks,
	     uint16_t *port, char *err, size_t errlen);
/* The upstream resolvers (at start and on SIGHUP). */
void dns_configure(const struct upstream *up, size_t n);
/* The epoll descriptor is readable. */
void dns_event(void);
/* Upstream timeouts and idle TCP clients. */
void dns_tick(uint64_t now);
void dns_close(void);

/* Address binding (judge.h): YES when the sandbox got addr in an answer
 * for `name' (within TTL + grace) or the daemon's own resolution has it,
 * NO when the daemon's own resolution is known and has not, WAIT while
 * it is not known. */
enum bound dns_bound(uint32_t sb, const char *name, int family,
		     const uint8_t *addr, enum bind_how how);

/* Resolve a name for the daemon itself, unless it knows it already (the
 * answer is remembered for address binding, and goes to the hooks'
 * learned()). */
void dns_prefetch(const char *name);

/* A policy changed: the names it no longer lets the sandbox resolve are
 * forgotten with their addresses (all of them when the sandbox is gone:
 * policy NULL). */
struct policy;
void dns_forget(uint32_t sb, const struct policy *p);

struct dns_stats {
	uint64_t allowed, denied, failed;	/* failed: SERVFAIL given */
	struct histogram upstream;	/* time to an upstream's answer */
};
const struct dns_stats *dns_stats(void);

#endif
