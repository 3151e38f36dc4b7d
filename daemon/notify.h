/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_NOTIFY_H
#define SBXFWD_NOTIFY_H

/* systemd's readiness protocol (sd_notify(3)): one datagram of
 * "KEY=value" lines to $NOTIFY_SOCKET; nothing when it is not set. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
