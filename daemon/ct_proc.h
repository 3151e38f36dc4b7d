/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CT_PROC_H
#define SBXFWD_CT_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

/* Each conntrack entry whose mark & mask == mark: its original tuple,
 * its mark, and whether its TCP connection has ended (TIME_WAIT, CLOSE:
 * conntrack keeps it a while). */
typedef void (*ct_entry_fn)(const struct flow_key *k, uint32_t ctmark,
			    bool ended, void *arg);

/* The namespace's conntrack table as /proc/net/nf_conntrack prints it.
 * The kernel prints it under RCU, without the bucket locks a ctnetlink
 * dump takes one by one (262,144 of them with 24 GiB: ~9 ms however
 * few entries there are); printing costs ~3 µs an entry, so it is the
 * faster walk of a small table only. */

/* Opened while root (the file is 0440 root's): false if unavailable. */
bool ct_proc_open(void);
void ct_proc_close(void);
/* Entries in the namespace's table, or -1 if unknown. */
long ct_proc_count(void);
/* Each entry whose mark & mask == mark; -EBADF when nothing was read
 * (unavailable), another -errno when a read failed part way. */
int ct_proc_each(uint32_t mark, uint32_t mask, ct_entry_fn fn, void *arg);
/* One line of the file: its original tuple and mark; false when it is
 * not one we know (or not a whole line). */
bool ct_proc_ended(const char *line, size_t len);
bool ct_proc_line(const char *line, size_t len, struct flow_key *k,
		  uint32_t *mark);

#endif
