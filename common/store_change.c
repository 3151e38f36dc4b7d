/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Policy changes one rule at a time (a sandbox of 100,000 rules is not
 * rewritten for one), and the policy_changes audit table. The caller
 * holds a savepoint around them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

int store_mode_set(struct store *st, int64_t sb, enum policy_mode mode,
		   char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "UPDATE sandboxes SET mode = ?, "
				     "updated = strftime('%Y-%m-%d %H:%M:%f', "
				     "'now') WHERE id = ?", err, errlen);

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

int store_change_log(struct store *st, const char *sandbox, unsigned uid,
		     const char *change, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "INSERT INTO policy_changes (time, "
				     "sandbox, uid, change) VALUES (?,?,?,?)",
				     err, errlen);
	char now[STORE_TIME_LEN];

	if (!s)
		return -EIO;
	store_time_now(now);
	sqlite3_bind_text(s, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, uid);
	sqlite3_bind_text(s, 4, change, -1, SQLITE_STATIC);
	return store_run(st, s, err, errlen);
}

int store_audit_counts(struct store *st, bool dns, const char *sandbox,
		       void (*fn)(const char *sandbox, const char *verdict,
				  const char *reason, int64_t n, void *arg),
		       void *arg, char *err, size_t errlen)
{
	char sql[200];
	sqlite3_stmt *s;

	snprintf(sql, sizeof(sql), "SELECT sandbox, verdict, reason, count(*) "
		 "FROM %s WHERE ?1 IS NULL OR sandbox = ?1 GROUP BY 1, 2, 3 "
		 "ORDER BY 1, 2, 4 DESC", dns ? "dns_queries" : "flows");
	if (!(s = store_prep(st, sql, err, errlen)))
		return -EIO;
	if (sandbox)
		sqlite3_bind_text(s, 1, sandbox, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 0),
		   (const char *)sqlite3_column_text(s, 1),
		   (const char *)sqlite3_column_text(s, 2),
		   sqlite3_column_int64(s, 3), arg);
	sqlite3_finalize(s);
	return 0;
}
