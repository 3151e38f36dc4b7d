/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's base: opening, the schema and its migrations, the secrets
 * database, the audit's time, and the savepoint and statement helpers
 * the other store_*.c build on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store.h"
#include "xalloc.h"

/* Migrations: entry i brings the schema from version i to i + 1. Never
 * edit a released entry; append. */
static const char *const main_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE sandboxes ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  mode TEXT NOT NULL"
	"    CHECK (mode IN ('allow-all','deny-all','user-defined')),"
	"  created TEXT NOT NULL DEFAULT (" STORE_NOW "),"
	"  updated TEXT NOT NULL DEFAULT (" STORE_NOW "));"
	"CREATE TABLE sandbox_match ("
	"  sandbox_id INTEGER NOT NULL REFERENCES sandboxes(id)"
	"    ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('iface','source')),"
	"  value TEXT NOT NULL,"
	"  UNIQUE (kind, value));"
	"CREATE TABLE policy_rules ("
	"  sandbox_id INTEGER NOT NULL REFERENCES sandboxes(id)"
	"    ON DELETE CASCADE,"
	"  list TEXT NOT NULL CHECK (list IN ('allow','deny')),"
	"  kind TEXT NOT NULL CHECK (kind IN ('domain','cidr')),"
	"  value TEXT NOT NULL,"
	"  position INTEGER NOT NULL,"
	"  UNIQUE (sandbox_id, list, kind, value));"
	"CREATE TABLE injection_rules ("
	"  id INTEGER PRIMARY KEY,"
	"  sandbox_id INTEGER NOT NULL REFERENCES sandboxes(id)"
	"    ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  domain TEXT NOT NULL,"
	"  method TEXT,"
	"  path_kind TEXT CHECK (path_kind IN ('exact','prefix','regex')),"
	"  path TEXT,"
	"  match_headers TEXT,"		/* JSON object, not secret */
	"  header_names TEXT NOT NULL);"	/* JSON array; values: secrets */
	"CREATE TABLE flows ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  sandbox TEXT NOT NULL,"
	"  family INTEGER NOT NULL CHECK (family IN (4, 6)),"
	"  proto TEXT NOT NULL,"
	"  src TEXT NOT NULL, sport INTEGER,"
	"  dst TEXT NOT NULL, dport INTEGER,"
	"  sni TEXT,"
	"  verdict TEXT NOT NULL CHECK (verdict IN ('allow','deny')),"
	"  reason TEXT NOT NULL,"
	"  rule TEXT,"
	"  bytes_out INTEGER, bytes_in INTEGER,"
	"  end_time TEXT);"
	"CREATE INDEX flows_time ON flows (time);"
	"CREATE INDEX flows_sandbox_time ON flows (sandbox, time);"
	"CREATE TABLE dns_queries ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  sandbox TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  verdict TEXT NOT NULL CHECK (verdict IN ('allow','deny')),"
	"  reason TEXT,"
	"  answers TEXT);"
	"CREATE INDEX dns_queries_time ON dns_queries (time);"
	"CREATE TABLE policy_changes ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  sandbox TEXT NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  change TEXT NOT NULL);"
	"CREATE INDEX policy_changes_time ON policy_changes (time);",
	/* 1 -> 2: a flow's row found again when it ends */
	"CREATE INDEX flows_ends ON flows (src, sport, dst, dport);",
	/* 2 -> 3: requests brokered with injected headers (their names) */
	"CREATE TABLE requests ("
	"  id INTEGER PRIMARY KEY,"
	"  time TEXT NOT NULL,"
	"  sandbox TEXT NOT NULL,"
	"  host TEXT NOT NULL,"
	"  method TEXT,"
	"  path TEXT,"
	"  status INTEGER NOT NULL,"
	"  injected TEXT,"
	"  error TEXT);"
	"CREATE INDEX requests_time ON requests (time);",
	/* 3 -> 4: one rule added or removed without a scan of the sandbox's
	 * rules (100,000 of them took 30 ms a change) */
	"CREATE INDEX policy_rules_position ON policy_rules"
	"  (sandbox_id, list, position);"
	"CREATE INDEX policy_rules_value ON policy_rules (sandbox_id, value);",
	/* 4 -> 5: which end opened a flow: the sandbox ('out'), or the
	 * other end ('in': its row's src is the other end, dst the
	 * sandbox's) */
	("ALTER TABLE flows ADD COLUMN direction TEXT NOT NULL DEFAULT 'out'"
	 "  CHECK (direction IN ('out', 'in'));"),
	/* 5 -> 6: the policy file a sandbox was made from (policies.d);
	 * NULL for one made by `sbxfw create' */
	"ALTER TABLE sandboxes ADD COLUMN file TEXT;",
	/* 6 -> 7: rules in chunks (store_chunk.c); policy_rules a view
	 * of them, one rule a row as before */
	"CREATE TABLE policy_chunks ("
	"  sandbox_id INTEGER NOT NULL REFERENCES sandboxes(id)"
	"    ON DELETE CASCADE,"
	"  list TEXT NOT NULL CHECK (list IN ('allow','deny')),"
	"  kind TEXT NOT NULL CHECK (kind IN ('domain','cidr')),"
	"  chunk INTEGER NOT NULL,"
	"  rules TEXT NOT NULL CHECK (json_type(rules) = 'array'),"
	"  PRIMARY KEY (sandbox_id, list, kind, chunk)) WITHOUT ROWID;"
	"INSERT INTO policy_chunks SELECT sandbox_id, list, kind, n / 256,"
	"  json_group_array(value) FROM (SELECT sandbox_id, list, kind, value,"
	"  row_number() OVER (PARTITION BY sandbox_id, list, kind"
	"  ORDER BY position) - 1 AS n FROM policy_rules"
	"  ORDER BY sandbox_id, list, kind, position)"
	"  GROUP BY sandbox_id, list, kind, n / 256;"
	"DROP TABLE policy_rules;"
	"CREATE VIEW policy_rules AS SELECT c.sandbox_id AS sandbox_id,"
	"  c.list AS list, c.kind AS kind, j.value AS value,"
	"  c.chunk * 256 + j.key AS position"
	"  FROM policy_chunks AS c, json_each(c.rules) AS j;",
};
/* the view's positions (chunk * 256 + index) rise only while a chunk holds
 * 256 rules at most */
_Static_assert(STORE_CHUNK_RULES <= 256, "policy_rules' positions");
_Static_assert(sizeof(main_migrations) / sizeof(*main_migrations) ==
	       STORE_SCHEMA_VERSION, "a migration a schema version");

static const char *const secret_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE secrets.injection_headers ("
	"  rule_id INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (rule_id, name));",
};

void store_time_now(char out[STORE_TIME_LEN])
{
	store_time_ago(0, out);
}

void store_time_ago(unsigned days, char out[STORE_TIME_LEN])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	store_time_at((uint64_t)(ts.tv_sec - (time_t)days * 86400) *
		      1000000000ull + (uint64_t)ts.tv_nsec, out);
}

/* The second's text made once a second and thread (gmtime and strftime
 * cost more than the rest of an audit row on the verdict path). */
void store_time_at(uint64_t ns, char out[STORE_TIME_LEN])
{
	static __thread time_t last = -1;
	static __thread char text[STORE_TIME_LEN];
	static __thread size_t n;
	time_t sec = (time_t)(ns / 1000000000ull);
	unsigned ms = (unsigned)(ns % 1000000000ull / 1000000);

	if (sec != last) {
		struct tm tm;

		gmtime_r(&sec, &tm);
		n = strftime(text, STORE_TIME_LEN, "%Y-%m-%d %H:%M:%S", &tm);
		last = sec;
	}
	memcpy(out, text, n);
	if (n + 5 > STORE_TIME_LEN) {
		out[n] = 0;
		return;
	}
	out[n] = '.';
	out[n + 1] = (char)('0' + ms / 100);
	out[n + 2] = (char)('0' + ms / 10 % 10);
	out[n + 3] = (char)('0' + ms % 10);
	out[n + 4] = 0;
}

void store_secrets_path(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);

	if (n > 3 && !strcmp(path + n - 3, ".db"))
		n -= 3;
	snprintf(out, outlen, "%.*s-secrets.db", (int)n, path);
}

static int exec(struct store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", sqlite3_db_filename(st->db, "main"),
			 msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int64_t store_pragma(struct store *st, const char *schema, const char *name)
{
	char sql[96];
	sqlite3_stmt *s;
	int64_t v = -1;

	snprintf(sql, sizeof(sql), "PRAGMA %s.%s", schema, name);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int user_version(struct store *st, const char *schema)
{
	return (int)store_pragma(st, schema, "user_version");
}

int store_schema_version(struct store *st)
{
	return user_version(st, "main");
}

static int migrate(struct store *st, const char *schema,
		   const char *const *steps, int nsteps, char *err,
		   size_t errlen)
{
	char sql[80];
	int v = user_version(st, schema), from = v;

	if (v > nsteps) {
		snprintf(err, errlen,
			 "%s: schema version %d is newer than this sbxfw (%d)",
			 sqlite3_db_filename(st->db, schema), v, nsteps);
		return -EPROTO;
	}
	for (; v < nsteps; v++) {
		if (exec(st, "BEGIN IMMEDIATE", err, errlen) < 0)
			return -EIO;
		snprintf(sql, sizeof(sql), "PRAGMA %s.user_version = %d", schema,
			 v + 1);
		if (exec(st, steps[v], err, errlen) < 0 ||
		    exec(st, sql, err, errlen) < 0 ||
		    exec(st, "COMMIT", err, errlen) < 0) {
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
			return -EIO;
		}
	}
	/* the pages a migration freed (a table dropped) go back too */
	snprintf(sql, sizeof(sql), "PRAGMA %s.incremental_vacuum", schema);
	return from < nsteps ? exec(st, sql, err, errlen) : 0;
}

static int attach_secrets(struct store *st, const char *path, char *err,
			  size_t errlen)
{
	char spath[4096];
	sqlite3_stmt *s;
	mode_t old;
	int rc;

	store_secrets_path(path, spath, sizeof(spath));
	old = umask(077);
	rc = sqlite3_prepare_v2(st->db, "ATTACH DATABASE ? AS secrets", -1, &s,
				NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, spath, -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(s);
	}
	umask(old);
	if (rc != SQLITE_OK || chmod(spath, 0600) < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", spath,
			 sqlite3_errmsg(st->db));
		return -EIO;
	}
	st->secrets = true;
	/* a deleted or replaced value is overwritten, not left in a free
	 * page of the file */
	if (exec(st, "PRAGMA secrets.secure_delete = ON", err, errlen) < 0)
		return -EIO;
	return migrate(st, "secrets", secret_migrations,
		       (int)(sizeof(secret_migrations) / sizeof(*secret_migrations)),
		       err, errlen);
}

int store_open(struct store *st, const char *path, bool with_secrets,
	       char *err, size_t errlen)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX;

	memset(st, 0, sizeof(*st));
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "out of memory");
		store_close(st);
		return -EIO;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* a new database gives the pages it frees back to the file system
	 * (store_release: max_size); it can be set before the first table
	 * and before WAL only, and does nothing to an older database */
	if (exec(st, "PRAGMA auto_vacuum = INCREMENTAL;", err, errlen) < 0 ||
	    exec(st, "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;"
		     "PRAGMA synchronous = NORMAL;", err, errlen) < 0 ||
	    migrate(st, "main", main_migrations,
		    (int)(sizeof(main_migrations) / sizeof(*main_migrations)),
		    err, errlen) < 0 ||
	    (with_secrets && attach_secrets(st, path, err, errlen) < 0)) {
		store_close(st);
		return -EIO;
	}
	return 0;
}

void store_patience(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms);
}

void store_close(struct store *st)
{
	if (st->db)
		sqlite3_close_v2(st->db);
	st->db = NULL;
}

int store_error(struct store *st, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", sqlite3_db_filename(st->db, "main"),
		 sqlite3_errmsg(st->db));
	return -EIO;
}

int store_rows_end(struct store *st, int step, char *err, size_t errlen)
{
	return step == SQLITE_DONE ? 0 : store_error(st, err, errlen);
}

sqlite3_stmt *store_prep(struct store *st, const char *sql, char *err,
			 size_t errlen)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		store_error(st, err, errlen);
	return s;
}

int store_run(struct store *st, sqlite3_stmt *s, char *err, size_t errlen)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : store_error(st, err, errlen);
}


/* The outermost savepoint takes the write lock at once (BEGIN IMMEDIATE):
 * a deferred transaction that read first could not upgrade after another
 * connection (the audit writer) committed, and would fail without waiting. */
int store_savepoint(struct store *st, const char *name, char *err,
		    size_t errlen)
{
	char sql[96];

	if (st->depth == 0 && exec(st, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -EIO;
	snprintf(sql, sizeof(sql), "SAVEPOINT %s", name);
	if (exec(st, sql, err, errlen) < 0) {
		if (st->depth == 0)
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	st->depth++;
	return 0;
}

int store_end(struct store *st, const char *name, int rc, char *err,
	      size_t errlen)
{
	char sql[96];

	st->depth--;
	if (rc == 0) {
		snprintf(sql, sizeof(sql), "RELEASE %s", name);
		rc = exec(st, sql, err, errlen);
	}
	if (rc < 0) {
		snprintf(sql, sizeof(sql), "ROLLBACK TO %s; RELEASE %s", name,
			 name);
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	if (st->depth == 0) {
		if (rc == 0)
			rc = exec(st, "COMMIT", err, errlen);
		if (rc < 0)
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}
