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

#include "audit_cols.h"
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

/* A row's columns are audit_cols.h's: col[FLOWS_TIME] its time. A flow
 * opened towards the sandbox is shown by its other end ("from"). */
static void print_row(sqlite3_stmt *s)
{
	char *col[FLOWS_NCOLUMNS + 1];
	bool in;
	int end, port;

	columns(s, 1, FLOWS_NCOLUMNS, col + 1);
	in = !strcmp(col[FLOWS_DIRECTION], "in");
	end = in ? FLOWS_SRC : FLOWS_DST;
	port = in ? FLOWS_SPORT : FLOWS_DPORT;
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s?, "
				      "s:s, s:s, s:s?, s:i, s:s}",
				      "time", col[FLOWS_TIME],
				      "sandbox", col[FLOWS_SANDBOX],
				      "src", col[FLOWS_SRC],
				      "dst", col[FLOWS_DST],
				      "dport",
				      sqlite3_column_int(s, FLOWS_DPORT),
				      "proto", col[FLOWS_PROTO],
				      "sni", col[FLOWS_SNI],
				      "verdict", col[FLOWS_VERDICT],
				      "reason", col[FLOWS_REASON],
				      "rule", col[FLOWS_RULE],
				      "sport",
				      sqlite3_column_int(s, FLOWS_SPORT),
				      "direction", col[FLOWS_DIRECTION]);
		print_json(o);
		json_decref(o);
	} else {
		printf("%s  %s  %s%s%s%s:%s/%s  %s  %s  %s%s%s\n",
		       col[FLOWS_TIME], col[FLOWS_SANDBOX], in ? "from " : "",
		       strchr(col[end], ':') ? "[" : "", col[end],
		       strchr(col[end], ':') ? "]" : "",
		       col[port], col[FLOWS_PROTO],
		       col[FLOWS_SNI] ? col[FLOWS_SNI] : "-",
		       col[FLOWS_VERDICT], col[FLOWS_REASON],
		       col[FLOWS_RULE] ? "  rule " : "",
		       col[FLOWS_RULE] ? col[FLOWS_RULE] : "");
	}
	columns_free(col + 1, FLOWS_NCOLUMNS);
}

static void print_dns_row(sqlite3_stmt *s)
{
	char *col[DNS_QUERIES_NCOLUMNS + 1];

	columns(s, 1, DNS_QUERIES_NCOLUMNS, col + 1);
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?}",
				      "time", col[DNS_QUERIES_TIME],
				      "sandbox", col[DNS_QUERIES_SANDBOX],
				      "name", col[DNS_QUERIES_NAME],
				      "type", col[DNS_QUERIES_TYPE],
				      "verdict", col[DNS_QUERIES_VERDICT],
				      "reason", col[DNS_QUERIES_REASON],
				      "answers", col[DNS_QUERIES_ANSWERS]);
		print_json(o);
		json_decref(o);
	} else {
		printf("%s  %s  %s %s  %s  %s%s%s\n", col[DNS_QUERIES_TIME],
		       col[DNS_QUERIES_SANDBOX], col[DNS_QUERIES_TYPE],
		       col[DNS_QUERIES_NAME], col[DNS_QUERIES_VERDICT],
		       col[DNS_QUERIES_REASON],
		       col[DNS_QUERIES_ANSWERS] ? "  " : "",
		       col[DNS_QUERIES_ANSWERS] ? col[DNS_QUERIES_ANSWERS] :
		       "");
	}
	columns_free(col + 1, DNS_QUERIES_NCOLUMNS);
}

/* The requests' columns, then the verdict REQUEST_COLUMNS makes. */
#define REQUESTS_VERDICT (REQUESTS_NCOLUMNS + 1)

static void print_request_row(sqlite3_stmt *s)
{
	char *col[REQUESTS_VERDICT + 1];

	columns(s, 1, REQUESTS_VERDICT, col + 1);
	if (cli_opts.json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:i, s:s?, "
				      "s:s?, s:s}",
				      "time", col[REQUESTS_TIME],
				      "sandbox", col[REQUESTS_SANDBOX],
				      "host", col[REQUESTS_HOST],
				      "method", col[REQUESTS_METHOD],
				      "path", col[REQUESTS_PATH],
				      "status",
				      sqlite3_column_int(s, REQUESTS_STATUS),
				      "injected", col[REQUESTS_INJECTED],
				      "error", col[REQUESTS_ERROR],
				      "verdict", col[REQUESTS_VERDICT]);
		print_json(o);
		json_decref(o);
	} else {
		printf("%s  %s  %s %s%s  %s  %s%s%s%s\n", col[REQUESTS_TIME],
		       col[REQUESTS_SANDBOX],
		       col[REQUESTS_METHOD] ? col[REQUESTS_METHOD] : "-",
		       col[REQUESTS_HOST],
		       col[REQUESTS_PATH] ? col[REQUESTS_PATH] : "",
		       col[REQUESTS_STATUS],
		       col[REQUESTS_INJECTED] && *col[REQUESTS_INJECTED] ?
		       "injected " : "",
		       col[REQUESTS_INJECTED] && *col[REQUESTS_INJECTED] ?
		       col[REQUESTS_INJECTED] : "",
		       col[REQUESTS_ERROR] ? "  " : "",
		       col[REQUESTS_ERROR] ? col[REQUESTS_ERROR] : "");
	}
	columns_free(col + 1, REQUESTS_VERDICT);
}

static bool domain_ok(const struct log_opts *o, sqlite3_stmt *s)
{
	const char *name = (const char *)sqlite3_column_text(
		s, o->dns ? DNS_QUERIES_NAME : o->requests ? REQUESTS_HOST :
		FLOWS_SNI);
	uint16_t port = o->dns ? o->domain.port : o->requests ? 443 :
			(uint16_t)sqlite3_column_int(s, FLOWS_DPORT);

	return !o->have_domain ||
	       (name && domain_pattern_match(&o->domain, name, port));
}

#define COLUMNS "id, " FLOWS_COLUMNS " FROM flows"
#define DNS_COLUMNS "id, " DNS_QUERIES_COLUMNS " FROM dns_queries"
/* a request the broker answered itself (an error) counts as denied */
#define REQUEST_COLUMNS "id, " REQUESTS_COLUMNS ", CASE WHEN error IS " \
			"NULL THEN 'allow' ELSE 'deny' END AS verdict FROM " \
			"requests"

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
