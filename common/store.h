/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_STORE_H
#define SBXFW_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define STORE_SCHEMA_VERSION 7
/* The time now in SQL, in the form of the audit's times (STORE_TIME_LEN). */
#define STORE_NOW "strftime('%Y-%m-%d %H:%M:%f','now')"

/* The SQLite store: policies (the source of truth) and the audit log in one
 * database, group-readable; injected header values in a second one beside
 * it, readable by root only, attached as `secrets`. */
struct store {
	sqlite3 *db;
	bool secrets;		/* the secrets database is attached */
	int depth;		/* savepoints open */
};

/* Open (creating if needed) and migrate. with_secrets attaches the
 * secrets database (root only). err names the file and the problem. */
int store_open(struct store *st, const char *path, bool with_secrets,
	       char *err, size_t errlen);
void store_close(struct store *st);
/* How long a statement waits for another process's lock before it
 * fails with "database is locked" (5 s from store_open). */
void store_patience(struct store *st, int ms);
/* Writes "<database file>: <SQLite's message>" to err; returns -EIO. */
int store_error(struct store *st, char *err, size_t errlen);
/* The end of a loop over a statement's rows: 0 at SQLITE_DONE, else the
 * error that ended it (a damaged page reads as SQLITE_CORRUPT: never as
 * fewer rows, so never as fewer sandboxes or rules). */
int store_rows_end(struct store *st, int step, char *err, size_t errlen);
/* The secrets database that goes with a main database path. */
void store_secrets_path(const char *path, char *out, size_t outlen);
int store_schema_version(struct store *st);
/* The integer a pragma of a schema ("main", "secrets") answers; -1 on
 * error. */
int64_t store_pragma(struct store *st, const char *schema, const char *name);

/* Savepoints: a transaction of their own, or part of the caller's.
 * store_end releases it when rc is 0, else rolls it back; returns rc, or
 * the error of the release. */
int store_savepoint(struct store *st, const char *name, char *err,
		    size_t errlen);
int store_end(struct store *st, const char *name, int rc, char *err,
	      size_t errlen);
/* The one prepared statement helper: NULL with err set on failure. */
sqlite3_stmt *store_prep(struct store *st, const char *sql, char *err,
			 size_t errlen);
/* Step a statement that returns no rows, and finalize it. */
int store_run(struct store *st, sqlite3_stmt *s, char *err, size_t errlen);

/* How a sandbox's traffic is recognised: ingress interfaces (`*' at the
 * end for a prefix) and/or source address ranges. */
struct sandbox_match {
	char **ifaces;
	size_t nifaces;
	struct cidr *sources;
	size_t nsources;
};

void sandbox_match_clear(struct sandbox_match *m);

/* Sandboxes (store_sandbox.c) and their policies (store_policy.c). */
int64_t store_sandbox_id(struct store *st, const char *name);
int store_sandbox_add(struct store *st, const char *name, int64_t *id,
		      char *err, size_t errlen);
/* Replace the whole policy of a sandbox, in one transaction. */
int store_policy_save(struct store *st, int64_t sandbox,
		      const struct policy *p, char *err, size_t errlen);
struct policy *store_policy_load(struct store *st, int64_t sandbox, char *err,
				 size_t errlen);

/* A list's rules of one kind, STORE_CHUNK_RULES a row (store_chunk.c):
 * built by chunk_add and written whole. */
#define STORE_CHUNK_RULES 256
struct store_chunk {
	char *text;
	size_t len, cap, n;
};
int chunk_add(struct store_chunk *c, const char *v, char *err, size_t errlen);
const char *chunk_end(struct store_chunk *c);
void chunk_reset(struct store_chunk *c);
void chunk_free(struct store_chunk *c);
int chunk_write(struct store *st, int64_t sb, enum rule_list l,
		const char *kind, int64_t index, struct store_chunk *c,
		char *err, size_t errlen);

/* Injection rules of a sandbox (store_inject.c): saved inside the
 * caller's transaction; loaded with values "<redacted>" when the secrets
 * database is not attached. */
int store_inject_save(struct store *st, int64_t sb, const struct policy *p,
		      char *err, size_t errlen);
int store_inject_load(struct store *st, int64_t sb, struct policy *p,
		      char *err, size_t errlen);

/* A sandbox with its match and policy, in one transaction (store_sandbox.c).
 * -EEXIST when the name is taken. */
int store_sandbox_create(struct store *st, const char *name,
			 const struct sandbox_match *m, const struct policy *p,
			 int64_t *id, char *err, size_t errlen);
/* Replace a sandbox's match, inside the caller's transaction. */
int store_sandbox_match_save(struct store *st, int64_t id,
			     const struct sandbox_match *m, char *err,
			     size_t errlen);
/* The policy file a sandbox was made from (NULL: made by a command). */
int store_sandbox_file_set(struct store *st, int64_t id, const char *file,
			   char *err, size_t errlen);
int store_sandbox_file(struct store *st, int64_t id, char **file, char *err,
		       size_t errlen);
int store_sandbox_match_load(struct store *st, int64_t id,
			     struct sandbox_match *m, char *err,
			     size_t errlen);
/* Delete a sandbox, its rules and its secrets. -ENOENT if unknown. */
int store_sandbox_delete(struct store *st, int64_t id, char *err,
			 size_t errlen);
/* Calls fn for each sandbox, by id. */
int store_sandbox_each(struct store *st,
		       int (*fn)(int64_t id, const char *name, void *arg),
		       void *arg, char *err, size_t errlen);

/* The audit tables' writers (store_audit.c), their columns as
 * audit_cols.h orders them. One row of the flows audit table. */
struct flow_record {
	char time[32];
	char sandbox[64];
	int family;		/* 4 or 6 */
	const char *proto;	/* "tcp", "udp", ... */
	char src[50], dst[50];
	uint16_t sport, dport;
	char sni[256];		/* "" for none */
	bool allow;
	const char *reason;	/* a static string */
	char rule[DOMAIN_PATTERN_MAX + 1];	/* "" for none */
	bool inbound;		/* opened towards the sandbox: src is the
				 * other end */
	bool name_only;		/* no row: the sni of the latest row on
				 * these ends, which has none yet */
};

/* Insert records in one transaction, in their order: a name_only one
 * names the row written last on its ends, ended or not (a port used
 * again: the next flow's row comes after it). */
int store_flows_insert(struct store *st, const struct flow_record *r,
		       size_t n, char *err, size_t errlen);

/* A flow that ended: its ends (as in its row) and what it carried. */
struct flow_end {
	char time[32];
	char since[32];		/* its row is no older; "": unknown */
	char sandbox[64];
	const char *proto;
	char src[50], dst[50];
	uint16_t sport, dport;
	uint64_t bytes_out, bytes_in;
	uint64_t read_ns;	/* when it was read (CLOCK_MONOTONIC) */
};

/* In one transaction, each end fills bytes_out, bytes_in and end_time of
 * its flow's row: the oldest still open on these ends since `since' (a
 * port used again: the flow before ends as the new one begins, the new
 * one's row written just after), else the latest open one. */
int store_flows_end(struct store *st, const struct flow_end *e, size_t n,
		    char *err, size_t errlen);

/* A row of dns_queries. */
struct dns_record {
	char time[32];
	char sandbox[64];
	char name[256];
	char type[12];
	bool allow;
	const char *reason;	/* a static string */
	char answers[512];	/* "" for none */
};

int store_dns_insert(struct store *st, const struct dns_record *r, size_t n,
		     char *err, size_t errlen);

/* A request the broker passed on with injected headers (their names,
 * never their values), or answered itself (error). */
struct request_record {
	char time[32];
	char sandbox[64];
	char host[256];
	char method[24];	/* "" for none */
	char path[512];
	int status;
	char injected[256];
	char error[160];
};

int store_requests_insert(struct store *st, const struct request_record *r,
			  size_t n, char *err, size_t errlen);

/* One change at a time, inside the caller's savepoint (store_change.c):
 * the mode, a rule added (text normalised, as the policy holds it) or
 * removed from both lists; and the policy_changes row (never a secret,
 * store_audit.c). */
int store_mode_set(struct store *st, int64_t sb, enum policy_mode mode,
		   char *err, size_t errlen);
int store_rule_insert(struct store *st, int64_t sb, enum rule_list l,
		      const char *text, char *err, size_t errlen);
int store_rule_delete(struct store *st, int64_t sb, const char *text,
		      char *err, size_t errlen);
/* n rules removed from both lists, in one pass when they are many */
int store_rules_delete(struct store *st, int64_t sb, const char *const *texts,
		       size_t n, char *err, size_t errlen);
int store_change_log(struct store *st, const char *sandbox, unsigned uid,
		     const char *change, char *err, size_t errlen);

/* Flows (or DNS queries) audited, counted by sandbox, verdict and reason
 * (all sandboxes when sandbox is NULL; store_audit.c). */
int store_audit_counts(struct store *st, bool dns, const char *sandbox,
		       void (*fn)(const char *sandbox, const char *verdict,
				  const char *reason, int64_t n, void *arg),
		       void *arg, char *err, size_t errlen);

/* Current time as the audit tables hold it: UTC "YYYY-MM-DD HH:MM:SS.SSS",
 * the form of SQLite's strftime('%Y-%m-%d %H:%M:%f'); `days' ago; and
 * a time given in ns of CLOCK_REALTIME. */
#define STORE_TIME_LEN 32
void store_time_now(char out[STORE_TIME_LEN]);
void store_time_ago(unsigned days, char out[STORE_TIME_LEN]);
void store_time_at(uint64_t ns, char out[STORE_TIME_LEN]);

/* The audit's bounds (store_audit.c). One transaction deleting the
 * oldest rows of flows, dns_queries, requests and policy_changes, at most
 * `batch' a table: those older than `before' (retention), or with
 * before NULL the oldest across the tables (max_size). *deleted: how
 * many; 0 when none is left to delete. */
int store_audit_delete(struct store *st, const char *before, unsigned batch,
		       uint64_t *deleted, char *err, size_t errlen);

/* The main database's pages: those in use (its size, as max_size bounds
 * it) and the free ones SQLite keeps for reuse, in bytes. */
struct store_size {
	uint64_t used, free, page;
	bool releasable;	/* auto_vacuum = incremental: store_release */
};

int store_size(struct store *st, struct store_size *sz, char *err,
	       size_t errlen);
/* Give up to `pages' free pages back to the file system (the file
 * shrinks; a database made with auto_vacuum = incremental only). */
int store_release(struct store *st, uint64_t pages, char *err,
		  size_t errlen);
/* This connection checkpoints the WAL every `bytes' and cuts the WAL
 * file back to that size after a checkpoint. */
int store_wal_bound(struct store *st, uint64_t bytes, char *err,
		    size_t errlen);

#endif
