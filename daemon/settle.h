/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_SETTLE_H
#define SBXFWD_SETTLE_H

#include <jansson.h>
#include <stdint.h>

#include "daemon.h"
#include "sandbox.h"

/* A change that gives a sandbox injection rules answers once the
 * daemon's own resolution of their exact names has put the addresses in
 * the kernel (SETTLE_MS at most): a request sent the moment the command
 * returns goes to the broker, never refused inject-not-redirected.
 * Returns the reply, or CTL_LATER (the asker's, sent by settle_tick). */
#define SETTLE_MS 2000
json_t *settle_reply(struct daemon *d, const struct sandbox *sb,
		     json_t *reply);
void settle_tick(struct daemon *d, uint64_t now);

#endif
