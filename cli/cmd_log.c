/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log: the flows audit (or with --dns the DNS queries), read from SQLite
 * directly (the daemon may be down), one line per row: why was this
 * blocked? */
#include <ctype.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "domain.h"
#include "wire.h"

struct log_opts {
	const char *sandbox, *since, *until, *verdict;
	struct domain_pattern domain;
	bool have_domain, follow, dns, requests;
	long limit;
};

/* A row's text columns from..from+n, each made safe to print: they hold
 * what sandboxes sent (SNI, DNS names and answers). */
static void columns(sqlite3_stmt *s, int from, int n, char **col)
{
	for (int i = 0; i < n; i++) {
		const char *t = (const char *)sqlite3_column_text(s, from + i);

		col[i] = t ? wire_dup(t) : NULL;
	}
}

static void columns_free(char **col, int n)
{
	for (int i = 0; i < n; i++)
		free(col[i]);
}

static void print_row(sqlite3_stmt *s)
{
	char *col[11];

	columns(s, 1, 11, col);
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s?, "
				      "s:s, s:s, s:s?, s:i}",
				      "time", col[0], "sandbox", col[1],
				      "src", col[2], "dst", col[4],
				      "dport", sqlite3_column_int(s, 6),
				      "proto", col[6], "sni", col[7],
				      "verdict", col[8], "reason", col[9],
				      "rule", col[10],
				      "sport", sqlite3_column_int(s, 4));
		print_json(o);
		json_decref(o);
	} else {
		printf("%s  %s  %s%s%s:%s/%s  %s  %s  %s%s%s\n", col[0], col[1],
		       strchr(col[4], ':') ? "[" : "", col[4],
		       strchr(col[4], ':') ? "]" : "", col[5], col[6],
		       col[7] ? col[7] : "-", col[8], col[9],
		       col[10] ? "  rule " : "", col[10] ? col[10] : "");
	}
	columns_free(col, 11);
}

static void print_dns_row(sqlite3_stmt *s)
{
	char *col[7];

	columns(s, 1, 7, col);
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?}",
				      "time", col[0], "sandbox", col[1],
				      "name", col[2], "type", col[3],
				      "verdict", col[4], "reason", col[5],
				      "answers", col[6]);
		print_json(o);
		json_decref(o);
	} else {
		printf("%s  %s  %s %s  %s  %s%s%s\n", col[0], col[1], col[3],
		       col[2], col[4], col[5], col[6] ? "  " : "",
		       col[6] ? col[6] : "");
	}
	columns_free(col, 7);
}

/* time sandbox host method path status injected error */
static void print_request_row(sqlite3_stmt *s)
{
	char *col[9];

	columns(s, 1, 9, col);
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:i, s:s?, "
				      "s:s?, s:s}",
				      "time", col[0], "sandbox", col[1],
				      "host", col[2], "method", col[3],
				      "path", col[4],
				      "status", sqlite3_column_int(s, 6),
				      "injected", col[6], "error", col[7],
				      "verdict", col[8]);
		print_json(o);
		json_decref(o);
	} else {
		printf("%s  %s  %s %s%s  %s  %s%s%s%s\n", col[0], col[1],
		       col[3] ? col[3] : "-", col[2], col[4] ? col[4] : "",
		       col[5], col[6] && *col[6] ? "injected " : "",
		       col[6] && *col[6] ? col[6] : "", col[7] ? "  " : "",
		       col[7] ? col[7] : "");
	}
	columns_free(col, 9);
}

static bool domain_ok(const struct log_opts *o, sqlite3_stmt *s)
{
	const char *name = (const char *)sqlite3_column_text(
		s, o->dns || o->requests ? 3 : 8);
	uint16_t port = o->dns ? o->domain.port : o->requests ? 443 :
			(uint16_t)sqlite3_column_int(s, 6);

	return !o->have_domain ||
	       (name && domain_pattern_match(&o->domain, name, port));
}

#define COLUMNS "id, time, sandbox, src, sport, dst, dport, proto, sni, " \
		"verdict, reason, rule FROM flows"
#define DNS_COLUMNS "id, time, sandbox, name, type, verdict, reason, " \
		    "answers FROM dns_queries"
/* a request the broker answered itself (an error) counts as denied */
#define REQUEST_COLUMNS "id, time, sandbox, host, method, path, status, " \
			"injected, error, CASE WHEN error IS NULL THEN " \
			"'allow' ELSE 'deny' END AS verdict FROM requests"

/* Rows after `after', in order; returns the last id printed. */
static sqlite3_int64 query(sqlite3 *db, const struct log_opts *o,
			   sqlite3_int64 after, bool limit, int *rc)
{
	char sql[1024], since[64] = "", until[64] = "";
	bool rel_since = false, rel_until = false;
	sqlite3_stmt *s;
	sqlite3_int64 last = after;
	long skip = 0;

	if (o->since)
		audit_time_arg(o->since, since, sizeof(since), &rel_since);
	if (o->until)
		audit_time_arg(o->until, until, sizeof(until), &rel_until);
	snprintf(sql, sizeof(sql),
		 "SELECT * FROM (SELECT %s WHERE id > ?1"
		 " AND (?2 IS NULL OR sandbox = ?2)"
		 " AND (?3 IS NULL OR verdict = ?3)"
		 " AND (?4 IS NULL OR time >= %s)"
		 " AND (?5 IS NULL OR time <= %s)"
		 " ORDER BY id DESC LIMIT ?6) ORDER BY id",
		 o->dns ? DNS_COLUMNS : o->requests ? REQUEST_COLUMNS :
		 COLUMNS, rel_since ? "strftime('%Y-%m-%d %H:%M:%f', 'now', ?4)" :
			     "strftime('%Y-%m-%d %H:%M:%f', ?4)",
		 rel_until ? "strftime('%Y-%m-%d %H:%M:%f', 'now', ?5)" :
			     "strftime('%Y-%m-%d %H:%M:%f', ?5)");
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "sbxfw: log: %s\n", sqlite3_errmsg(db));
		*rc = 1;
		return last;
	}
	sqlite3_bind_int64(s, 1, after);
	if (o->sandbox)
		sqlite3_bind_text(s, 2, o->sandbox, -1, SQLITE_STATIC);
	if (o->verdict)
		sqlite3_bind_text(s, 3, o->verdict, -1, SQLITE_STATIC);
	if (o->since)
		sqlite3_bind_text(s, 4, since, -1, SQLITE_STATIC);
	if (o->until)
		sqlite3_bind_text(s, 5, until, -1, SQLITE_STATIC);
	/* --domain filters after the query: with a pattern, a first pass
	 * counts the matches so that the limit keeps the last ones */
	sqlite3_bind_int64(s, 6, limit && o->limit > 0 && !o->have_domain ?
			   o->limit : -1);
	if (limit && o->limit > 0 && o->have_domain) {
		while (sqlite3_step(s) == SQLITE_ROW)
			skip += domain_ok(o, s);
		skip = skip > o->limit ? skip - o->limit : 0;
		sqlite3_reset(s);
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		last = sqlite3_column_int64(s, 0);
		if (!domain_ok(o, s) || (skip && skip--))
			continue;
		if (o->dns)
			print_dns_row(s);
		else if (o->requests)
			print_request_row(s);
		else
			print_row(s);
	}
	sqlite3_finalize(s);
	fflush(stdout);
	return last;
}

/* --follow: the file was removed (or replaced) under us. */
static int db_gone(sqlite3 *db)
{
	static struct stat first;
	const char *path = sqlite3_db_filename(db, "main");
	struct stat st;

	if (stat(path, &st) < 0 || (first.st_ino &&
				    (st.st_ino != first.st_ino ||
				     st.st_dev != first.st_dev))) {
		fprintf(stderr, "sbxfw: %s: the database is gone\n", path);
		return 1;
	}
	first = st;
	return 0;
}

int log_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "verdict", required_argument, NULL, 'v' },
		{ "domain", required_argument, NULL, 'd' },
		{ "limit", required_argument, NULL, 'l' },
		{ "follow", no_argument, NULL, 'f' },
		{ "dns", no_argument, NULL, 'D' },
		{ "requests", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct log_opts o = { 0 };
	sqlite3 *db = NULL;
	sqlite3_int64 last;
	char err[512], *end;
	int c, rc = 0;

	/* -n N: --limit, as journalctl -n and git log -n */
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.since = optarg; break;
		case 'u': o.until = optarg; break;
		case 'v': o.verdict = optarg; break;
		case 'f': o.follow = true; break;
		case 'D': o.dns = true; break;
		case 'r': o.requests = true; break;
		case 'd':
			if (domain_pattern_parse(optarg, &o.domain, err,
						 sizeof(err)) < 0) {
				fprintf(stderr, "sbxfw: %s\n", err);
				return 1;
			}
			o.have_domain = true;
			break;
		case 'l':
		case 'n':
			o.limit = strtol(optarg, &end, 10);
			if (*end || o.limit < 1) {
				fprintf(stderr, "sbxfw: invalid --limit `%s'\n",
					optarg);
				return 1;
			}
			break;
		default:
			return cli_usage_error("log");
		}
	}
	if (argc - optind > 1 || (o.dns && o.requests))
		return cli_usage_error("log");
	o.sandbox = optind < argc ? argv[optind] : NULL;
	if (o.verdict && strcmp(o.verdict, "allow") &&
	    strcmp(o.verdict, "deny")) {
		fprintf(stderr, "sbxfw: invalid --verdict `%s' (allow or "
			"deny)\n", o.verdict);
		rc = 1;
		goto out;
	}
	if (audit_db_open(&db) < 0 ||
	    (o.since && audit_time_check(db, "--since", o.since) < 0) ||
	    (o.until && audit_time_check(db, "--until", o.until) < 0)) {
		rc = 1;
		goto out;
	}
	last = query(db, &o, 0, true, &rc);
	while (o.follow && rc == 0 && !(rc = db_gone(db))) {
		usleep(200000);
		last = query(db, &o, last, false, &rc);
	}
out:
	domain_pattern_clear(&o.domain);
	sqlite3_close(db);
	return rc;
}
