/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_STORE_H
#define SBXFW_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define STORE_SCHEMA_VERSION 1

/* The SQLite store: policies (the source of truth) and the audit log in one
 * database, group-readable; injected header values in a second one beside
 * it, readable by root only, attached as `secrets`. */
struct store {
	sqlite3 *db;
	bool secrets;		/* the secrets database is attached */
};

/* Open (creating if needed) and migrate. with_secrets attaches the
 * secrets database (root only). err names the file and the problem. */
int store_open(struct store *st, const char *path, bool with_secrets,
	       char *err, size_t errlen);
void store_close(struct store *st);
/* Writes "store: <SQLite's message>" to err; returns -EIO. */
int store_error(struct store *st, char *err, size_t errlen);
/* The secrets database that goes with a main database path. */
void store_secrets_path(const char *path, char *out, size_t outlen);
int store_schema_version(struct store *st);

/* Sandboxes and their policies. */
int64_t store_sandbox_id(struct store *st, const char *name);
int store_sandbox_add(struct store *st, const char *name, int64_t *id,
		      char *err, size_t errlen);
/* Replace the whole policy of a sandbox, in one transaction. */
int store_policy_save(struct store *st, int64_t sandbox,
		      const struct policy *p, char *err, size_t errlen);
struct policy *store_policy_load(struct store *st, int64_t sandbox, char *err,
				 size_t errlen);

/* Injection rules of a sandbox (store_inject.c): saved inside the
 * caller's transaction; loaded with values "<redacted>" when the secrets
 * database is not attached. */
int store_inject_save(struct store *st, int64_t sb, const struct policy *p,
		      char *err, size_t errlen);
int store_inject_load(struct store *st, int64_t sb, struct policy *p,
		      char *err, size_t errlen);

/* Current time as the audit tables hold it: UTC "YYYY-MM-DD HH:MM:SS.SSS",
 * the form of SQLite's strftime('%Y-%m-%d %H:%M:%f'). */
#define STORE_TIME_LEN 32
void store_time_now(char out[STORE_TIME_LEN]);

#endif
