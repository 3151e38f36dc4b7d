/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_JOURNAL_H
#define SBXFWD_JOURNAL_H

#include <stdint.h>

#include "store.h"

/* [audit] journal = yes: every audit row also goes to journald as
 * structured fields (SBXFW_KIND, SBXFW_VERDICT, ...), from a thread of
 * its own through a bounded queue: a full or absent journal never holds
 * a verdict; a row the queue has no room for is counted, never silent.
 * The SQLite audit stays the local truth. */
int journal_start(char *err, size_t errlen);
void journal_flow(const struct flow_record *r);
void journal_flow_end(const struct flow_end *e);
void journal_dns(const struct dns_record *r);
void journal_request(const struct request_record *r);
/* Rows not exported, since the start. */
uint64_t journal_dropped(void);
/* Sends what is queued, then stops the thread. */
void journal_stop(void);

#endif
