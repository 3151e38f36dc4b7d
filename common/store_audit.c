/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit tables in the store: their writers (flows, their ends, DNS
 * queries, brokered requests, policy changes; columns as audit_cols.h
 * orders them), their counts by verdict and reason, and their bounds:
 * rows past retention_days or past max_size deleted, oldest first, a
 * bounded batch a transaction (a writer that deleted a day of rows at
 * once would hold the write lock for seconds, and every change with it);
 * the database's size in pages; free pages given back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "audit_cols.h"
#include "store.h"

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *t)
{
	if (t && *t)
		sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* Rows into an audit table in one transaction; bind() fills a row. */
static int rows_write(struct store *st, const char *sql, const void *rows,
		       size_t size, size_t n,
		       void (*bind)(sqlite3_stmt *s, const void *row),
		       char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = store_savepoint(st, "audit", err, errlen)) < 0)
		return rc;
	if (!(s = store_prep(st, sql, err, errlen))) {
		rc = -EIO;
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		bind(s, (const char *)rows + i * size);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = store_error(st, err, errlen);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
out:
	return store_end(st, "audit", rc, err, errlen);
}

static const char *verdict_text(bool allow)
{
	return allow ? "allow" : "deny";
}

static void bind_flow(sqlite3_stmt *s, const void *row)
{
	const struct flow_record *r = row;

	sqlite3_bind_text(s, FLOWS_TIME, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, FLOWS_SANDBOX, r->sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, FLOWS_FAMILY, r->family);
	sqlite3_bind_text(s, FLOWS_PROTO, r->proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, FLOWS_SRC, r->src, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, FLOWS_SPORT, r->sport);
	sqlite3_bind_text(s, FLOWS_DST, r->dst, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, FLOWS_DPORT, r->dport);
	bind_text_or_null(s, FLOWS_SNI, r->sni);
	sqlite3_bind_text(s, FLOWS_VERDICT, verdict_text(r->allow), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, FLOWS_REASON, r->reason, -1, SQLITE_STATIC);
	bind_text_or_null(s, FLOWS_RULE, r->rule);
	sqlite3_bind_text(s, FLOWS_DIRECTION, r->inbound ? "in" : "out", -1,
			  SQLITE_STATIC);
}

/* The name_only statement's parameters are bind_flow's, by number. */
_Static_assert(FLOWS_SANDBOX == 2 && FLOWS_PROTO == 4 && FLOWS_SRC == 5 &&
	       FLOWS_SPORT == 6 && FLOWS_DST == 7 && FLOWS_DPORT == 8 &&
	       FLOWS_SNI == 9, "flows' columns as audit_cols.h orders them");

int store_flows_insert(struct store *st, const struct flow_record *r,
		       size_t n, char *err, size_t errlen)
{
	sqlite3_stmt *row = NULL, *name = NULL;
	int rc;

	if ((rc = store_savepoint(st, "audit", err, errlen)) < 0)
		return rc;
	if (!(row = store_prep(st, "INSERT INTO flows (" FLOWS_COLUMNS ") "
			       "VALUES " FLOWS_VALUES, err, errlen)) ||
	    !(name = store_prep(st, "UPDATE flows SET sni = ?9 WHERE id = "
				"(SELECT max(id) FROM flows WHERE src = ?5 AND "
				"sport = ?6 AND dst = ?7 AND dport = ?8 AND "
				"sandbox = ?2 AND proto = ?4) AND sni IS NULL",
				err, errlen))) {
		rc = -EIO;
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_stmt *s = r[i].name_only ? name : row;

		bind_flow(s, &r[i]);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = store_error(st, err, errlen);
		sqlite3_reset(s);
	}
out:
	sqlite3_finalize(row);
	sqlite3_finalize(name);
	return store_end(st, "audit", rc, err, errlen);
}

static void bind_end(sqlite3_stmt *s, const void *row)
{
	const struct flow_end *e = row;

	sqlite3_bind_int64(s, 1, (sqlite3_int64)e->bytes_out);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)e->bytes_in);
	sqlite3_bind_text(s, 3, e->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, e->src, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, e->sport);
	sqlite3_bind_text(s, 6, e->dst, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, e->dport);
	sqlite3_bind_text(s, 8, e->sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, e->proto, -1, SQLITE_STATIC);
	bind_text_or_null(s, 10, e->since);
}

int store_flows_end(struct store *st, const struct flow_end *e, size_t n,
		    char *err, size_t errlen)
{
	return rows_write(st, "UPDATE flows SET bytes_out = ?1, bytes_in = "
			  "?2, end_time = ?3 WHERE id = (SELECT CASE WHEN ?10 "
			  "IS NULL THEN max(id) ELSE min(id) END FROM flows "
			  "WHERE src = ?4 AND sport = ?5 AND dst = ?6 AND "
			  "dport = ?7 AND sandbox = ?8 AND proto = ?9 AND "
			  "end_time IS NULL AND (?10 IS NULL OR time >= ?10))",
			  e, sizeof(*e), n, bind_end, err, errlen);
}

static void bind_dns(sqlite3_stmt *s, const void *row)
{
	const struct dns_record *r = row;

	sqlite3_bind_text(s, DNS_QUERIES_TIME, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, DNS_QUERIES_SANDBOX, r->sandbox, -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, DNS_QUERIES_NAME, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, DNS_QUERIES_TYPE, r->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, DNS_QUERIES_VERDICT, verdict_text(r->allow), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, DNS_QUERIES_REASON, r->reason, -1,
			  SQLITE_STATIC);
	bind_text_or_null(s, DNS_QUERIES_ANSWERS, r->answers);
}

int store_dns_insert(struct store *st, const struct dns_record *r, size_t n,
		     char *err, size_t errlen)
{
	return rows_write(st, "INSERT INTO dns_queries (" DNS_QUERIES_COLUMNS
			   ") VALUES " DNS_QUERIES_VALUES, r, sizeof(*r), n,
			   bind_dns, err, errlen);
}

static void bind_request(sqlite3_stmt *s, const void *row)
{
	const struct request_record *r = row;

	sqlite3_bind_text(s, REQUESTS_TIME, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, REQUESTS_SANDBOX, r->sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, REQUESTS_HOST, r->host, -1, SQLITE_STATIC);
	bind_text_or_null(s, REQUESTS_METHOD, r->method);
	bind_text_or_null(s, REQUESTS_PATH, r->path);
	sqlite3_bind_int(s, REQUESTS_STATUS, r->status);
	bind_text_or_null(s, REQUESTS_INJECTED, r->injected);
	bind_text_or_null(s, REQUESTS_ERROR, r->error);
}

int store_requests_insert(struct store *st, const struct request_record *r,
			  size_t n, char *err, size_t errlen)
{
	return rows_write(st, "INSERT INTO requests (" REQUESTS_COLUMNS ") "
			  "VALUES " REQUESTS_VALUES, r, sizeof(*r), n,
			  bind_request, err, errlen);
}

int store_change_log(struct store *st, const char *sandbox, unsigned uid,
		     const char *change, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "INSERT INTO policy_changes ("
				     POLICY_CHANGES_COLUMNS ") VALUES "
				     POLICY_CHANGES_VALUES, err, errlen);
	char now[STORE_TIME_LEN];

	if (!s)
		return -EIO;
	store_time_now(now);
	sqlite3_bind_text(s, POLICY_CHANGES_TIME, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, POLICY_CHANGES_SANDBOX, sandbox, -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, POLICY_CHANGES_UID, uid);
	sqlite3_bind_text(s, POLICY_CHANGES_CHANGE, change, -1,
			  SQLITE_STATIC);
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
