/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit database as `log' and `suggest' read it: directly, read only
 * (the daemon may be down), with times as the user gives them. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "store.h"

/* "10m", "2h", "3d", "30s": an SQLite modifier; else an absolute time. */
int audit_time_arg(const char *in, char *out, size_t len, bool *relative)
{
	static const char *const units[] = { "s", "seconds", "m", "minutes",
					     "h", "hours", "d", "days" };
	char *end;
	long n = strtol(in, &end, 10);

	*relative = false;
	if (end != in && n >= 0 && *end) {
		for (size_t i = 0; i < 8; i += 2)
			if (!strcmp(end, units[i])) {
				snprintf(out, len, "-%ld %s", n, units[i + 1]);
				*relative = true;
				return 0;
			}
	}
	snprintf(out, len, "%s", in);
	return 0;
}

/* The columns this sbxfw reads came with its schema; an older one is
 * brought up to date by sbxfwd when it opens it (migrations append, so
 * a newer one has them too). */
static int schema_check(sqlite3 *db, const char *path)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) ==
	    SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (v >= STORE_SCHEMA_VERSION)
		return 0;
	fprintf(stderr, "sbxfw: %s: audit schema %d, older than this sbxfw's "
		"(%d): start sbxfwd once to bring it up to date\n", path, v,
		STORE_SCHEMA_VERSION);
	return -1;
}

int audit_db_open(sqlite3 **db)
{
	struct sbxfw_config c;

	if (cli_config(&c) < 0)
		return -1;
	if (sqlite3_open_v2(c.database, db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "sbxfw: %s: %s\n", c.database,
			sqlite3_errmsg(*db));
		goto fail;
	}
	sqlite3_busy_timeout(*db, 2000);
	if (schema_check(*db, c.database) == 0)
		return 0;
fail:
	sqlite3_close(*db);
	*db = NULL;	/* the caller closes it again */
	return -1;
}

int audit_time_check(sqlite3 *db, const char *opt, const char *in)
{
	char buf[64], sql[160];
	bool rel;
	sqlite3_stmt *s;
	int ok;

	audit_time_arg(in, buf, sizeof(buf), &rel);
	snprintf(sql, sizeof(sql), rel ? "SELECT datetime('now', ?)" :
				      "SELECT datetime(?)");
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, buf, -1, SQLITE_STATIC);
	ok = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) !=
					       SQLITE_NULL;
	sqlite3_finalize(s);
	if (!ok)
		fprintf(stderr, "sbxfw: invalid time `%s' for %s (10m, 2h, "
			"3d or YYYY-MM-DD[ HH:MM[:SS]])\n", in, opt);
	return ok ? 0 : -1;
}

