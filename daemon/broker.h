/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_BROKER_H
#define SBXFWD_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_msg.h"
#include "priv.h"

/* The daemon's side of credentials brokering (SPEC §6): the broker's
 * listener and socketpair, made as root before the drop, and a small
 * supervisor process (the user's, no capability) that starts
 * sbxfw-broker and starts it again when it ends. The daemon answers the
 * broker's questions (which sandbox, which policy, which destination),
 * writes its audit rows, and sends it each sandbox's injection rules
 * and CA. */
/* the broker's descriptors (broker/broker.h has the same) */
#define BROKER_IPC 3
#define BROKER_LISTEN 4

struct daemon;
struct sandbox;

/* main()'s argv: the supervisor writes its own name there. */
extern char **daemon_argv;

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
/* A DNS answer a sandbox got: addresses of injection domains go to the
 * kernel's inject sets. */
void broker_learn(const struct sandbox *sb, const char *name,
		  const struct dns_learned_addr *a, size_t n, uint64_t now);

/* The daemon's own answer for a name: its addresses go to the inject
 * sets of every sandbox with an injection rule for it. */
void broker_learn_own(const char *name, const struct dns_learned_addr *a,
		      size_t n, uint64_t for_ns, uint64_t now);
/* From the daemon's timer: the daemon resolves the exact injection
 * domains again as their answers expire. */
void broker_tick(uint64_t now);

#endif
