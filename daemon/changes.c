/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live policy changes (SPEC §4): mode, allow, deny, remove. A change is
 * checked whole, written to SQLite and put in the kernel in one step
 * (either both or neither), applied to the running policy, and then the
 * sandbox's open flows are judged again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "changes.h"
#include "log.h"
#include "policy_json.h"
#include "revoke.h"
#include "settle.h"
#include "sandbox.h"
#include "sandbox_name.h"
#include "secret.h"
#include "xalloc.h"

#define ERRLEN 512
#define RULES_MAX 100000

enum change_kind { CH_MODE, CH_ADD, CH_REMOVE };

struct change {
	enum change_kind kind;
	enum rule_list list;		/* CH_ADD */
	enum policy_mode mode;		/* CH_MODE */
	char (*rules)[DOMAIN_PATTERN_MAX + 1];	/* normalised */
	bool *in[2];			/* CH_REMOVE: in which lists */
	size_t n;
};

static void change_free(struct change *c)
{
	free(c->rules);
	free(c->in[0]);
	free(c->in[1]);
}

/* A rule as the policy and the store hold it. */
static int normalise(const char *in, char out[DOMAIN_PATTERN_MAX + 1],
		     char *err)
{
	struct domain_pattern d;
	struct cidr c;

	if (policy_rule_is_cidr(in)) {
		if (cidr_parse(in, &c, err, ERRLEN) < 0)
			return -EINVAL;
		cidr_format(&c, out);
		return 0;
	}
	if (domain_pattern_parse(in, &d, err, ERRLEN) < 0)
		return -EINVAL;
	snprintf(out, DOMAIN_PATTERN_MAX + 1, "%s", d.text);
	domain_pattern_clear(&d);
	return 0;
}

/* A range compares as parsed, not as text formatted again for each of
 * the list's (10,000 of them cost 5 ms a change). */
static bool in_list(const struct policy *p, enum rule_list l, const char *r)
{
	struct cidr c;
	char e[CIDR_TEXT_MAX + 64];

	if (policy_rule_is_cidr(r)) {
		if (cidr_parse(r, &c, e, sizeof(e)) < 0)
			return false;
		for (size_t i = 0; i < p->ncidrs[l]; i++)
			if (!memcmp(&p->cidrs[l][i], &c, sizeof(c)))
				return true;
		return false;
	}
	for (size_t i = 0; i < p->ndomains[l]; i++)
		if (!strcmp(p->domains[l][i].text, r))
			return true;
	return false;
}

/* The rules of the request, normalised; each must be new to the list
 * (CH_ADD) or present in some list (CH_REMOVE). */
static int rules_from(json_t *req, const struct policy *p, struct change *c,
		      char *err)
{
	json_t *a = json_object_get(req, "rules"), *v;
	size_t i;

	if (!json_is_array(a) || !json_array_size(a) ||
	    json_array_size(a) > RULES_MAX) {
		snprintf(err, ERRLEN, "`rules' must be 1 to %d strings",
			 RULES_MAX);
		return -EINVAL;
	}
	c->rules = xcalloc(json_array_size(a), sizeof(*c->rules));
	c->in[0] = xcalloc(json_array_size(a), sizeof(bool));
	c->in[1] = xcalloc(json_array_size(a), sizeof(bool));
	json_array_foreach(a, i, v) {
		const char *r = json_string_value(v);

		if (!r) {
			snprintf(err, ERRLEN, "`rules' must be strings");
			return -EINVAL;
		}
		if (normalise(r, c->rules[i], err) < 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->rules[i], c->rules[j])) {
				snprintf(err, ERRLEN, "rule `%s' given twice",
					 r);
				return -EINVAL;
			}
		c->in[0][i] = in_list(p, LIST_ALLOW, c->rules[i]);
		c->in[1][i] = in_list(p, LIST_DENY, c->rules[i]);
		if (c->kind == CH_ADD && c->in[c->list][i]) {
			snprintf(err, ERRLEN, "`%s' is already %s", r,
				 c->list == LIST_ALLOW ? "allowed" : "denied");
			return -EEXIST;
		}
		if (c->kind == CH_REMOVE && !c->in[0][i] && !c->in[1][i]) {
			snprintf(err, ERRLEN, "rule `%s' is not in the policy",
				 r);
			return -ENOENT;
		}
	}
	c->n = json_array_size(a);
	return 0;
}

/* What the kernel holds of a policy, to take its elements out again. */
static struct policy *kernel_view(const struct policy *p)
{
	struct policy *v = xcalloc(1, sizeof(*v));

	v->mode = p->mode;
	v->ndomains[LIST_DENY] = p->ndomains[LIST_DENY];
	for (int l = 0; l < 2; l++) {
		v->ncidrs[l] = p->ncidrs[l];
		v->cidrs[l] = xcalloc(p->ncidrs[l] + 1, sizeof(struct cidr));
		if (p->ncidrs[l])
			memcpy(v->cidrs[l], p->cidrs[l],
			       p->ncidrs[l] * sizeof(struct cidr));
	}
	return v;
}

static void kernel_view_free(struct policy *v)
{
	free(v->cidrs[0]);
	free(v->cidrs[1]);
	free(v);
}

static int store_change(struct daemon *d, struct sandbox *sb,
			const struct change *c, char *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && c->kind == CH_ADD && i < c->n; i++)
		rc = store_rule_insert(&d->store, sb->id, c->list, c->rules[i],
				       err, ERRLEN);
	if (c->kind == CH_REMOVE) {
		const char **t = xcalloc(c->n + 1, sizeof(*t));

		for (size_t i = 0; i < c->n; i++)
			t[i] = c->rules[i];
		rc = store_rules_delete(&d->store, sb->id, t, c->n, err,
					ERRLEN);
		free(t);
	}
	if (c->kind == CH_MODE)
		rc = store_mode_set(&d->store, sb->id, c->mode, err, ERRLEN);
	return rc;
}

/* In memory; validated, so it cannot fail. undo: the inverse. */
static void memory_change(struct policy *p, const struct change *c,
			  enum policy_mode *mode, bool undo)
{
	char e[ERRLEN];

	if (c->kind == CH_MODE) {
		enum policy_mode m = p->mode;

		p->mode = *mode;
		*mode = m;
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		if ((c->kind == CH_ADD) != undo) {
			if (c->kind == CH_ADD)
				policy_add_rule(p, c->list, c->rules[i], e,
						ERRLEN);
			else
				for (int l = 0; l < 2; l++)
					if (c->in[l][i])
						policy_add_rule(p, l,
								c->rules[i], e,
								ERRLEN);
		} else {
			policy_remove_rule(p, c->rules[i], e, ERRLEN);
		}
	}
}

static void describe(const struct change *c, char *out, size_t len)
{
	static const char *const verbs[] = { "mode", "allow", "remove" };
	size_t o;

	o = (size_t)snprintf(out, len, "%s", c->kind == CH_ADD &&
			     c->list == LIST_DENY ? "deny" : verbs[c->kind]);
	if (c->kind == CH_MODE)
		snprintf(out + o, len - o, " %s", policy_mode_name(c->mode));
	for (size_t i = 0; i < c->n && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, " %s", c->rules[i]);
}

static json_t *apply(struct daemon *d, struct sandbox *sb, struct change *c,
		     uid_t uid, char *err)
{
	struct policy *before = kernel_view(sb->policy);
	enum policy_mode mode = c->mode;
	struct nft_sandbox old_ns = { 0 }, new_ns = { 0 };
	char what[1024];
	int rc, cut = 0;

	describe(c, what, sizeof(what));
	if ((rc = store_savepoint(&d->store, "change", err, ERRLEN)) < 0)
		goto out;
	rc = store_change(d, sb, c, err);
	if (rc == 0)
		rc = store_change_log(&d->store, sb->name, uid, what, err,
				      ERRLEN);
	if (rc == 0) {
		memory_change(sb->policy, c, &mode, false);
		sandbox_to_nft(sb, &old_ns);
		old_ns.policy = before;
		sandbox_to_nft(sb, &new_ns);
		rc = nft_sandbox_update(&old_ns, &new_ns, &d->marks, err,
					ERRLEN);
		if (rc < 0)
			memory_change(sb->policy, c, &mode, true);
	}
	if (store_end(&d->store, "change", rc, err, ERRLEN) < 0) {
		if (rc == 0) {	/* the commit failed: undo the rest too */
			memory_change(sb->policy, c, &mode, true);
			nft_sandbox_update(&new_ns, &old_ns, &d->marks,
					   err + strlen(err),
					   ERRLEN - strlen(err));
			rc = -EIO;
		}
		goto out;
	}
	log_info("sandbox %s: %s (uid %u)", sb->name, what, (unsigned)uid);
	sb->changes++;
	broker_sandbox_changed(d, sb);
	/* an allowed rule more denies nothing: no open flow to judge again
	 * (a walk of the whole conntrack table) */
	if (c->kind != CH_ADD || c->list != LIST_ALLOW)
		cut = revoke_sandbox(sb, &d->marks, err, ERRLEN);
	if (cut < 0) {
		log_warnx("sandbox %s: %s", sb->name, err);
		cut = 0;
	}
out:
	kernel_view_free(before);
	change_free(c);
	if (rc < 0)
		return NULL;
	return json_pack("{s:b, s:s, s:s, s:i}", "ok", 1, "name", sb->name,
			 "change", what, "cut", cut);
}

json_t *change_mode(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	struct sandbox *sb = sandbox_named(req, err);
	const char *m = json_string_value(json_object_get(req, "mode"));
	struct change c = { .kind = CH_MODE };

	if (!sb)
		return NULL;
	if (!m || policy_mode_parse(m, &c.mode) < 0) {
		snprintf(err, ERRLEN, "invalid mode `%s' (allow-all, deny-all "
			 "or user-defined)", m ? m : "");
		return NULL;
	}
	return apply(d, sb, &c, uid, err);
}

static json_t *change_rules(struct daemon *d, json_t *req, uid_t uid,
			    char *err, struct change c)
{
	struct sandbox *sb = sandbox_named(req, err);

	if (!sb)
		return NULL;
	if (rules_from(req, sb->policy, &c, err) < 0) {
		change_free(&c);
		return NULL;
	}
	return apply(d, sb, &c, uid, err);
}

json_t *change_allow(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	return change_rules(d, req, uid, err,
			    (struct change){ .kind = CH_ADD,
					     .list = LIST_ALLOW });
}

json_t *change_deny(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	return change_rules(d, req, uid, err,
			    (struct change){ .kind = CH_ADD,
					     .list = LIST_DENY });
}

json_t *change_remove(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	return change_rules(d, req, uid, err,
			    (struct change){ .kind = CH_REMOVE });
}

/* A header value exported as "<redacted>" and set again would replace
 * the secret with that word: refused. */
static int redacted_check(const struct policy *p, char *err)
{
	for (size_t i = 0; i < p->ninject; i++)
		for (size_t j = 0; j < p->inject[i].nset; j++)
			if (!strcmp(p->inject[i].set[j].value, "<redacted>")) {
				snprintf(err, ERRLEN, "inject %s: header `%s' "
					 "is <redacted>: exports hide secrets, "
					 "give the value", p->inject[i].domain
					 .text, p->inject[i].set[j].name);
				return -EINVAL;
			}
	return 0;
}

/* The whole policy replaced, atomically (p is taken). */
static json_t *replace(struct daemon *d, struct sandbox *sb,
		       struct policy *p, uid_t uid, const char *what,
		       char *err)
{
	struct nft_sandbox old_ns, new_ns;
	struct policy *old;
	int rc, cut;

	old = sb->policy;
	sandbox_to_nft(sb, &old_ns);
	sb->policy = p;
	sandbox_to_nft(sb, &new_ns);
	if ((rc = store_savepoint(&d->store, "replace", err, ERRLEN)) == 0) {
		rc = store_policy_save(&d->store, sb->id, p, err, ERRLEN);
		if (rc == 0)
			rc = store_change_log(&d->store, sb->name, uid, what,
					      err, ERRLEN);
		if (rc == 0)
			rc = nft_sandbox_update(&old_ns, &new_ns, &d->marks,
						err, ERRLEN);
		if (store_end(&d->store, "replace", rc, err, ERRLEN) < 0 &&
		    rc == 0) {
			nft_sandbox_update(&new_ns, &old_ns, &d->marks,
					   err + strlen(err),
					   ERRLEN - strlen(err));
			rc = -EIO;
		}
	}
	if (rc < 0) {
		sb->policy = old;
		policy_free(p);
		return NULL;
	}
	policy_free(old);
	sb->changes++;
	log_info("sandbox %s: %s (uid %u)", sb->name, what, (unsigned)uid);
	broker_sandbox_changed(d, sb);
	cut = revoke_sandbox(sb, &d->marks, err, ERRLEN);
	return settle_reply(d, sb, json_pack("{s:b, s:s, s:s, s:i}", "ok", 1,
					     "name", sb->name, "change", what,
					     "cut", cut < 0 ? 0 : cut));
}

static struct policy *policy_of_json(json_t *doc, char *err)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	struct policy *p;

	if (!text) {
		snprintf(err, ERRLEN, "policy: not JSON");
		return NULL;
	}
	p = policy_from_json(text, strlen(text), err, ERRLEN);
	wipe_free(text, strlen(text));
	if (p && redacted_check(p, err) < 0) {
		policy_free(p);
		return NULL;
	}
	return p;
}

/* policy NAME --set: the whole policy replaced, atomically. */
json_t *change_policy(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	struct sandbox *sb = sandbox_named(req, err);
	json_t *doc = json_object_get(req, "set");
	struct policy *p;

	if (!sb)
		return NULL;
	if (!doc) {
		snprintf(err, ERRLEN, "missing policy");
		return NULL;
	}
	/* keep_inject (sbxfw suggest): a policy without injection rules
	 * keeps the sandbox's, secrets included (exports never hold them) */
	if (json_is_true(json_object_get(req, "keep_inject")) &&
	    json_is_object(doc) && !json_object_get(doc, "inject")) {
		json_t *cur = policy_to_json(sb->policy, false);

		doc = json_deep_copy(doc);
		json_object_set(doc, "inject", json_object_get(cur, "inject") ?:
				json_array());
		json_decref(cur);
	} else {
		json_incref(doc);
	}
	p = policy_of_json(doc, err);
	json_decref(doc);
	if (!p)
		return NULL;
	return replace(d, sb, p, uid, "policy --set", err);
}

/* Whether an injection rule (JSON, as policies hold them) is for domain
 * with the same match. */
static bool same_rule(json_t *a, const char *domain, json_t *match)
{
	json_t *m = json_object_get(a, "match");

	return !strcmp(json_string_value(json_object_get(a, "domain")) ?: "",
		       domain) &&
	       ((!m && !match) || (m && match && json_equal(m, match)));
}

/* inject NAME DOMAIN --header ... | --remove: one rule added (replacing
 * the one for the same domain and match) or removed; the rest of the
 * policy as it is, secrets included. */
json_t *change_inject(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	struct sandbox *sb = sandbox_named(req, err);
	const char *domain = json_string_value(json_object_get(req, "domain"));
	json_t *headers = json_object_get(req, "headers");
	json_t *match = json_object_get(req, "match");
	bool remove = json_is_true(json_object_get(req, "remove"));
	json_t *doc, *list, *kept, *rule;
	struct domain_pattern dp;
	struct policy *p;
	size_t i, found = 0;
	char what[DOMAIN_PATTERN_MAX + 32];

	if (!sb)
		return NULL;
	if (!domain || domain_pattern_parse(domain, &dp, err, ERRLEN) < 0) {
		if (!domain)
			snprintf(err, ERRLEN, "missing domain");
		return NULL;
	}
	snprintf(what, sizeof(what), "inject %s%s", dp.text,
		 remove ? " --remove" : "");
	doc = policy_to_json(sb->policy, false);
	list = json_object_get(doc, "inject");
	kept = json_array();
	json_array_foreach(list, i, rule) {
		if (same_rule(rule, dp.text, match))
			found++;
		else
			json_array_append(kept, rule);
	}
	if (remove && !found) {
		snprintf(err, ERRLEN, "sandbox %s has no injection rule for "
			 "`%s'%s", sb->name, dp.text, match ?
			 " with that match" : "");
		goto fail;
	}
	if (!remove) {
		rule = json_pack("{s:s, s:O}", "domain", dp.text, "headers",
				 headers ? headers : json_null());
		if (match)
			json_object_set(rule, "match", match);
		json_array_append_new(kept, rule);
	}
	json_object_set_new(doc, "inject", kept);
	domain_pattern_clear(&dp);
	p = policy_of_json(doc, err);
	json_decref(doc);
	return p ? replace(d, sb, p, uid, what, err) : NULL;
fail:
	domain_pattern_clear(&dp);
	json_decref(kept);
	json_decref(doc);
	return NULL;
}

json_t *policy_export(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	struct sandbox *sb = sandbox_named(req, err);

	(void)d, (void)uid;
	if (!sb)
		return NULL;
	return json_pack("{s:b, s:o}", "ok", 1, "policy",
			 policy_to_json(sb->policy, true));
}
