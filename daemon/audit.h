/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_AUDIT_H
#define SBXFWD_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Flow verdicts for the audit table, queued on the verdict path and
 * written in batches off it. */
void audit_init(struct store *st, bool log_allowed);
void audit_fini(void);
/* Copies the record; counted as lost when the queue is full. */
void audit_flow(const struct flow_record *r);
/* Whether enough waits that the caller should flush now. */
bool audit_due(void);
/* Write everything queued, in one transaction. */
void audit_flush(void);
uint64_t audit_written(void);
uint64_t audit_lost(void);

#endif
