/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_BROKER_PROC_H
#define SBXFWD_BROKER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "priv.h"

/* main()'s argv: the supervisor writes its own name there. */
extern char **daemon_argv;

/* Made as root, before the drop: the broker's listener (its port in
 * *port) and socketpair (the daemon's end in *ipc), and the supervisor
 * that runs the broker program (cfg: [tls] broker, or the one beside
 * sbxfwd). Without a program to run: 0, *ipc -1 (nothing brokered).
 * -1 with err set on failure. */
int broker_proc_start(const char *cfg, const struct priv *pv, bool verbose,
		      uint16_t *port, int *ipc, char *err, size_t errlen);

#endif
