/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_AUDIT_H
#define SBXFWD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "store.h"

/* Flow verdicts for the audit table: queued on the verdict path, written
 * in batches by a thread of their own with its own database connection,
 * so that SQLite never delays a verdict. */
/* Rows older than retention_days are deleted at start and every hour;
 * past max_size bytes of pages in use (0: no bound), the oldest rows,
 * whatever their age. */
int audit_init(const char *database, bool log_allowed,
	       unsigned retention_days, uint64_t max_size, char *err,
	       size_t errlen);
/* New bounds (SIGHUP), taken by the writer in its next period. */
void audit_limits(unsigned retention_days, uint64_t max_size);
/* Writes everything still queued, then stops the writer (SIGTERM). */
void audit_fini(void);
/* The common part of a flows row: now, the sandbox, the flow's ends. */
void audit_record_init(struct flow_record *r, const char *sandbox,
		       const struct flow_key *k);
/* Copies the record; counted as lost when the queue is full. */
void audit_flow(const struct flow_record *r);
void audit_dns(const struct dns_record *r);
void audit_request(const struct request_record *r);
/* A flow ended (conntrack): its row gets its bytes and end time; the
 * row of the flow that began at start_ns (CLOCK_REALTIME; 0: unknown,
 * the latest open row on its ends). */
void audit_flow_end(const char *sandbox, const struct flow_key *k,
		    uint64_t bytes_out, uint64_t bytes_in, uint64_t start_ns);
/* A flow the kernel allowed unread (allow-all, an allowed range) named
 * by its ClientHello after all (NFLOG): its row gets the SNI. */
void audit_flow_name(const char *sandbox, const struct flow_key *k,
		     const char *sni);
/* Summary rows for denied rows held back by the per-sandbox limit
 * (audit_limit.h); from the daemon's timer. */
void audit_tick(void);
uint64_t audit_written(void);
uint64_t audit_lost(void);
/* Rows deleted because the database passed max_size, since the start;
 * the bytes of its pages in use, as the writer last measured them. */
uint64_t audit_deleted_for_size(void);
uint64_t audit_size(void);

#endif
