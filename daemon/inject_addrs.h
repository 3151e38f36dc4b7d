/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_INJECT_ADDRS_H
#define SBXFWD_INJECT_ADDRS_H

#include <stdint.h>

#include "marks.h"

/* The addresses a sandbox learnt for its injection domains, as the
 * kernel's inject4/inject6 sets hold them (with a timeout: the answer's
 * TTL plus a grace period). Bounded; refreshed only when an answer
 * extends an element by more than a minute. */
#define INJECT_ADDRS_MAX 65536

void inject_addrs_learn(const struct marks *m, uint32_t sb, int family,
			const uint8_t *addr, uint64_t left_ns, uint64_t now);
/* Every element of the sandbox out of the kernel. */
void inject_addrs_forget(const struct marks *m, uint32_t sb);
void inject_addrs_fini(void);

#endif
