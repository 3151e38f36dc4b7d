/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy changes one rule at a time (a sandbox of 100,000 rules is not
 * rewritten for one: a rule goes into its list's last chunk, or out of
 * the chunk that holds it). The caller holds a savepoint around them. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xalloc.h"

int store_mode_set(struct store *st, int64_t sb, enum policy_mode mode,
		   char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "UPDATE sandboxes SET mode = ?, "
				     "updated = " STORE_NOW " WHERE id = ?",
				     err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, policy_mode_name(mode), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, sb);
	return store_run(st, s, err, errlen);
}

#define SAME_LIST "sandbox_id = ?1 AND list = ?2 AND kind = ?3"

static sqlite3_stmt *rule_stmt(struct store *st, const char *sql, int64_t sb,
			       enum rule_list l, const char *text, char *err,
			       size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, sql, err, errlen);

	if (!s)
		return NULL;
	sqlite3_bind_int64(s, 1, sb);
	sqlite3_bind_text(s, 2, l == LIST_ALLOW ? "allow" : "deny", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 3, policy_rule_is_cidr(text) ? "cidr" : "domain",
			  -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
	return s;
}

/* Into the list's last chunk while it has room, else into a new one. */
int store_rule_insert(struct store *st, int64_t sb, enum rule_list l,
		      const char *text, char *err, size_t errlen)
{
	sqlite3_stmt *s = rule_stmt(st, "UPDATE policy_chunks SET rules = "
				    "json_insert(rules, '$[#]', ?4) WHERE "
				    SAME_LIST " AND chunk = (SELECT max(chunk) "
				    "FROM policy_chunks WHERE " SAME_LIST ") AND "
				    "json_array_length(rules) < ?5", sb, l,
				    text, err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_int(s, 5, STORE_CHUNK_RULES);
	if (store_run(st, s, err, errlen) < 0)
		return -EIO;
	if (sqlite3_changes(st->db) == 1)
		return 0;
	s = rule_stmt(st, "INSERT INTO policy_chunks (sandbox_id, list, kind, "
		      "chunk, rules) SELECT ?1, ?2, ?3, coalesce(max(chunk) + "
		      "1, 0), json_array(?4) FROM policy_chunks WHERE "
		      SAME_LIST, sb, l, text, err, errlen);
	return s ? store_run(st, s, err, errlen) : -EIO;
}

/* Out of both lists: the chunks that hold it (found by its quoted text:
 * rule text has nothing JSON escapes) lose it, and go once empty. */
int store_rule_delete(struct store *st, int64_t sb, const char *text,
		      char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "UPDATE policy_chunks SET rules = "
				     "(SELECT json_group_array(j.value) FROM "
				     "json_each(policy_chunks.rules) AS j WHERE "
				     "j.value != ?2) WHERE sandbox_id = ?1 AND "
				     "instr(rules, '\"' || ?2 || '\"') > 0",
				     err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, sb);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	if (store_run(st, s, err, errlen) < 0)
		return -EIO;
	s = store_prep(st, "DELETE FROM policy_chunks WHERE sandbox_id = ? AND "
		       "rules = '[]'", err, errlen);
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, sb);
	return store_run(st, s, err, errlen);
}

static int text_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A chunk that lost rules: its new text, or NULL when it lost them all. */
struct rewrite {
	char list[8], kind[8];
	int64_t chunk;
	char *rules;
};

/* The sandbox's chunks, each without the texts `gone' (sorted). */
static int rewrites_of(struct store *st, int64_t sb, const char *const *gone,
		       size_t n, struct rewrite **out, size_t *nout,
		       char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "SELECT list, kind, chunk, rules FROM "
				     "policy_chunks WHERE sandbox_id = ?", err,
				     errlen);
	struct store_chunk c = { 0 };
	int step, rc = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, sb);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *a = json_loads((const char *)sqlite3_column_text(s, 3),
				       0, NULL), *v;
		bool lost = false;
		size_t i;

		chunk_reset(&c);
		json_array_foreach(a, i, v) {
			const char *t = json_string_value(v);

			if (t && bsearch(&t, gone, n, sizeof(*gone), text_cmp))
				lost = true;
			else if (t)
				rc = chunk_add(&c, t, err, errlen);
		}
		json_decref(a);
		if (!a) {
			snprintf(err, errlen, "store: a chunk of rules is not "
				 "JSON");
			rc = -EIO;
		}
		if (rc || !lost)
			continue;
		*out = xreallocarray(*out, *nout + 1, sizeof(**out));
		struct rewrite *r = &(*out)[(*nout)++];

		snprintf(r->list, sizeof(r->list), "%s",
			 (const char *)sqlite3_column_text(s, 0));
		snprintf(r->kind, sizeof(r->kind), "%s",
			 (const char *)sqlite3_column_text(s, 1));
		r->chunk = sqlite3_column_int64(s, 2);
		r->rules = c.n ? xstrdup(chunk_end(&c)) : NULL;
	}
	if (rc == 0)
		rc = store_rows_end(st, step, err, errlen);
	sqlite3_finalize(s);
	chunk_free(&c);
	return rc;
}

/* Many rules out at once: one pass over the sandbox's chunks (a delete
 * each scans them all: 2,000 of 100,000 rules took 7 s). */
int store_rules_delete(struct store *st, int64_t sb, const char *const *texts,
		       size_t n, char *err, size_t errlen)
{
	const char **gone;
	struct rewrite *w = NULL;
	size_t nw = 0;
	int rc = 0;

	if (n <= 4) {
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = store_rule_delete(st, sb, texts[i], err, errlen);
		return rc;
	}
	gone = xcalloc(n, sizeof(*gone));
	memcpy(gone, texts, n * sizeof(*gone));
	qsort(gone, n, sizeof(*gone), text_cmp);
	rc = rewrites_of(st, sb, gone, n, &w, &nw, err, errlen);
	for (size_t i = 0; i < nw; i++) {
		sqlite3_stmt *s = rc ? NULL : store_prep(st, w[i].rules ?
			"UPDATE policy_chunks SET rules = ?5 WHERE sandbox_id = ?1"
			" AND list = ?2 AND kind = ?3 AND chunk = ?4" :
			"DELETE FROM policy_chunks WHERE sandbox_id = ?1 AND "
			"list = ?2 AND kind = ?3 AND chunk = ?4", err, errlen);

		if (s) {
			sqlite3_bind_int64(s, 1, sb);
			sqlite3_bind_text(s, 2, w[i].list, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 3, w[i].kind, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 4, w[i].chunk);
			if (w[i].rules)
				sqlite3_bind_text(s, 5, w[i].rules, -1,
						  SQLITE_STATIC);
			rc = store_run(st, s, err, errlen);
		} else if (!rc) {
			rc = -EIO;
		}
		free(w[i].rules);
	}
	free(w);
	free(gone);
	return rc;
}
