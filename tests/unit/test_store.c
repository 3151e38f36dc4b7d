/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_json.h"
#include "store.h"
#include "test.h"

static char dir[64];

static const char *db_path(void)
{
	static char p[128];

	snprintf(dir, sizeof(dir), "/tmp/sbxfw-store-XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	snprintf(p, sizeof(p), "%s/sbxfw.db", dir);
	return p;
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return;
}

static int count_rows(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	int n = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

TEST(test_store_schema_v2_with_wal)
{
	const char *path = db_path();
	struct store st;
	char err[256], spath[256];
	struct stat sb;

	CHECK(store_open(&st, path, true, err, sizeof(err)) == 0);
	CHECK(store_schema_version(&st) == STORE_SCHEMA_VERSION);
	CHECK(count_rows(&st, "SELECT count(*) FROM sqlite_master WHERE name "
			      "IN ('sandboxes','sandbox_match','policy_rules',"
			      "'injection_rules','flows','dns_queries',"
			      "'policy_changes')") == 7);
	CHECK(count_rows(&st, "SELECT count(*) FROM pragma_journal_mode "
			      "WHERE journal_mode = 'wal'") == 1);
	store_close(&st);
	store_secrets_path(path, spath, sizeof(spath));
	CHECK(stat(spath, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	/* opening again migrates nothing and keeps the version */
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_schema_version(&st) == STORE_SCHEMA_VERSION);
	store_close(&st);
	cleanup();
}

TEST(test_store_refuses_a_newer_schema)
{
	const char *path = db_path();
	struct store st;
	char err[256];

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	sqlite3_exec(st.db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	store_close(&st);
	CHECK(store_open(&st, path, false, err, sizeof(err)) < 0);
	CHECK(strstr(err, "newer") != NULL && strstr(err, "sbxfw.db"));
	cleanup();
}

TEST(test_store_policy_round_trip)
{
	const char *path = db_path();
	struct store st;
	struct policy *p = policy_new(MODE_USER_DEFINED), *q;
	char err[256];
	int64_t id;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) < 0);
	CHECK(strstr(err, "`sb1' already exists") != NULL);
	policy_add_rule(p, LIST_ALLOW, "*.github.com", err, sizeof(err));
	policy_add_rule(p, LIST_ALLOW, "db.example.com:5432", err, sizeof(err));
	policy_add_rule(p, LIST_ALLOW, "2001:db8::/32", err, sizeof(err));
	policy_add_rule(p, LIST_DENY, "gist.github.com", err, sizeof(err));
	policy_add_rule(p, LIST_DENY, "169.254.0.0/16", err, sizeof(err));
	CHECK(store_policy_save(&st, id, p, err, sizeof(err)) == 0);
	CHECK(store_sandbox_id(&st, "sb1") == id);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q != NULL);
	CHECK(q->mode == MODE_USER_DEFINED);
	CHECK(q->ndomains[LIST_ALLOW] == 2 && q->ncidrs[LIST_ALLOW] == 1);
	CHECK(q->ndomains[LIST_DENY] == 1 && q->ncidrs[LIST_DENY] == 1);
	CHECK(!strcmp(q->domains[LIST_ALLOW][1].text, "db.example.com:5432"));
	policy_free(q);
	/* replacing is whole: the old rules go */
	policy_free(p);
	p = policy_new(MODE_DENY_ALL);
	CHECK(store_policy_save(&st, id, p, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_rules") == 0);
	policy_free(p);
	store_close(&st);
	cleanup();
}

/* Rules added and removed one at a time cross chunks (256 rules a row)
 * and keep their order; the view shows them a row each. */
TEST(test_store_rules_one_at_a_time_cross_chunks_in_order)
{
	const char *path = db_path();
	struct store st;
	struct policy *q;
	char err[256], v[64];
	int64_t id;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) == 0);
	for (int i = 0; i < 600; i++) {
		snprintf(v, sizeof(v), "d%d.example.com", i);
		CHECK(store_rule_insert(&st, id, LIST_ALLOW, v, err,
					sizeof(err)) == 0);
	}
	CHECK(store_rule_insert(&st, id, LIST_DENY, "10.0.0.0/8", err,
				sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_chunks WHERE "
			      "list = 'allow'") == 3);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_rules") == 601);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_rules WHERE kind "
			      "= 'cidr' AND list = 'deny' AND value = "
			      "'10.0.0.0/8'") == 1);
	/* d0 .. d255 fill the first chunk: removing them empties it */
	for (int i = 0; i < 256; i++) {
		snprintf(v, sizeof(v), "d%d.example.com", i);
		CHECK(store_rule_delete(&st, id, v, err, sizeof(err)) == 0);
	}
	CHECK(store_rule_delete(&st, id, "d300.example.com", err,
				sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_chunks WHERE "
			      "list = 'allow'") == 2);
	/* "d30.example.com" is gone, "d300..." was a longer name */
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_rules WHERE value "
			      "= 'd301.example.com'") == 1);
	CHECK(store_rule_insert(&st, id, LIST_ALLOW, "d0.example.com", err,
				sizeof(err)) == 0);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q && q->ndomains[LIST_ALLOW] == 344 && q->ncidrs[LIST_DENY] == 1);
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][0].text, "d256.example.com"));
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][44].text, "d301.example.com"));
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][343].text, "d0.example.com"));
	policy_free(q);
	CHECK(count_rows(&st, "SELECT count(*) FROM (SELECT value, position, "
			      "lag(position) OVER (ORDER BY position) AS p "
			      "FROM policy_rules WHERE list = 'allow') WHERE "
			      "p >= position") == 0);
	store_close(&st);
	cleanup();
}

/* Many rules out at once: one pass, from both lists, the order kept. */
TEST(test_store_rules_deleted_many_at_once)
{
	const char *path = db_path();
	struct store st;
	struct policy *q;
	char err[256], v[600][32];
	const char *gone[300];
	int64_t id;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) == 0);
	for (int i = 0; i < 600; i++) {
		snprintf(v[i], sizeof(v[i]), "d%d.example.com", i);
		CHECK(store_rule_insert(&st, id, LIST_ALLOW, v[i], err,
					sizeof(err)) == 0);
		if (i % 2)
			gone[i / 2] = v[i];
	}
	CHECK(store_rule_insert(&st, id, LIST_DENY, "d1.example.com", err,
				sizeof(err)) == 0);
	CHECK(store_rule_insert(&st, id, LIST_DENY, "10.0.0.0/8", err,
				sizeof(err)) == 0);
	CHECK(store_rules_delete(&st, id, gone, 300, err, sizeof(err)) == 0);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q && q->ndomains[LIST_ALLOW] == 300 && q->ndomains[LIST_DENY] == 0);
	CHECK(q && q->ncidrs[LIST_DENY] == 1);
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][0].text, "d0.example.com"));
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][299].text, "d598.example.com"));
	policy_free(q);
	/* every rule of the last chunk gone: the chunk goes */
	for (int i = 0; i < 300; i++)
		gone[i] = v[2 * i];
	CHECK(store_rules_delete(&st, id, gone, 300, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_chunks") == 1);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_rules") == 1);
	store_close(&st);
	cleanup();
}

/* A database of schema 6 (a rule a row) keeps its rules and their order
 * in chunks. */
TEST(test_store_rules_of_schema_6_are_migrated)
{
	const char *path = db_path();
	struct store st;
	struct policy *q;
	char err[256];
	int64_t id;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) == 0);
	CHECK(sqlite3_exec(st.db, "DROP VIEW policy_rules; DROP TABLE "
			   "policy_chunks; CREATE TABLE policy_rules (sandbox_id"
			   " INTEGER, list TEXT, kind TEXT, value TEXT, position"
			   " INTEGER); WITH RECURSIVE n(i) AS (SELECT 0 UNION "
			   "ALL SELECT i + 1 FROM n WHERE i < 299) INSERT INTO "
			   "policy_rules SELECT 1, 'allow', 'domain', 'd' || i "
			   "|| '.example.com', 1000 - i FROM n; INSERT INTO "
			   "policy_rules VALUES (1, 'deny', 'cidr', "
			   "'10.0.0.0/8', 0); PRAGMA user_version = 6", NULL,
			   NULL, NULL) == SQLITE_OK);
	store_close(&st);
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_schema_version(&st) == STORE_SCHEMA_VERSION);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q && q->ndomains[LIST_ALLOW] == 300 && q->ncidrs[LIST_DENY] == 1);
	/* position order: the highest i first */
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][0].text, "d299.example.com"));
	CHECK(q && !strcmp(q->domains[LIST_ALLOW][299].text, "d0.example.com"));
	policy_free(q);
	CHECK(count_rows(&st, "SELECT count(*) FROM policy_chunks") == 3);
	store_close(&st);
	cleanup();
}

TEST(test_store_reuses_the_lowest_free_sandbox_id)
{
	const char *path = db_path();
	struct store st;
	char err[256];
	int64_t a, b, c, d;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "a", &a, err, sizeof(err)) == 0 && a == 1);
	CHECK(store_sandbox_add(&st, "b", &b, err, sizeof(err)) == 0 && b == 2);
	CHECK(store_sandbox_add(&st, "c", &c, err, sizeof(err)) == 0 && c == 3);
	CHECK(store_sandbox_delete(&st, b, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "d", &d, err, sizeof(err)) == 0 && d == 2);
	CHECK(store_sandbox_delete(&st, a, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "e", &d, err, sizeof(err)) == 0 && d == 1);
	CHECK(store_sandbox_add(&st, "f", &d, err, sizeof(err)) == 0 && d == 4);
	store_close(&st);
	cleanup();
}

TEST(test_store_time_sorts_with_sqlite_time)
{
	const char *path = db_path();
	struct store st;
	char err[256], now[STORE_TIME_LEN], sql[256];

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	store_time_now(now);
	CHECK(strlen(now) == 23 && now[10] == ' ');
	snprintf(sql, sizeof(sql),
		 "SELECT '%s' > datetime('now', '-1 minute') AND "
		 "'%s' <= strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')", now, now);
	CHECK(count_rows(&st, sql) == 1);
	store_close(&st);
	cleanup();
}

/* the second's text kept from one call to the next, the milliseconds
 * not, and a second earlier made again */
TEST(test_store_time_at_gives_each_instant_its_own_text)
{
	char t[STORE_TIME_LEN];

	store_time_at(1700000000123456789ull, t);
	CHECK(!strcmp(t, "2023-11-14 22:13:20.123"));
	store_time_at(1700000000999000000ull, t);
	CHECK(!strcmp(t, "2023-11-14 22:13:20.999"));
	store_time_at(1700000001007000000ull, t);
	CHECK(!strcmp(t, "2023-11-14 22:13:21.007"));
	store_time_at(1699999999000000000ull, t);
	CHECK(!strcmp(t, "2023-11-14 22:13:19.000"));
	store_time_at(0, t);
	CHECK(!strcmp(t, "1970-01-01 00:00:00.000"));
}

TEST(test_store_injection_values_live_in_the_secrets_database)
{
	static const char json[] =
		"{\"inject\": [{\"domain\": \"api.github.com\", \"headers\": "
		"{\"Authorization\": \"Bearer s3cr3t\", \"X-Org\": \"o\"}, "
		"\"match\": {\"method\": \"GET\", \"path_regex\": \"^/v[0-9]/\","
		" \"headers\": {\"Accept\": \"application/json\"}}}]}";
	const char *path = db_path();
	struct store st;
	struct policy *p, *q;
	char err[256], cmd[512];
	int64_t id;

	p = policy_from_json(json, sizeof(json) - 1, err, sizeof(err));
	CHECK(p != NULL);
	CHECK(store_open(&st, path, true, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) == 0);
	CHECK(store_policy_save(&st, id, p, err, sizeof(err)) == 0);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q && q->ninject == 1 && q->inject[0].nset == 2);
	CHECK(!strcmp(q->inject[0].set[0].value, "Bearer s3cr3t"));
	CHECK(q->inject[0].path_kind == PATH_REGEX && q->inject[0].nmatch == 1);
	CHECK(!strcmp(q->inject[0].method, "GET"));
	policy_free(q);
	store_close(&st);
	/* the main database never holds the value */
	snprintf(cmd, sizeof(cmd), "grep -q s3cr3t %s %s-wal 2>/dev/null",
		 path, path);
	CHECK(system(cmd) != 0);
	/* without the secrets database: rules, not values; no saving */
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q && q->ninject == 1);
	CHECK(!strcmp(q->inject[0].set[0].value, "<redacted>"));
	CHECK(store_policy_save(&st, id, p, err, sizeof(err)) == -EPERM);
	policy_free(q);
	policy_free(p);
	store_close(&st);
	cleanup();
}

TEST(test_store_prunes_audit_rows_past_retention)
{
	struct store st;
	struct flow_record r = { .family = 4, .proto = "tcp", .allow = true,
				 .reason = "domain-allowed" };
	char err[256], path[] = "/tmp/sbxfw-prune-XXXXXX";
	char before[STORE_TIME_LEN];
	int fd = mkstemp(path);
	sqlite3_stmt *s;
	uint64_t n;

	CHECK(fd >= 0);
	close(fd);
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	snprintf(r.time, sizeof(r.time), "2000-01-01 00:00:00.000");
	CHECK(store_flows_insert(&st, &r, 1, err, sizeof(err)) == 0);
	store_time_now(r.time);
	CHECK(store_flows_insert(&st, &r, 1, err, sizeof(err)) == 0);
	store_time_ago(30, before);
	CHECK(store_audit_delete(&st, before, 500, &n, err, sizeof(err)) == 0);
	CHECK(n == 1);
	sqlite3_prepare_v2(st.db, "SELECT count(*) FROM flows", -1, &s, NULL);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK(sqlite3_column_int(s, 0) == 1);	/* the old one is gone */
	sqlite3_finalize(s);
	store_close(&st);
	unlink(path);
}

/* A flows row of sb1 from 198.18.0.2:sport to 198.18.2.2:443 at `time'
 * (or now); name_only: the name of the latest such row instead. */
static struct flow_record flow_at(uint16_t sport, const char *time,
				  const char *sni, bool name_only)
{
	struct flow_record r = { .family = 4, .proto = "tcp", .allow = true,
				 .reason = "mode-allow-all", .sport = sport,
				 .dport = 443, .name_only = name_only };

	snprintf(r.sandbox, sizeof(r.sandbox), "sb1");
	snprintf(r.src, sizeof(r.src), "198.18.0.2");
	snprintf(r.dst, sizeof(r.dst), "198.18.2.2");
	snprintf(r.sni, sizeof(r.sni), "%s", sni ? sni : "");
	if (time)
		snprintf(r.time, sizeof(r.time), "%s", time);
	else
		store_time_now(r.time);
	return r;
}

static struct flow_end end_of(const struct flow_record *r, const char *since,
			      uint64_t bytes)
{
	struct flow_end e = { .proto = "tcp", .sport = r->sport,
			      .dport = r->dport, .bytes_out = bytes,
			      .bytes_in = bytes * 2 };

	memcpy(e.sandbox, r->sandbox, sizeof(e.sandbox));
	memcpy(e.src, r->src, sizeof(e.src));
	memcpy(e.dst, r->dst, sizeof(e.dst));
	snprintf(e.since, sizeof(e.since), "%s", since ? since : "");
	store_time_now(e.time);
	return e;
}

/* A new database in a file made for it (path: its template). */
static bool store_temp(struct store *st, char *path)
{
	char err[256];
	int fd = mkstemp(path);

	if (fd < 0)
		return false;
	close(fd);
	return store_open(st, path, false, err, sizeof(err)) == 0;
}

/* A flow named after its row was written (NFLOG), then ended: the name
 * fills a missing SNI only, the end its bytes, neither the other's. */
TEST(test_store_flow_named_then_ended)
{
	struct store st;
	struct flow_record r[] = {
		flow_at(40000, NULL, NULL, false),
		flow_at(40000, NULL, "a.example.test", true),
		flow_at(40000, NULL, "second.test", true),	/* ignored */
	};
	struct flow_end e = end_of(&r[0], NULL, 10);
	char err[256], path[] = "/tmp/sbxfw-named-XXXXXX";

	CHECK(store_temp(&st, path));
	CHECK(store_flows_insert(&st, r, 3, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows") == 1);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows WHERE sni = "
			 "'a.example.test' AND end_time IS NULL AND "
			 "bytes_out IS NULL") == 1);
	CHECK(store_flows_end(&st, &e, 1, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows WHERE sni = "
			 "'a.example.test' AND end_time IS NOT NULL AND "
			 "bytes_out = 10 AND bytes_in = 20") == 1);
	store_close(&st);
	unlink(path);
}

/* A port used again while the rows wait for the writer: each name goes
 * to its own flow's row, whatever the batch holds after it, and a name
 * that comes once its flow has ended still reaches its row. */
TEST(test_store_a_name_never_goes_to_the_next_flow_on_its_ends)
{
	struct store st;
	struct flow_record r[] = {
		flow_at(47000, "2030-01-01 00:00:00.100", NULL, false),
		flow_at(47000, NULL, "first.test", true),
		flow_at(47000, "2030-01-01 00:00:00.140", NULL, false),
		flow_at(47000, NULL, "second.test", true),
		flow_at(47000, "2030-01-01 00:00:00.180", NULL, false),
	};
	struct flow_record late = flow_at(47000, NULL, "third.test", true);
	struct flow_end e = end_of(&r[4], "2030-01-01 00:00:00.179", 5);
	char err[256], path[] = "/tmp/sbxfw-reuse-XXXXXX";

	CHECK(store_temp(&st, path));
	CHECK(store_flows_insert(&st, r, 5, err, sizeof(err)) == 0);
	CHECK(store_flows_end(&st, &e, 1, err, sizeof(err)) == 0);
	CHECK(store_flows_insert(&st, &late, 1, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows WHERE "
			 "(time LIKE '%.100' AND sni = 'first.test') OR "
			 "(time LIKE '%.140' AND sni = 'second.test') OR "
			 "(time LIKE '%.180' AND sni = 'third.test' AND "
			 "bytes_out = 5)") == 3);
	store_close(&st);
	unlink(path);
}

/* Conntrack ends the entry of a flow in TIME_WAIT when a new flow on its
 * ends begins; its destroy event may be read after the new flow's row is
 * written. Each end goes to the flow that began when its entry did. */
TEST(test_store_an_end_goes_to_the_flow_its_entry_began_with)
{
	struct store st;
	struct flow_record r[] = {
		flow_at(47000, "2030-01-01 00:00:00.100", "first.test", false),
		flow_at(47000, "2030-01-01 00:00:00.140", "second.test", false),
	};
	struct flow_end e[] = {
		end_of(&r[0], "2030-01-01 00:00:00.099", 1),
		end_of(&r[1], "2030-01-01 00:00:00.139", 2),
		end_of(&r[1], NULL, 3),	/* no open row left: nothing */
	};
	char err[256], path[] = "/tmp/sbxfw-ends-XXXXXX";

	CHECK(store_temp(&st, path));
	CHECK(store_flows_insert(&st, r, 2, err, sizeof(err)) == 0);
	CHECK(store_flows_end(&st, e, 3, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows WHERE "
			 "(sni = 'first.test' AND bytes_out = 1) OR "
			 "(sni = 'second.test' AND bytes_out = 2)") == 2);
	/* an entry without a start (made before the stamps were on): the
	 * latest open row, as before */
	r[0] = flow_at(47001, NULL, "third.test", false);
	e[0] = end_of(&r[0], NULL, 4);
	CHECK(store_flows_insert(&st, r, 1, err, sizeof(err)) == 0);
	CHECK(store_flows_end(&st, e, 1, err, sizeof(err)) == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows WHERE sni = "
			 "'third.test' AND bytes_out = 4") == 1);
	store_close(&st);
	unlink(path);
}

/* ---- the audit's bounds (retention, max_size), and a damaged database
 * read as an error, never as fewer sandboxes or rules ---- */

/* n flows rows, the i-th at second `first + i * step' of 2030-01-01 */
static int flows_at(struct store *st, int n, int first, int step)
{
	struct flow_record r = { .family = 4, .proto = "tcp", .allow = true,
				 .reason = "domain-allowed" };
	char err[256];

	snprintf(r.sandbox, sizeof(r.sandbox), "sb1");
	snprintf(r.sni, sizeof(r.sni), "%0200d", 0);	/* ~300 bytes a row */
	for (int i = 0; i < n; i++) {
		int t = first + i * step;

		snprintf(r.time, sizeof(r.time), "2030-01-01 %02d:%02d:%02d.000",
			 t / 3600, t / 60 % 60, t % 60);
		r.sport = (uint16_t)i;
		if (store_flows_insert(st, &r, 1, err, sizeof(err)) < 0)
			return -1;
	}
	return 0;
}

static int dns_at(struct store *st, int n, int first, int step)
{
	struct dns_record r = { .allow = true, .reason = "domain-allowed" };
	char err[256];

	snprintf(r.sandbox, sizeof(r.sandbox), "sb1");
	snprintf(r.name, sizeof(r.name), "a.test");
	snprintf(r.type, sizeof(r.type), "A");
	for (int i = 0; i < n; i++) {
		int t = first + i * step;

		snprintf(r.time, sizeof(r.time), "2030-01-01 %02d:%02d:%02d.000",
			 t / 3600, t / 60 % 60, t % 60);
		if (store_dns_insert(st, &r, 1, err, sizeof(err)) < 0)
			return -1;
	}
	return 0;
}

TEST(test_size_bound_deletes_the_oldest_rows_across_tables_first)
{
	const char *path = db_path();
	struct store st;
	char err[256];
	uint64_t n;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	/* flows at even seconds 0..18, DNS at odd seconds 1..39 */
	CHECK(flows_at(&st, 10, 0, 2) == 0 && dns_at(&st, 20, 1, 2) == 0);
	/* a batch of 4 a table: up to the earliest 4th row (flows' 6 s) */
	CHECK(store_audit_delete(&st, NULL, 4, &n, err, sizeof(err)) == 0);
	CHECK(n == 7);	/* flows 0 2 4 6, DNS 1 3 5 */
	CHECK(count_rows(&st, "SELECT count(*) FROM flows WHERE time < "
		       "'2030-01-01 00:00:08'") == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM dns_queries WHERE time < "
		       "'2030-01-01 00:00:07'") == 0);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows") == 6);
	CHECK(count_rows(&st, "SELECT count(*) FROM dns_queries") == 17);
	/* now DNS's 4th row (13 s) is the earliest: never more than the
	 * batch from one table */
	CHECK(store_audit_delete(&st, NULL, 4, &n, err, sizeof(err)) == 0);
	CHECK(n == 7 && count_rows(&st, "SELECT count(*) FROM flows") == 3);
	CHECK(count_rows(&st, "SELECT count(*) FROM dns_queries") == 13);
	/* the newest rows go last, and then nothing is left */
	for (int i = 0; i < 10 && n; i++)
		CHECK(store_audit_delete(&st, NULL, 4, &n, err,
					 sizeof(err)) == 0);
	CHECK(n == 0 && count_rows(&st, "SELECT count(*) FROM dns_queries") == 0);
	store_close(&st);
	cleanup();
}

TEST(test_retention_deletes_in_batches_and_keeps_recent_rows)
{
	const char *path = db_path();
	struct store st;
	char err[256], before[STORE_TIME_LEN];
	struct flow_record r = { .family = 4, .proto = "tcp", .allow = true,
				 .reason = "domain-allowed" };
	uint64_t n, total = 0;
	int batches = 0;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(flows_at(&st, 1200, 0, 1) == 0);	/* 2030: not old */
	CHECK(sqlite3_exec(st.db, "UPDATE flows SET time = replace(time, "
			   "'2030', '2000')", NULL, NULL, NULL) == SQLITE_OK);
	store_time_now(r.time);
	snprintf(r.sandbox, sizeof(r.sandbox), "sb1");
	CHECK(store_flows_insert(&st, &r, 1, err, sizeof(err)) == 0);
	store_time_ago(30, before);
	CHECK(strncmp(before, r.time, 4) <= 0 && strlen(before) == 23);
	do {
		CHECK(store_audit_delete(&st, before, 500, &n, err,
					 sizeof(err)) == 0);
		CHECK(n <= 500);
		total += n;
	} while (n && ++batches < 10);
	CHECK(total == 1200 && batches == 3);
	CHECK(count_rows(&st, "SELECT count(*) FROM flows") == 1);
	store_close(&st);
	cleanup();
}

/* The size max_size bounds is the pages in use; a new database gives
 * freed pages back to the file system, an old one keeps them for reuse. */
TEST(test_size_is_pages_in_use_and_free_pages_are_given_back)
{
	const char *path = db_path();
	struct store st;
	struct store_size a, b, c;
	struct stat f1, f2;
	char err[256];
	uint64_t n;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_size(&st, &a, err, sizeof(err)) == 0);
	CHECK(a.releasable && a.page == 4096 && a.free == 0);
	CHECK(flows_at(&st, 3000, 0, 1) == 0);
	CHECK(store_size(&st, &b, err, sizeof(err)) == 0);
	CHECK(b.used > a.used + 3000 * 200);	/* ~300 bytes a row */
	do
		CHECK(store_audit_delete(&st, NULL, 500, &n, err,
					 sizeof(err)) == 0);
	while (n);
	CHECK(store_size(&st, &c, err, sizeof(err)) == 0);
	CHECK(c.used < a.used + 4 * 4096 && c.free > 3000 * 200);
	CHECK(sqlite3_wal_checkpoint_v2(st.db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
					NULL, NULL) == SQLITE_OK);
	CHECK(stat(path, &f1) == 0);
	CHECK(store_release(&st, c.free / c.page, err, sizeof(err)) == 0);
	CHECK(sqlite3_wal_checkpoint_v2(st.db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
					NULL, NULL) == SQLITE_OK);
	CHECK(stat(path, &f2) == 0);
	CHECK(store_size(&st, &b, err, sizeof(err)) == 0);
	CHECK(b.free == 0 && (uint64_t)f2.st_size + c.free <=
	      (uint64_t)f1.st_size);
	store_close(&st);
	cleanup();
}

TEST(test_a_database_made_before_auto_vacuum_keeps_its_free_pages)
{
	const char *path = db_path();
	struct store st;
	struct store_size sz;
	sqlite3 *db;
	char err[256];

	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA journal_mode = WAL; CREATE TABLE t(a)",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_size(&st, &sz, err, sizeof(err)) == 0 && !sz.releasable);
	CHECK(count_rows(&st, "PRAGMA auto_vacuum") == 0);
	store_close(&st);
	cleanup();
}

/* Overwrite the root page of a table with other bytes. */
static int damage(const char *path, const char *table)
{
	char sql[128];
	struct store st;
	char err[256], junk[4096];
	int64_t page;
	int fd, ok;

	if (store_open(&st, path, false, err, sizeof(err)) < 0)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT rootpage FROM sqlite_master WHERE "
		 "name = '%s'", table);
	page = count_rows(&st, sql);
	store_close(&st);	/* the last connection: checkpointed */
	memset(junk, 0x5a, sizeof(junk));
	if (page < 2 || (fd = open(path, O_WRONLY)) < 0)
		return -1;
	ok = pwrite(fd, junk, sizeof(junk), (page - 1) * 4096) ==
	     (ssize_t)sizeof(junk);
	close(fd);
	return ok ? 0 : -1;
}

static int count_sandbox(int64_t id, const char *name, void *arg)
{
	(void)id, (void)name;
	++*(int *)arg;
	return 0;
}

TEST(test_a_damaged_database_is_an_error_not_fewer_sandboxes_or_rules)
{
	const char *path = db_path();
	struct store st;
	struct policy *p = policy_new(MODE_USER_DEFINED), *q;
	struct sandbox_match m = { 0 };
	char err[256];
	int64_t id;
	int n = 0;

	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_add(&st, "sb1", &id, err, sizeof(err)) == 0);
	CHECK(policy_add_rule(p, LIST_DENY, "gist.github.com", err,
			      sizeof(err)) == 0);
	CHECK(store_policy_save(&st, id, p, err, sizeof(err)) == 0);
	policy_free(p);
	store_close(&st);
	CHECK(damage(path, "policy_chunks") == 0);
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	q = store_policy_load(&st, id, err, sizeof(err));
	CHECK(q == NULL && strstr(err, path));
	store_close(&st);
	CHECK(damage(path, "sandbox_match") == 0);
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_match_load(&st, id, &m, err, sizeof(err)) < 0);
	CHECK(strstr(err, path) && m.nifaces == 0);
	store_close(&st);
	CHECK(damage(path, "sandboxes") == 0);
	CHECK(store_open(&st, path, false, err, sizeof(err)) == 0);
	CHECK(store_sandbox_each(&st, count_sandbox, &n, err,
				 sizeof(err)) < 0);
	CHECK(strstr(err, path) && strstr(err, "malformed") && n == 0);
	store_close(&st);
	cleanup();
}
