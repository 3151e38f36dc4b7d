/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>

#include "policy_diff.h"
#include "policy_json.h"

static void add(json_t *out, char op, const char *what, const char *v)
{
	char line[DOMAIN_PATTERN_MAX + 64];

	snprintf(line, sizeof(line), "%c %s %s", op, what, v);
	json_array_append_new(out, json_string(line));
}

/* An array's strings as the keys of an object: a set. */
static json_t *set_of(json_t *a)
{
	json_t *s = json_object(), *v;
	size_t i;

	json_array_foreach(a, i, v)
		json_object_set(s, json_string_value(v), json_true());
	return s;
}

static void lists(json_t *out, json_t *was, json_t *is, const char *what)
{
	json_t *ws = set_of(was), *is_ = set_of(is), *v;
	size_t i;

	json_array_foreach(was, i, v)
		if (!json_object_get(is_, json_string_value(v)))
			add(out, '-', what, json_string_value(v));
	json_array_foreach(is, i, v)
		if (!json_object_get(ws, json_string_value(v)))
			add(out, '+', what, json_string_value(v));
	json_decref(ws);
	json_decref(is_);
}

static json_t *at(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	return b ? json_object_get(v, b) : v;
}

static bool has_rule(json_t *rules, json_t *r, bool same_domain)
{
	json_t *x;
	size_t i;

	json_array_foreach(rules, i, x)
		if (same_domain ? json_equal(json_object_get(x, "domain"),
					     json_object_get(r, "domain")) :
				  json_equal(x, r))
			return true;
	return false;
}

/* By domain: a rule that differs in anything (a secret too) is "~". */
static void injects(json_t *out, json_t *was, json_t *is)
{
	json_t *r;
	size_t i;

	json_array_foreach(was, i, r)
		if (!has_rule(is, r, true))
			add(out, '-', "inject", json_string_value(
				json_object_get(r, "domain")));
	json_array_foreach(is, i, r)
		if (!has_rule(was, r, false))
			add(out, has_rule(was, r, true) ? '~' : '+', "inject",
			    json_string_value(json_object_get(r, "domain")));
}

static json_t *match_json(const struct sandbox_match *m, bool ifaces)
{
	json_t *a = json_array();
	char text[CIDR_TEXT_MAX];

	for (size_t i = 0; m && ifaces && i < m->nifaces; i++)
		json_array_append_new(a, json_string(m->ifaces[i]));
	for (size_t i = 0; m && !ifaces && i < m->nsources; i++) {
		cidr_format(&m->sources[i], text);
		json_array_append_new(a, json_string(text));
	}
	return a;
}

static void matches(json_t *out, const struct sandbox_match *wm,
		    const struct sandbox_match *im)
{
	for (int k = 0; k < 2; k++) {
		json_t *w = match_json(wm, !k), *i = match_json(im, !k);

		lists(out, w, i, k ? "source" : "iface");
		json_decref(w);
		json_decref(i);
	}
}

json_t *policy_diff(const struct sandbox_match *wm, const struct policy *was,
		    const struct sandbox_match *im, const struct policy *is)
{
	json_t *out = json_array();
	json_t *w = was ? policy_to_json(was, false) : json_object();
	json_t *i = policy_to_json(is, false);
	const char *wmode = json_string_value(json_object_get(w, "mode"));
	const char *imode = json_string_value(json_object_get(i, "mode"));
	char line[64];

	if (!wmode)
		snprintf(line, sizeof(line), "+ mode %s", imode);
	else
		snprintf(line, sizeof(line), "~ mode %s -> %s", wmode, imode);
	if (!wmode || strcmp(wmode, imode))
		json_array_append_new(out, json_string(line));
	matches(out, wm, im);
	lists(out, at(w, "allow", NULL), at(i, "allow", NULL), "allow");
	lists(out, at(w, "deny", NULL), at(i, "deny", NULL), "deny");
	lists(out, at(w, "subnets", "allow"), at(i, "subnets", "allow"),
	      "allow");
	lists(out, at(w, "subnets", "deny"), at(i, "subnets", "deny"),
	      "deny");
	injects(out, at(w, "inject", NULL), at(i, "inject", NULL));
	json_decref(w);
	json_decref(i);
	return out;
}
