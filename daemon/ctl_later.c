/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replies that come later (CTL_LATER): the marker a command returns for
 * them, and the sender the control socket gives at its start, through
 * which a lower layer (settle.c) answers without calling up into it. */
#include "ctl_later.h"

const int ctl_later;

static void (*sender)(uint64_t id, json_t *msg, struct daemon *d);

void ctl_later_init(void (*send)(uint64_t id, json_t *msg,
				 struct daemon *d))
{
	sender = send;
}

void ctl_later_reply(uint64_t id, json_t *msg, struct daemon *d)
{
	if (!sender) {
		json_decref(msg);
		return;
	}
	sender(id, msg, d);
}
