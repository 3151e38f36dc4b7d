/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy_json.h"
#include "secret.h"
#include "xalloc.h"

#define REDACTED "<redacted>"

struct jctx {
	struct policy *p;
	char *err;
	size_t errlen;
};

static int jfail(struct jctx *c, const char *fmt, const char *path,
		 const char *detail)
{
	snprintf(c->err, c->errlen, fmt, path, detail);
	return -EINVAL;
}

/* Refuse keys that are not in `allowed` (NULL-terminated). */
static int keys_check(struct jctx *c, json_t *obj, const char *path,
		      const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(obj, key, v) {
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i])
			return jfail(c, "%sunknown key `%s'", path, key);
	}
	return 0;
}

static int rules_add(struct jctx *c, json_t *arr, const char *name,
		     enum rule_list l, bool cidrs)
{
	char msg[512];
	size_t i;
	json_t *v;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return jfail(c, "%s: not an array%s", name, "");
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		int rc;

		if (!s) {
			snprintf(c->err, c->errlen, "%s[%zu]: not a string",
				 name, i);
			return -EINVAL;
		}
		if (!cidrs && policy_rule_is_cidr(s)) {
			snprintf(c->err, c->errlen, "%s[%zu]: `%s' is an "
				 "address range; list it in subnets.%s", name,
				 i, s, l == LIST_ALLOW ? "allow" : "deny");
			return -EINVAL;
		}
		rc = cidrs ? policy_add_cidr(c->p, l, s, msg, sizeof(msg))
			   : policy_add_domain(c->p, l, s, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(c->err, c->errlen, "%s[%zu]: %s", name, i,
				 msg);
			return -EINVAL;
		}
	}
	return 0;
}

/* secret: the values are (headers to set), not (headers to match) */
static int headers_take(struct jctx *c, json_t *obj, const char *path,
			bool secret, struct header_kv **out, size_t *n)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return jfail(c, "%s: not an object%s", path, "");
	*out = xcalloc(json_object_size(obj), sizeof(**out));
	json_object_foreach(obj, key, v) {
		if (!json_is_string(v)) {
			snprintf(c->err, c->errlen,
				 "%s.%s: value is not a string", path, key);
			return -EINVAL;
		}
		(*out)[*n].name = xstrdup(key);
		(*out)[(*n)++].value = secret ?
			secret_strdup(json_string_value(v)) :
			xstrdup(json_string_value(v));
	}
	return 0;
}

static int match_take(struct jctx *c, json_t *m, const char *path,
		      struct inject_rule *r)
{
	static const char *const keys[] = { "method", "path", "path_prefix",
					    "path_regex", "headers", NULL };
	static const char *const pkeys[] = { "path", "path_prefix",
					     "path_regex" };
	char sub[96];
	json_t *v;
	int i;

	if (!json_is_object(m))
		return jfail(c, "%s.match: not an object%s", path, "");
	snprintf(sub, sizeof(sub), "%s.match: ", path);
	if (keys_check(c, m, sub, keys) < 0)
		return -EINVAL;
	if ((v = json_object_get(m, "method"))) {
		if (!json_is_string(v))
			return jfail(c, "%s.match.method: not a string%s",
				     path, "");
		r->method = xstrdup(json_string_value(v));
	}
	for (i = 0; i < 3; i++) {
		if (!(v = json_object_get(m, pkeys[i])))
			continue;
		if (r->path_kind != PATH_ANY)
			return jfail(c, "%s.match: more than one path match%s",
				     path, "");
		if (!json_is_string(v))
			return jfail(c, "%s.match.%s: not a string", path,
				     pkeys[i]);
		r->path_kind = (enum path_match)(PATH_EXACT + i);
		r->path = xstrdup(json_string_value(v));
	}
	snprintf(sub, sizeof(sub), "%s.match.headers", path);
	if ((v = json_object_get(m, "headers")))
		return headers_take(c, v, sub, false, &r->match, &r->nmatch);
	return 0;
}

static int inject_one(struct jctx *c, json_t *o, size_t idx)
{
	static const char *const keys[] = { "domain", "headers", "match",
					    NULL };
	struct inject_rule r = { .path_kind = PATH_ANY };
	char path[64], msg[512], sub[80];
	const char *dom;
	json_t *v;
	int rc = -EINVAL;

	snprintf(path, sizeof(path), "inject[%zu]", idx);
	snprintf(sub, sizeof(sub), "%s: ", path);
	if (!json_is_object(o)) {
		jfail(c, "%s: not an object%s", path, "");
		goto out;
	}
	if (keys_check(c, o, sub, keys) < 0)
		goto out;
	if (!(dom = json_string_value(json_object_get(o, "domain")))) {
		jfail(c, "%s.domain: missing or not a string%s", path, "");
		goto out;
	}
	if (domain_pattern_parse(dom, &r.domain, msg, sizeof(msg)) < 0) {
		jfail(c, "%s.domain: %s", path, msg);
		goto out;
	}
	snprintf(sub, sizeof(sub), "%s.headers", path);
	if (headers_take(c, json_object_get(o, "headers"), sub, true, &r.set,
			 &r.nset) < 0)
		goto out;
	if ((v = json_object_get(o, "match")) && match_take(c, v, path, &r) < 0)
		goto out;
	if (policy_add_inject(c->p, &r, msg, sizeof(msg)) < 0) {
		jfail(c, "%s: %s", path, msg);
		goto out;
	}
	rc = 0;
out:
	inject_rule_clear(&r);
	return rc;
}

static int parse_root(struct jctx *c, json_t *root)
{
	/* "comment": anything, for people (sbxfw suggest writes one) */
	static const char *const keys[] = { "mode", "allow", "deny",
					    "subnets", "inject", "comment",
					    NULL };
	static const char *const skeys[] = { "allow", "deny", NULL };
	json_t *v, *sub;
	size_t i;

	if (!json_is_object(root))
		return jfail(c, "%spolicy is not a JSON object%s", "", "");
	if (keys_check(c, root, "", keys) < 0)
		return -EINVAL;
	if ((v = json_object_get(root, "mode"))) {
		const char *m = json_string_value(v);
		if (!m || policy_mode_parse(m, &c->p->mode) < 0)
			return jfail(c, "mode: `%s' is not allow-all, deny-all "
					"or user-defined%s",
				     m ? m : "(not a string)", "");
	}
	if (rules_add(c, json_object_get(root, "allow"), "allow", LIST_ALLOW,
		      false) < 0 ||
	    rules_add(c, json_object_get(root, "deny"), "deny", LIST_DENY,
		      false) < 0)
		return -EINVAL;
	if ((sub = json_object_get(root, "subnets"))) {
		if (!json_is_object(sub))
			return jfail(c, "subnets: not an object%s%s", "", "");
		if (keys_check(c, sub, "subnets: ", skeys) < 0 ||
		    rules_add(c, json_object_get(sub, "allow"),
			      "subnets.allow", LIST_ALLOW, true) < 0 ||
		    rules_add(c, json_object_get(sub, "deny"), "subnets.deny",
			      LIST_DENY, true) < 0)
			return -EINVAL;
	}
	if ((v = json_object_get(root, "inject"))) {
		if (!json_is_array(v))
			return jfail(c, "inject: not an array%s%s", "", "");
		json_array_foreach(v, i, sub)
			if (inject_one(c, sub, i) < 0)
				return -EINVAL;
	}
	return 0;
}

struct policy *policy_from_json(const char *buf, size_t len, char *err,
				size_t errlen)
{
	json_error_t je;
	json_t *root;
	struct policy *p;

	/* any value: a networkPolicy may be a bare string */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &je);
	if (!root) {
		snprintf(err, errlen, "line %d column %d: %s", je.line,
			 je.column, je.text);
		return NULL;
	}
	p = policy_from_json_value(root, err, errlen);
	json_decref(root);
	return p;
}

struct policy *policy_from_json_value(json_t *root, char *err, size_t errlen)
{
	struct jctx c = { .err = err, .errlen = errlen };
	json_t *norm;

	c.p = policy_new(MODE_USER_DEFINED);
	norm = policy_json_normalize(root, err, errlen);
	if (!norm || parse_root(&c, norm) < 0) {
		policy_free(c.p);
		c.p = NULL;
	}
	json_decref(norm);
	return c.p;
}

static json_t *domains_json(const struct policy *p, enum rule_list l)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < p->ndomains[l]; i++)
		json_array_append_new(a, json_string(p->domains[l][i].text));
	return a;
}

static json_t *cidrs_json(const struct policy *p, enum rule_list l)
{
	json_t *a = json_array();
	char buf[CIDR_TEXT_MAX];
	size_t i;

	for (i = 0; i < p->ncidrs[l]; i++) {
		cidr_format(&p->cidrs[l][i], buf);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static json_t *headers_json(const struct header_kv *h, size_t n, bool redact)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, h[i].name,
				    json_string(redact ? REDACTED : h[i].value));
	return o;
}

static json_t *inject_json(const struct inject_rule *r, bool redact)
{
	static const char *const pkeys[] = { NULL, "path", "path_prefix",
					     "path_regex" };
	json_t *o = json_object(), *m = json_object();

	json_object_set_new(o, "domain", json_string(r->domain.text));
	json_object_set_new(o, "headers", headers_json(r->set, r->nset, redact));
	if (r->method)
		json_object_set_new(m, "method", json_string(r->method));
	if (r->path_kind != PATH_ANY)
		json_object_set_new(m, pkeys[r->path_kind],
				    json_string(r->path));
	if (r->nmatch)
		json_object_set_new(m, "headers",
				    headers_json(r->match, r->nmatch, false));
	if (json_object_size(m))
		json_object_set_new(o, "match", m);
	else
		json_decref(m);
	return o;
}

json_t *policy_inject_json(const struct policy *p, bool redact)
{
	json_t *inj = json_array();

	for (size_t i = 0; i < p->ninject; i++)
		json_array_append_new(inj, inject_json(&p->inject[i], redact));
	return inj;
}

json_t *policy_to_json(const struct policy *p, bool redact)
{
	json_t *o = json_object(), *sub = json_object();

	json_object_set_new(o, "mode", json_string(policy_mode_name(p->mode)));
	json_object_set_new(o, "allow", domains_json(p, LIST_ALLOW));
	json_object_set_new(o, "deny", domains_json(p, LIST_DENY));
	json_object_set_new(sub, "allow", cidrs_json(p, LIST_ALLOW));
	json_object_set_new(sub, "deny", cidrs_json(p, LIST_DENY));
	json_object_set_new(o, "subnets", sub);
	json_object_set_new(o, "inject", policy_inject_json(p, redact));
	return o;
}
