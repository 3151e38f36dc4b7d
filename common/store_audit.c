/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit's bounds: rows past retention_days or past max_size deleted,
 * oldest first, a bounded batch a transaction (a writer that deleted a
 * day of rows at once would hold the write lock for seconds, and every
 * change with it); the database's size in pages; free pages given back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

static const char *const audit_tables[] = { "flows", "dns_queries",
					    "requests", "policy_changes" };
#define NTABLES (sizeof(audit_tables) / sizeof(*audit_tables))

/* The time of a table's n-th oldest row into cutoff, when it is older
 * than the one there (every table has its time index). */
static int nth_oldest(struct store *st, const char *table, unsigned n,
		      char cutoff[STORE_TIME_LEN], char *err, size_t errlen)
{
	char sql[128];
	sqlite3_stmt *s;
	int step;

	snprintf(sql, sizeof(sql), "SELECT time FROM %s ORDER BY time "
		 "LIMIT 1 OFFSET ?", table);
	if (!(s = store_prep(st, sql, err, errlen)))
		return -EIO;
	sqlite3_bind_int(s, 1, (int)n - 1);
	if ((step = sqlite3_step(s)) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), cutoff) < 0)
		snprintf(cutoff, STORE_TIME_LEN, "%s",
			 (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 :
	       store_error(st, err, errlen);
}

int store_audit_delete(struct store *st, const char *before, unsigned batch,
		       uint64_t *deleted, char *err, size_t errlen)
{
	/* past every time: a table with fewer than `batch' rows goes whole */
	char cutoff[STORE_TIME_LEN] = "9999";
	char sql[200];
	int rc = 0;

	*deleted = 0;
	/* oldest first across the tables: up to the earliest of their
	 * batch-th rows, so no row goes before an older one of another */
	for (size_t i = 0; !before && i < NTABLES && rc == 0; i++)
		rc = nth_oldest(st, audit_tables[i], batch, cutoff, err,
				errlen);
	if (rc < 0 || (rc = store_savepoint(st, "audit_delete", err,
					     errlen)) < 0)
		return rc;
	for (size_t i = 0; i < NTABLES && rc == 0; i++) {
		sqlite3_stmt *s;

		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id IN (SELECT "
			 "id FROM %s WHERE time %s ?1 ORDER BY time LIMIT ?2)",
			 audit_tables[i], audit_tables[i], before ? "<" : "<=");
		if (!(s = store_prep(st, sql, err, errlen))) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_text(s, 1, before ? before : cutoff, -1,
				  SQLITE_STATIC);
		sqlite3_bind_int(s, 2, (int)batch);
		if ((rc = store_run(st, s, err, errlen)) == 0)
			*deleted += (uint64_t)sqlite3_changes(st->db);
	}
	rc = store_end(st, "audit_delete", rc, err, errlen);
	if (rc < 0)
		*deleted = 0;
	return rc;
}

int store_size(struct store *st, struct store_size *sz, char *err,
	       size_t errlen)
{
	int64_t pages = store_pragma(st, "main", "page_count"),
		unused = store_pragma(st, "main", "freelist_count"),
		size = store_pragma(st, "main", "page_size"),
		vacuum = store_pragma(st, "main", "auto_vacuum");

	if (pages < 0 || unused < 0 || size < 0 || vacuum < 0)
		return store_error(st, err, errlen);
	sz->used = (uint64_t)(pages - unused) * (uint64_t)size;
	sz->free = (uint64_t)unused * (uint64_t)size;
	sz->page = (uint64_t)size;
	sz->releasable = vacuum == 2;	/* incremental */
	return 0;
}

int store_release(struct store *st, uint64_t pages, char *err, size_t errlen)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA main.incremental_vacuum(%llu)",
		 (unsigned long long)pages);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_error(st, err, errlen);
	return 0;
}

int store_wal_bound(struct store *st, uint64_t bytes, char *err,
		    size_t errlen)
{
	char sql[96];
	int64_t page = store_pragma(st, "main", "page_size");

	if (page <= 0)
		return store_error(st, err, errlen);
	snprintf(sql, sizeof(sql), "PRAGMA main.journal_size_limit = %llu",
		 (unsigned long long)bytes);
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_error(st, err, errlen);
	sqlite3_wal_autocheckpoint(st->db, (int)(bytes / (uint64_t)page));
	return 0;
}
