/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_INJECT_ADDRS_H
#define SBXFWD_INJECT_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_msg.h"
#include "marks.h"
#include "nft.h"

/* The addresses a sandbox learnt for its injection domains, as the
 * kernel's inject4/inject6 sets hold them (with a timeout: the answer's
 * TTL plus a grace period). Bounded; refreshed only when an answer
 * extends an element by more than a minute. Every call that changes the
 * kernel does it in one batch. */
#define INJECT_ADDRS_MAX 65536

/* Addresses of `name' (an injection domain of the sandbox). */
struct inject_learned {
	int family;
	uint8_t addr[16];
	uint64_t left_ns;
};
void inject_addrs_learn(const struct marks *m, uint32_t sb, const char *name,
			const struct inject_learned *a, size_t n,
			uint64_t now);

/* A sandbox's policy changed: its elements whose name `keep' refuses go,
 * the addresses in `add' come (or stay), in one batch, so that a name
 * brokered before and after is never refused in between. */
typedef bool (*inject_keep_fn)(const char *name, void *arg);
struct inject_named {
	const char *name;
	struct inject_learned a;
};
void inject_addrs_sync(const struct marks *m, uint32_t sb,
		       inject_keep_fn keep, void *arg,
		       const struct inject_named *add, size_t nadd,
		       uint64_t now);
/* Every element of the sandbox out of the kernel. */
void inject_addrs_forget(const struct marks *m, uint32_t sb);
/* The elements still alive, as additions for a rebuilt table (freed by
 * the caller). */
struct nft_inject *inject_addrs_all(uint64_t now, size_t *n);
void inject_addrs_fini(void);

/* Fed by the resolver, once a broker runs (m: the marks). */
void inject_addrs_start(const struct marks *m);
/* The resolver's hook (dns.h): a sandbox's answer (sb), or the daemon's
 * own (sb NULL: every sandbox that injects the name), goes to the
 * kernel's sets. */
struct sandbox;
void inject_addrs_learned(const struct sandbox *sb, const char *name,
			  const struct dns_learned_addr *a, size_t n,
			  uint64_t for_ns, uint64_t now);
/* A sandbox's policy changed: its addresses kept, learnt again from the
 * answers cached, or dropped, in one batch; its exact injection domains
 * resolved by the daemon. */
void inject_addrs_policy(const struct sandbox *sb, uint64_t now);
/* From the daemon's timer: the exact injection domains resolved again
 * as their answers expire. */
void inject_addrs_tick(uint64_t now);

#endif
