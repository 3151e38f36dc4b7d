/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy changes one rule at a time (a sandbox of 100,000 rules is not
 * rewritten for one: a rule goes into its list's last chunk, or out of
 * the chunk that holds it). The caller holds a savepoint around them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

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
