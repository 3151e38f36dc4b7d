/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CONTROL_H
#define SBXFWD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "daemon.h"

/* The control socket (SPEC §7): 0660, owner root (opened before the
 * privileges go), group `group', whose members may read; root and members
 * of admin_group ("" none) may also change. Others are refused at once,
 * and 8 connections per uid at most. Its directory must exist
 * (priv_socket_dir). */
int control_open(const char *path, const char *group,
		 const char *admin_group, int epfd, char *err, size_t errlen);
void control_close(void);
/* An epoll event whose data.ptr is not one of the daemon's own fds. */
void control_event(void *ptr, uint32_t events, struct daemon *d);
/* The reply to a request that command_run answered with CTL_LATER, for
 * the client d->asker was then (dropped if it left). Takes msg. */
void control_reply(uint64_t id, json_t *msg, struct daemon *d);

#endif
