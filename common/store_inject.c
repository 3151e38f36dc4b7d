/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Injection rules in the store: the rule and its header names in the main
 * database, the header values in the secrets database (root only). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "store.h"
#include "xalloc.h"

static const char *const path_kinds[] = { NULL, "exact", "prefix", "regex" };

static char *names_json(const struct inject_rule *r)
{
	json_t *a = json_array();
	char *out;
	size_t i;

	for (i = 0; i < r->nset; i++)
		json_array_append_new(a, json_string(r->set[i].name));
	out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return out;
}

static char *match_json(const struct inject_rule *r)
{
	json_t *o = json_object();
	char *out;
	size_t i;

	for (i = 0; i < r->nmatch; i++)
		json_object_set_new(o, r->match[i].name,
				    json_string(r->match[i].value));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

static int rule_save(struct store *st, int64_t sb, size_t pos,
		     const struct inject_rule *r, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	char *names = names_json(r), *match = match_json(r);
	int64_t id;
	size_t i;
	int rc;

	rc = sqlite3_prepare_v2(st->db,
		"INSERT INTO injection_rules (sandbox_id, position, domain, "
		"method, path_kind, path, match_headers, header_names) "
		"VALUES (?,?,?,?,?,?,?,?)", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		free(names);
		free(match);
		return store_error(st, err, errlen);
	}
	sqlite3_bind_int64(s, 1, sb);
	sqlite3_bind_int64(s, 2, (int64_t)pos);
	sqlite3_bind_text(s, 3, r->domain.text, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, r->method, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, path_kinds[r->path_kind], -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, r->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, match, -1, free);
	sqlite3_bind_text(s, 8, names, -1, free);
	if (store_run(st, s, err, errlen) < 0)
		return -EIO;
	id = sqlite3_last_insert_rowid(st->db);
	for (i = 0; i < r->nset; i++) {
		if (sqlite3_prepare_v2(st->db,
			"INSERT INTO secrets.injection_headers (rule_id, name, "
			"value) VALUES (?,?,?)", -1, &s, NULL) != SQLITE_OK)
			return store_error(st, err, errlen);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, r->set[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, r->set[i].value, -1, SQLITE_STATIC);
		if (store_run(st, s, err, errlen) < 0)
			return -EIO;
	}
	return 0;
}

int store_inject_save(struct store *st, int64_t sb, const struct policy *p,
		      char *err, size_t errlen)
{
	sqlite3_stmt *s;
	size_t i;

	if (st->secrets) {
		if (sqlite3_prepare_v2(st->db,
			"DELETE FROM secrets.injection_headers WHERE rule_id IN "
			"(SELECT id FROM injection_rules WHERE sandbox_id = ?)",
			-1, &s, NULL) != SQLITE_OK)
			return store_error(st, err, errlen);
		sqlite3_bind_int64(s, 1, sb);
		if (store_run(st, s, err, errlen) < 0)
			return -EIO;
	}
	if (sqlite3_prepare_v2(st->db, "DELETE FROM injection_rules "
				       "WHERE sandbox_id = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return store_error(st, err, errlen);
	sqlite3_bind_int64(s, 1, sb);
	if (store_run(st, s, err, errlen) < 0)
		return -EIO;
	for (i = 0; i < p->ninject; i++)
		if (rule_save(st, sb, i, &p->inject[i], err, errlen) < 0)
			return -EIO;
	return 0;
}

/* Header names from the JSON array, values from the secrets database or
 * "<redacted>" where it is not attached. */
static int headers_load(struct store *st, int64_t id, const char *names,
			struct inject_rule *r)
{
	json_t *a = json_loads(names, 0, NULL), *v;
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc = 0;

	if (!json_is_array(a)) {
		json_decref(a);
		return -EINVAL;
	}
	r->set = xcalloc(json_array_size(a), sizeof(*r->set));
	/* a secrets database that cannot be read is damaged: never a
	 * "<redacted>" value sent as if it were the secret */
	if (st->secrets &&
	    sqlite3_prepare_v2(st->db, "SELECT value FROM "
				       "secrets.injection_headers WHERE "
				       "rule_id = ? AND name = ?", -1, &s,
			       NULL) != SQLITE_OK)
		rc = -EIO;
	json_array_foreach(a, i, v) {
		const char *val = "<redacted>";
		int step;

		if (s) {
			sqlite3_reset(s);
			sqlite3_bind_int64(s, 1, id);
			sqlite3_bind_text(s, 2, json_string_value(v), -1,
					  SQLITE_STATIC);
			if ((step = sqlite3_step(s)) == SQLITE_ROW)
				val = (const char *)sqlite3_column_text(s, 0);
			else if (step != SQLITE_DONE)
				rc = -EIO;
		}
		r->set[r->nset].name = xstrdup(json_string_value(v) ?
					       json_string_value(v) : "");
		r->set[r->nset++].value = secret_strdup(val);
	}
	sqlite3_finalize(s);
	json_decref(a);
	return rc;
}

static int match_load(const char *text, struct inject_rule *r)
{
	json_t *o = json_loads(text ? text : "{}", 0, NULL), *v;
	const char *k;

	if (!json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	r->match = xcalloc(json_object_size(o), sizeof(*r->match));
	json_object_foreach(o, k, v) {
		r->match[r->nmatch].name = xstrdup(k);
		r->match[r->nmatch++].value = xstrdup(
			json_string_value(v) ? json_string_value(v) : "");
	}
	json_decref(o);
	return 0;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);

	return t ? xstrdup(t) : NULL;
}

int store_inject_load(struct store *st, int64_t sb, struct policy *p,
		      char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc = 0, k, step;

	if (sqlite3_prepare_v2(st->db,
		"SELECT id, domain, method, path_kind, path, match_headers, "
		"header_names FROM injection_rules WHERE sandbox_id = ? "
		"ORDER BY position", -1, &s, NULL) != SQLITE_OK)
		return store_error(st, err, errlen);
	sqlite3_bind_int64(s, 1, sb);
	while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct inject_rule r = { .path_kind = PATH_ANY };
		const char *kind = (const char *)sqlite3_column_text(s, 3);
		char msg[256];

		for (k = 1; kind && k < 4; k++)
			if (!strcmp(kind, path_kinds[k]))
				r.path_kind = (enum path_match)k;
		r.method = col_dup(s, 2);
		r.path = col_dup(s, 4);
		if (domain_pattern_parse((const char *)sqlite3_column_text(s, 1),
					 &r.domain, msg, sizeof(msg)) < 0 ||
		    match_load((const char *)sqlite3_column_text(s, 5), &r) < 0 ||
		    headers_load(st, sqlite3_column_int64(s, 0),
				 (const char *)sqlite3_column_text(s, 6), &r) < 0 ||
		    policy_add_inject(p, &r, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: injection rule %lld is "
				 "damaged", sqlite3_db_filename(st->db, "main"),
				 (long long)sqlite3_column_int64(s, 0));
			rc = -EIO;
		}
		inject_rule_clear(&r);
	}
	if (rc == 0)
		rc = store_rows_end(st, step, err, errlen);
	sqlite3_finalize(s);
	return rc;
}
