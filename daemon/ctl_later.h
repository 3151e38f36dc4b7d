/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CTL_LATER_H
#define SBXFWD_CTL_LATER_H

#include <jansson.h>
#include <stdint.h>

struct daemon;

/* What a control command returns when its reply comes later: the reply
 * goes to the client that asked (d->asker then) by ctl_later_reply. */
#define CTL_LATER ((json_t *)&ctl_later)
extern const int ctl_later;

/* Who sends a reply that came later to its client: given by the control
 * socket when it opens (control_open), so that the layers below it
 * (settle.c) never call up into it. */
void ctl_later_init(void (*send)(uint64_t id, json_t *msg,
				 struct daemon *d));
/* The reply to the client id (dropped if it left, or without a sender).
 * Takes msg. */
void ctl_later_reply(uint64_t id, json_t *msg, struct daemon *d);

#endif
