/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_BROKER_H
#define SBXFWD_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "priv.h"

/* The daemon's side of credentials brokering (SPEC §6): the broker's
 * listener and socketpair, made as root before the drop, and a small
 * supervisor process (the user's, no capability) that starts
 * sbxfw-broker and starts it again when it ends. The daemon answers the
 * broker's questions (which sandbox, which policy, which destination),
 * writes its audit rows, and sends it each sandbox's injection rules
 * and CA. */
struct daemon;
struct sandbox;

/* Returns the listener's port, or -1 with err set. */
int broker_start(struct daemon *d, const struct priv *pv, bool verbose,
		 uint16_t *port, char *err, size_t errlen);
int broker_fd(void);
void broker_event(struct daemon *d);
/* A sandbox was made or its policy changed (its rules and CA to the
 * broker; the addresses it holds for its injection domains into the
 * kernel again), or it is gone. */
void broker_sandbox_changed(struct daemon *d, const struct sandbox *sb);
void broker_sandbox_gone(struct daemon *d, uint32_t id);
#endif
