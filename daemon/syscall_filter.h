/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_SYSCALL_FILTER_H
#define SBXFWD_SYSCALL_FILTER_H

#include <stddef.h>

/* The system call allowlist (libseccomp), on every thread. A call outside
 * it stops the daemon with a log line naming it. Returns the number of
 * calls allowed. */
int syscall_filter_install(char *err, size_t errlen);

#endif
