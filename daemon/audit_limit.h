/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_AUDIT_LIMIT_H
#define SBXFWD_AUDIT_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Denied rows are limited per sandbox (SPEC §8: a sandbox cannot flood
 * the audit): AUDIT_DENY_BURST at once, AUDIT_DENY_RATE a second after.
 * What is held back is counted, and written as one summary row. */
#define AUDIT_DENY_RATE 200
#define AUDIT_DENY_BURST 2000

/* May this sandbox's denied row be written now? (false: counted) */
bool audit_limit_take(const char *sandbox, uint64_t now_ns);
/* A sandbox with rows held back and room again: its name and how many,
 * the count reset; false when none. */
bool audit_limit_suppressed(uint64_t now_ns, char *sandbox, size_t len,
			    uint64_t *count);
void audit_limit_reset(void);

#endif
