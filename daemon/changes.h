/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_CHANGES_H
#define SBXFWD_CHANGES_H

#include <jansson.h>
#include <sys/types.h>

#include "daemon.h"

/* Control commands that change a running sandbox's policy. NULL with
 * err set (one line naming the bad input) when nothing was changed. */
json_t *change_mode(struct daemon *d, json_t *req, uid_t uid, char *err);
json_t *change_allow(struct daemon *d, json_t *req, uid_t uid, char *err);
json_t *change_deny(struct daemon *d, json_t *req, uid_t uid, char *err);
json_t *change_remove(struct daemon *d, json_t *req, uid_t uid, char *err);
json_t *change_inject(struct daemon *d, json_t *req, uid_t uid, char *err);
json_t *change_policy(struct daemon *d, json_t *req, uid_t uid, char *err);
/* The policy as JSON, header values "<redacted>". */
json_t *policy_export(struct daemon *d, json_t *req, uid_t uid, char *err);

#endif
