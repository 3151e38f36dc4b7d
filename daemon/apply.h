/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_APPLY_H
#define SBXFWD_APPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "daemon.h"

/* A directory of policy files (policy_files.h) applied in one step: every
 * file checked, then all of them written to SQLite and the kernel in one
 * transaction each, or none. A file unchanged since it was applied costs
 * a stat(). dry_run: the diff only; prune: sandboxes made from files no
 * longer there are destroyed. The reply lists each sandbox's changes;
 * NULL with err (one line) when nothing changed. */
json_t *apply_dir(struct daemon *d, const char *dir, bool dry_run,
		  bool prune, uid_t uid, char *err);
/* The control command `apply' {"dir", "dry_run", "prune"}. */
json_t *cmd_apply(struct daemon *d, json_t *req, uid_t uid, char *err);
/* [policies] dir at start and on SIGHUP (when it exists): logged. */
void apply_configured(struct daemon *d);

#endif
