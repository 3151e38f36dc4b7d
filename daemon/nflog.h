/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_NFLOG_H
#define SBXFWD_NFLOG_H

#include <stddef.h>
#include <stdint.h>

#include "marks.h"

/* The kernel's own verdicts (ranges, modes), reported through NFLOG so
 * that they reach the audit table too. */
int nflog_open(uint16_t group, const struct marks *m, char *err,
	       size_t errlen);
void nflog_close(void);
int nflog_receive(void);
/* Everything the kernel still holds, read (at a stop). */
void nflog_drain(void);

#endif
