/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sandboxes, how they are recognised, and the flows audit table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "xalloc.h"

void sandbox_match_clear(struct sandbox_match *m)
{
	for (size_t i = 0; i < m->nifaces; i++)
		free(m->ifaces[i]);
	free(m->ifaces);
	free(m->sources);
	memset(m, 0, sizeof(*m));
}

static int match_insert(struct store *st, int64_t id, const char *kind,
			const char *value, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "INSERT INTO sandbox_match "
				     "(sandbox_id, kind, value) VALUES (?,?,?)",
				     err, errlen);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, value, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_CONSTRAINT) {
		snprintf(err, errlen, "%s `%s' already belongs to a sandbox",
			 strcmp(kind, "iface") ? "source" : "interface", value);
		return -EEXIST;
	}
	return rc == SQLITE_DONE ? 0 : store_error(st, err, errlen);
}

int store_sandbox_create(struct store *st, const char *name,
			 const struct sandbox_match *m, const struct policy *p,
			 int64_t *id, char *err, size_t errlen)
{
	char text[CIDR_TEXT_MAX];
	int rc;

	if ((rc = store_savepoint(st, "create_sandbox", err, errlen)) < 0)
		return rc;
	if ((rc = store_sandbox_add(st, name, id, err, errlen)) < 0)
		goto out;
	for (size_t i = 0; i < m->nifaces; i++)
		if ((rc = match_insert(st, *id, "iface", m->ifaces[i], err,
				       errlen)) < 0)
			goto out;
	for (size_t i = 0; i < m->nsources; i++) {
		cidr_format(&m->sources[i], text);
		if ((rc = match_insert(st, *id, "source", text, err,
				       errlen)) < 0)
			goto out;
	}
	if ((rc = store_policy_save(st, *id, p, err, errlen)) < 0)
		goto out;
out:
	return store_end(st, "create_sandbox", rc, err, errlen);
}

int store_sandbox_match_load(struct store *st, int64_t id,
			     struct sandbox_match *m, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "SELECT kind, value FROM sandbox_match"
				     " WHERE sandbox_id = ? ORDER BY rowid",
				     err, errlen);
	int rc = 0, step;

	memset(m, 0, sizeof(*m));
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		const char *value = (const char *)sqlite3_column_text(s, 1);

		if (!strcmp(kind, "iface")) {
			m->ifaces = xreallocarray(m->ifaces, m->nifaces + 1,
						  sizeof(*m->ifaces));
			m->ifaces[m->nifaces++] = xstrdup(value);
			continue;
		}
		m->sources = xreallocarray(m->sources, m->nsources + 1,
					   sizeof(*m->sources));
		rc = cidr_parse(value, &m->sources[m->nsources++], err,
				errlen);
	}
	if (rc == 0)
		rc = store_rows_end(st, step, err, errlen);
	sqlite3_finalize(s);
	if (rc)
		sandbox_match_clear(m);
	return rc;
}

/* Run a statement with one id parameter. */
static int run_with_id(struct store *st, const char *sql, int64_t id,
		       char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, sql, err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	return store_run(st, s, err, errlen);
}

int store_sandbox_delete(struct store *st, int64_t id, char *err,
			 size_t errlen)
{
	int rc;

	if ((rc = store_savepoint(st, "delete_sandbox", err, errlen)) < 0)
		return rc;
	/* the secrets database has no foreign keys into this one */
	if (st->secrets &&
	    (rc = run_with_id(st, "DELETE FROM secrets.injection_headers WHERE "
			      "rule_id IN (SELECT id FROM injection_rules "
			      "WHERE sandbox_id = ?)", id, err, errlen)) < 0)
		goto out;
	if ((rc = run_with_id(st, "DELETE FROM sandboxes WHERE id = ?", id,
			      err, errlen)) < 0)
		goto out;
	if (sqlite3_changes(st->db) != 1) {
		snprintf(err, errlen, "no sandbox %lld", (long long)id);
		rc = -ENOENT;
	}
out:
	return store_end(st, "delete_sandbox", rc, err, errlen);
}

int store_sandbox_each(struct store *st,
		       int (*fn)(int64_t id, const char *name, void *arg),
		       void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "SELECT id, name FROM sandboxes "
				     "ORDER BY id", err, errlen);
	int rc = 0, step;

	if (!s)
		return -EIO;
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW)
		rc = fn(sqlite3_column_int64(s, 0),
			(const char *)sqlite3_column_text(s, 1), arg);
	if (rc == 0)
		rc = store_rows_end(st, step, err, errlen);
	sqlite3_finalize(s);
	return rc;
}

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

	sqlite3_bind_text(s, 1, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, r->family);
	sqlite3_bind_text(s, 4, r->proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, r->src, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 6, r->sport);
	sqlite3_bind_text(s, 7, r->dst, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 8, r->dport);
	bind_text_or_null(s, 9, r->sni);
	sqlite3_bind_text(s, 10, verdict_text(r->allow), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, r->reason, -1, SQLITE_STATIC);
	bind_text_or_null(s, 12, r->rule);
}

int store_flows_insert(struct store *st, const struct flow_record *r,
		       size_t n, char *err, size_t errlen)
{
	sqlite3_stmt *row = NULL, *name = NULL;
	int rc;

	if ((rc = store_savepoint(st, "audit", err, errlen)) < 0)
		return rc;
	if (!(row = store_prep(st, "INSERT INTO flows (time, sandbox, family, "
			       "proto, src, sport, dst, dport, sni, verdict, "
			       "reason, rule) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
			       err, errlen)) ||
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

	sqlite3_bind_text(s, 1, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, r->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, verdict_text(r->allow), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, r->reason, -1, SQLITE_STATIC);
	bind_text_or_null(s, 7, r->answers);
}

int store_dns_insert(struct store *st, const struct dns_record *r, size_t n,
		     char *err, size_t errlen)
{
	return rows_write(st, "INSERT INTO dns_queries (time, sandbox, name, "
			   "type, verdict, reason, answers) "
			   "VALUES (?,?,?,?,?,?,?)", r, sizeof(*r), n,
			   bind_dns, err, errlen);
}

static void bind_request(sqlite3_stmt *s, const void *row)
{
	const struct request_record *r = row;

	sqlite3_bind_text(s, 1, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->sandbox, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->host, -1, SQLITE_STATIC);
	bind_text_or_null(s, 4, r->method);
	bind_text_or_null(s, 5, r->path);
	sqlite3_bind_int(s, 6, r->status);
	bind_text_or_null(s, 7, r->injected);
	bind_text_or_null(s, 8, r->error);
}

int store_requests_insert(struct store *st, const struct request_record *r,
			  size_t n, char *err, size_t errlen)
{
	return rows_write(st, "INSERT INTO requests (time, sandbox, host, "
			  "method, path, status, injected, error) "
			  "VALUES (?,?,?,?,?,?,?,?)", r, sizeof(*r), n,
			  bind_request, err, errlen);
}
