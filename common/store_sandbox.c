/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sandboxes and how they are recognised. */
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

int64_t store_sandbox_id(struct store *st, const char *name)
{
	sqlite3_stmt *s;
	int64_t id = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT id FROM sandboxes WHERE name = ?",
			       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

int store_sandbox_add(struct store *st, const char *name, int64_t *id,
		      char *err, size_t errlen)
{
	/* the lowest free id: ids live in a few mark bits, and those of
	 * destroyed sandboxes come back */
	sqlite3_stmt *s = store_prep(st,
		"INSERT INTO sandboxes (id, name, mode) VALUES ("
		" CASE WHEN NOT EXISTS (SELECT 1 FROM sandboxes WHERE id = 1)"
		" THEN 1 ELSE (SELECT min(id) + 1 FROM sandboxes WHERE id + 1"
		" NOT IN (SELECT id FROM sandboxes)) END, ?, 'deny-all')",
		err, errlen);
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_CONSTRAINT) {
		snprintf(err, errlen, "sandbox `%s' already exists", name);
		return -EEXIST;
	}
	if (rc != SQLITE_DONE)
		return store_error(st, err, errlen);
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
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

int store_sandbox_match_save(struct store *st, int64_t id,
			     const struct sandbox_match *m, char *err,
			     size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "DELETE FROM sandbox_match WHERE "
				     "sandbox_id = ?", err, errlen);
	char text[CIDR_TEXT_MAX];
	int rc;

	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if ((rc = store_run(st, s, err, errlen)) < 0)
		return rc;
	for (size_t i = 0; i < m->nifaces; i++)
		if ((rc = match_insert(st, id, "iface", m->ifaces[i], err,
				       errlen)) < 0)
			return rc;
	for (size_t i = 0; i < m->nsources; i++) {
		cidr_format(&m->sources[i], text);
		if ((rc = match_insert(st, id, "source", text, err,
				       errlen)) < 0)
			return rc;
	}
	return 0;
}

int store_sandbox_create(struct store *st, const char *name,
			 const struct sandbox_match *m, const struct policy *p,
			 int64_t *id, char *err, size_t errlen)
{
	int rc;

	if ((rc = store_savepoint(st, "create_sandbox", err, errlen)) < 0)
		return rc;
	if ((rc = store_sandbox_add(st, name, id, err, errlen)) == 0 &&
	    (rc = store_sandbox_match_save(st, *id, m, err, errlen)) == 0)
		rc = store_policy_save(st, *id, p, err, errlen);
	return store_end(st, "create_sandbox", rc, err, errlen);
}

int store_sandbox_file_set(struct store *st, int64_t id, const char *file,
			   char *err, size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "UPDATE sandboxes SET file = ? "
				     "WHERE id = ?", err, errlen);

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, id);
	return store_run(st, s, err, errlen);
}

int store_sandbox_file(struct store *st, int64_t id, char **file, char *err,
		       size_t errlen)
{
	sqlite3_stmt *s = store_prep(st, "SELECT file FROM sandboxes WHERE "
				     "id = ?", err, errlen);
	int step;

	*file = NULL;
	if (!s)
		return -EIO;
	sqlite3_bind_int64(s, 1, id);
	if ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_text(s, 0))
			*file = xstrdup((const char *)sqlite3_column_text(s,
									  0));
		step = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : store_error(st, err, errlen);
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
