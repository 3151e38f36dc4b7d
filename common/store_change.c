/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy changes one rule at a time (a sandbox of 100,000 rules is not
 * rewritten for one). The caller holds a savepoint around them. */
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

int store_rule_insert(struct store *st, int64_t sb, enum rule_list l,
		      const char *text, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "INSERT INTO policy_rules (sandbox_id,"
				     " list, kind, value, position) SELECT ?1, "
				     "?2, ?3, ?4, coalesce(max(position), -1) "
				     "+ 1 FROM policy_rules WHERE sandbox_id = "
				     "?1 AND list = ?2", err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, sb);
	sqlite3_bind_text(s, 2, l == LIST_ALLOW ? "allow" : "deny", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 3, policy_rule_is_cidr(text) ? "cidr" : "domain",
			  -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
	return store_run(st, s, err, errlen);
}

int store_rule_delete(struct store *st, int64_t sb, const char *text,
		      char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "DELETE FROM policy_rules WHERE "
				     "sandbox_id = ? AND value = ?", err,
				     errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, sb);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	return store_run(st, s, err, errlen);
}
