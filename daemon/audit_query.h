/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_AUDIT_QUERY_H
#define SBXFWD_AUDIT_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The audit's counts by sandbox, verdict and reason (sbxfw stats), on a
 * thread of their own with a read-only connection: a full-table GROUP BY
 * never delays a verdict. */
struct audit_counts {
	uint64_t tag;		/* the asker's */
	char sandbox[64];	/* "" for all */
	json_t *flows, *dns;	/* {sandbox: {allow, deny, reasons}} */
	char err[256];		/* when they are NULL */
};

/* Starts the thread; returns a descriptor that is readable when answers
 * wait. */
int audit_query_start(const char *database, char *err, size_t errlen);
/* false when too many questions wait already. */
bool audit_query_ask(uint64_t tag, const char *sandbox);
/* An answer, if one waits (the caller owns its JSON). */
bool audit_query_take(struct audit_counts *out);
void audit_query_stop(void);

#endif
