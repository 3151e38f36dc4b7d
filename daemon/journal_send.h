/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_JOURNAL_SEND_H
#define SBXFWD_JOURNAL_SEND_H

#include <sys/uio.h>

/* The longest entry sent as one datagram: 20 fields of 2,200 bytes. */
#define JOURNAL_ENTRY_MAX (64 * 1024)

/* Sends one entry of NAME=value fields to journald; 0, or -1 (errno).
 * One thread only. */
int journal_send(const struct iovec *iov, int n);
void journal_send_close(void);

#endif
