/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_DNSCACHE_H
#define SBXFWD_DNSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_msg.h"

/* The addresses each sandbox got in DNS answers, by name, each until its
 * TTL plus a grace period; and what the daemon resolved itself (sandbox
 * 0), per family, for address binding (SPEC §3). Bounded: past `max'
 * names the least recently learned is forgotten. */
#define DNSCACHE_OWN 0
/* ...and past this many bytes (names, addresses, bookkeeping). */
#define DNSCACHE_BYTES_MAX (8u << 20)

void dnscache_init(size_t max);
void dnscache_fini(void);
/* Addresses of an answer for `name', valid for ttl + extra_ns from now. */
void dnscache_learn(uint32_t sb, const char *name,
		    const struct dns_learned_addr *a, size_t n,
		    uint64_t extra_ns, uint64_t now);
bool dnscache_has(uint32_t sb, const char *name, int family,
		  const uint8_t *addr, uint64_t now);

enum own_state { OWN_UNKNOWN, OWN_PENDING, OWN_KNOWN };
enum own_state dnscache_own(const char *name, int family, uint64_t now);
void dnscache_own_pending(const char *name, int family);
/* The daemon's own answer (n may be 0: none), known for `for_ns' (then
 * asked again); its addresses bound `grace_ns' longer, as long as the
 * kernel's injection set keeps them (a flow the kernel redirects is not
 * refused as another name's for want of a fresh answer). */
void dnscache_own_done(const char *name, int family,
		       const struct dns_learned_addr *a, size_t n,
		       uint64_t for_ns, uint64_t grace_ns, uint64_t now);
/* Forget the sandbox's names for which keep() is false (all: NULL). */
void dnscache_forget(uint32_t sb, bool (*keep)(const char *name, void *arg),
		     void *arg);
/* Each address a sandbox holds for a name, with how long it has left. */
typedef void (*dnscache_fn)(const char *name, int family,
			    const uint8_t *addr, uint64_t left_ns, void *arg);
void dnscache_each(uint32_t sb, dnscache_fn fn, void *arg, uint64_t now);
size_t dnscache_count(void);
size_t dnscache_bytes(void);

#endif
