/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A sandbox's whole policy in the store: its mode and rules, replaced in
 * one transaction or loaded; its injection rules through store_inject.c. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

/* One list's rules of one kind, in chunks. */
static int kind_save(struct store *st, int64_t sb, enum rule_list l,
		     const struct policy *p, bool cidrs, struct store_chunk *c,
		     char *err, size_t errlen)
{
	size_t n = cidrs ? p->ncidrs[l] : p->ndomains[l];
	char buf[CIDR_TEXT_MAX];
	int64_t index = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (cidrs)
			cidr_format(&p->cidrs[l][i], buf);
		rc = chunk_add(c, cidrs ? buf : p->domains[l][i].text, err,
			       errlen);
		if (rc == 0 && (c->n == STORE_CHUNK_RULES || i + 1 == n)) {
			rc = chunk_write(st, sb, l, cidrs ? "cidr" : "domain",
					 index++, c, err, errlen);
			chunk_reset(c);
		}
	}
	return rc;
}

static int rules_save(struct store *st, int64_t sb, const struct policy *p,
		      char *err, size_t errlen)
{
	struct store_chunk c = { 0 };
	int rc = 0;

	for (int l = 0; l < 2 && rc == 0; l++)
		for (int k = 0; k < 2 && rc == 0; k++)
			rc = kind_save(st, sb, l, p, k, &c, err, errlen);
	chunk_free(&c);
	return rc;
}

int store_policy_save(struct store *st, int64_t sandbox,
		      const struct policy *p, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc = -EIO;

	if (p->ninject && !st->secrets) {
		snprintf(err, errlen, "injection rules need the secrets "
				      "database (root)");
		return -EPERM;
	}
	/* a savepoint: a transaction of its own, or part of the caller's */
	if (store_savepoint(st, "policy_save", err, errlen) < 0)
		return -EIO;
	s = store_prep(st, "UPDATE sandboxes SET mode = ?, updated = "
		     STORE_NOW " WHERE id = ?", err, errlen);
	if (!s)
		goto out;
	sqlite3_bind_text(s, 1, policy_mode_name(p->mode), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, sandbox);
	if (sqlite3_step(s) != SQLITE_DONE || sqlite3_changes(st->db) != 1) {
		snprintf(err, errlen, "store: no sandbox %lld",
			 (long long)sandbox);
		sqlite3_finalize(s);
		goto out;
	}
	sqlite3_finalize(s);
	s = store_prep(st, "DELETE FROM policy_chunks WHERE sandbox_id = ?", err,
		 errlen);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, sandbox);
	sqlite3_step(s);
	sqlite3_finalize(s);
	if (rules_save(st, sandbox, p, err, errlen) < 0 ||
	    store_inject_save(st, sandbox, p, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	return store_end(st, "policy_save", rc, err, errlen);
}

struct policy *store_policy_load(struct store *st, int64_t sandbox, char *err,
				 size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "SELECT mode FROM sandboxes WHERE id = ?",
			       err, errlen);
	struct policy *p = NULL;
	enum policy_mode mode;
	int ok = 1, step;

	if (!s)
		return NULL;
	sqlite3_bind_int64(s, 1, sandbox);
	if ((step = sqlite3_step(s)) != SQLITE_ROW ||
	    policy_mode_parse((const char *)sqlite3_column_text(s, 0), &mode)) {
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			store_error(st, err, errlen);
		else
			snprintf(err, errlen, "store: no sandbox %lld",
				 (long long)sandbox);
		sqlite3_finalize(s);
		return NULL;
	}
	sqlite3_finalize(s);
	p = policy_new(mode);
	s = store_prep(st, "SELECT c.list, j.value FROM policy_chunks AS c, "
		       "json_each(c.rules) AS j WHERE c.sandbox_id = ? ORDER BY "
		       "c.list, c.kind DESC, c.chunk, j.key", err, errlen);
	if (!s) {
		policy_free(p);
		return NULL;
	}
	sqlite3_bind_int64(s, 1, sandbox);
	while (ok && (step = sqlite3_step(s)) == SQLITE_ROW) {
		enum rule_list l = strcmp((const char *)sqlite3_column_text(s, 0),
					  "allow") ? LIST_DENY : LIST_ALLOW;
		ok = policy_add_rule(p, l, (const char *)sqlite3_column_text(s, 1),
				     err, errlen) == 0;
	}
	if (ok)
		ok = store_rows_end(st, step, err, errlen) == 0;
	sqlite3_finalize(s);
	if (!ok || store_inject_load(st, sandbox, p, err, errlen) < 0) {
		policy_free(p);
		return NULL;
	}
	return p;
}
