/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_SANDBOX_NAME_H
#define SBXFWD_SANDBOX_NAME_H

#include <jansson.h>

struct sandbox;

/* The sandbox name a control request gives; NULL with err set (one line,
 * at most 512 bytes) when it gives none. */
const char *sandbox_name_of(json_t *req, char *err);
/* The sandbox a request names; NULL with err set ("no sandbox `x'"). */
struct sandbox *sandbox_named(json_t *req, char *err);

#endif
