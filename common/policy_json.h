/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_POLICY_JSON_H
#define SBXFW_POLICY_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* Parse sbxfw's policy JSON (SPEC §7). A missing "mode" means
 * user-defined. On error returns NULL and writes one line naming the bad
 * element to err; never a header value. Pure. */
struct policy *policy_from_json(const char *buf, size_t len, char *err,
				size_t errlen);
/* The same of JSON already parsed. */
struct policy *policy_from_json_value(json_t *root, char *err, size_t errlen);
/* Vercel Sandbox's networkPolicy (SDK or REST form) as sbxfw's form; any
 * other input is returned as it is (a new reference). NULL with err set
 * when it is a networkPolicy that makes no sense. Pure. */
json_t *policy_json_normalize(json_t *in, char *err, size_t errlen);
/* The policy as JSON; header values are "<redacted>" when redact. */
json_t *policy_to_json(const struct policy *p, bool redact);
/* Its "inject" array alone. */
json_t *policy_inject_json(const struct policy *p, bool redact);

#endif
