/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Vercel Sandbox's networkPolicy, in its SDK and REST forms, turned into
 * sbxfw's policy JSON (SPEC §7), so that existing policies carry over:
 *   SDK:  "allow-all" | "deny-all" |
 *         {"allow": [domain...] | {domain: [{"transform": [{"headers":
 *          {...}}]}]}, "subnets": {"allow": [...], "deny": [...]}}
 *   REST: {"mode": "allow-all"|"deny-all"|"custom", "allowedDomains",
 *          "allowedCIDRs", "deniedCIDRs",
 *          "injectionRules": [{"domain", "headers"}]}
 * sbxfw's own form (and the SDK's array form, which is the same) passes
 * as it is. Pure. */
#include <stdio.h>
#include <string.h>

#include "policy_json.h"

static json_t *fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return NULL;
}

/* {domain: [rules]}: domains allowed, transform headers injected. */
static json_t *sdk_allow_map(json_t *map, json_t *out, char *err,
			     size_t errlen)
{
	json_t *allow = json_array(), *inject = json_array(), *rules, *rule;
	const char *domain;
	size_t i, j;

	json_object_set_new(out, "allow", allow);
	json_object_set_new(out, "inject", inject);	/* owned by out */
	json_object_foreach(map, domain, rules) {
		json_array_append_new(allow, json_string(domain));
		if (!json_is_array(rules))
			return fail(err, errlen, "allow: each domain takes an "
				    "array of rules");
		json_array_foreach(rules, i, rule) {
			json_t *tr = json_object_get(rule, "transform"), *t;

			if (!json_is_object(rule) || json_object_size(rule) !=
			    (tr ? 1u : 0u) || (tr && !json_is_array(tr)))
				return fail(err, errlen, "allow: a rule is "
					    "{\"transform\": [{\"headers\": "
					    "{...}}]}");
			json_array_foreach(tr, j, t) {
				json_t *h = json_object_get(t, "headers");

				if (!json_is_object(t) || !h ||
				    json_object_size(t) != 1)
					return fail(err, errlen, "allow: a "
						    "transform is {\"headers\":"
						    " {...}}");
				json_array_append_new(inject, json_pack(
					"{s:s, s:O}", "domain", domain,
					"headers", h));
			}
		}
	}
	if (!json_array_size(inject))
		json_object_del(out, "inject");
	return out;
}

static void copy(json_t *to, const char *key, json_t *from, const char *k)
{
	json_t *v = json_object_get(from, k);

	if (v)
		json_object_set(to, key, v);
}

static json_t *rest_form(json_t *in, char *err, size_t errlen)
{
	static const char *const keys[] = { "mode", "allowedDomains",
					    "allowedCIDRs", "deniedCIDRs",
					    "injectionRules", NULL };
	const char *mode = json_string_value(json_object_get(in, "mode"));
	json_t *out, *v;
	const char *key;

	json_object_foreach(in, key, v) {
		size_t i = 0;

		while (keys[i] && strcmp(keys[i], key))
			i++;
		if (!keys[i]) {
			snprintf(err, errlen, "unknown key `%s' in a "
				 "networkPolicy", key);
			return NULL;
		}
	}
	out = json_pack("{s:s, s:{}}", "mode",
			mode && !strcmp(mode, "custom") ? "user-defined" :
			mode ? mode : "user-defined", "subnets");
	copy(out, "allow", in, "allowedDomains");
	copy(out, "inject", in, "injectionRules");
	copy(json_object_get(out, "subnets"), "allow", in, "allowedCIDRs");
	copy(json_object_get(out, "subnets"), "deny", in, "deniedCIDRs");
	return out;
}

json_t *policy_json_normalize(json_t *in, char *err, size_t errlen)
{
	json_t *out, *allow;

	if (json_is_string(in)) {
		const char *m = json_string_value(in);

		if (strcmp(m, "allow-all") && strcmp(m, "deny-all"))
			return fail(err, errlen, "a networkPolicy string is "
				    "\"allow-all\" or \"deny-all\"");
		return json_pack("{s:s}", "mode", m);
	}
	if (!json_is_object(in))
		return json_incref(in);	/* refused by the parser */
	if (json_object_get(in, "allowedDomains") ||
	    json_object_get(in, "allowedCIDRs") ||
	    json_object_get(in, "deniedCIDRs") ||
	    json_object_get(in, "injectionRules") ||
	    !strcmp(json_string_value(json_object_get(in, "mode")) ?
		    json_string_value(json_object_get(in, "mode")) : "",
		    "custom"))
		return rest_form(in, err, errlen);
	allow = json_object_get(in, "allow");
	if (!json_is_object(allow))
		return json_incref(in);	/* sbxfw's form */
	out = json_deep_copy(in);
	json_object_del(out, "allow");
	if (!sdk_allow_map(allow, out, err, errlen)) {
		json_decref(out);
		return NULL;
	}
	return out;
}
