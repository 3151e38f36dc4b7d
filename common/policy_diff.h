/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_POLICY_DIFF_H
#define SBXFW_POLICY_DIFF_H

#include <jansson.h>

#include "policy.h"
#include "store.h"

/* What changes from one state of a sandbox to another, one string a
 * change: "~ mode deny-all -> user-defined", "+ allow a.test",
 * "- deny 10.0.0.0/8", "+ iface veth1", "~ inject api.test" (never a
 * header value). was NULL: from nothing. Pure. */
json_t *policy_diff(const struct sandbox_match *wm, const struct policy *was,
		    const struct sandbox_match *im, const struct policy *is);

#endif
