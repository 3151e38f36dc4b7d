/* SPDX-License-Identifier: GPL-2.0-or-later */
/* suggest NAME: the sandbox's audit (allowed flows, allowed DNS answers)
 * into the smallest policy that allows the same again (common/suggest.c
 * decides); --apply sets it as `policy --set' does, after a diff. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "cli.h"
#include "suggest.h"
#include "wire.h"
#include "xalloc.h"

struct window {
	const char *since, *until;
};

struct rows {
	struct sg_name *names;
	size_t nnames;
	struct sg_addr *addrs;
	size_t naddrs;
	struct sg_dns *dns;
	size_t ndns;
	char **injections;		/* the injection rules' domains */
	size_t ninjections;
	struct sg_request *requests;
	size_t nrequests;
	json_t *deny, *deny_ranges;	/* kept from the current policy */
	sqlite3 *db;
};

/* A statement over one sandbox's rows in the window: ?1 the sandbox,
 * ?2 since, ?3 until. */
static sqlite3_stmt *windowed(sqlite3 *db, const char *select,
			      const char *rest, const struct window *w)
{
	char since[64] = "", until[64] = "", sql[1024];
	bool rs = false, ru = false;
	sqlite3_stmt *s;

	if (w->since)
		audit_time_arg(w->since, since, sizeof(since), &rs);
	if (w->until)
		audit_time_arg(w->until, until, sizeof(until), &ru);
	snprintf(sql, sizeof(sql), "%s WHERE sandbox = ?1"
		 " AND (?2 IS NULL OR time >= strftime('%%Y-%%m-%%d %%H:%%M:%%f'%s, ?2))"
		 " AND (?3 IS NULL OR time <= strftime('%%Y-%%m-%%d %%H:%%M:%%f'%s, ?3))"
		 " %s", select, rs ? ", 'now'" : "", ru ? ", 'now'" : "", rest);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "sbxfw: suggest: %s\n", sqlite3_errmsg(db));
		return NULL;
	}
	if (w->since)
		sqlite3_bind_text(s, 2, since, -1, SQLITE_TRANSIENT);
	if (w->until)
		sqlite3_bind_text(s, 3, until, -1, SQLITE_TRANSIENT);
	return s;
}

static char *col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return xstrdup(t ? (const char *)t : "");
}

/* A column made safe to print and to put in JSON (wire.h). */
static char *wire_col(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return wire_dup(t ? (const char *)t : "");
}

/* Allowed flows out of the sandbox (not those opened towards it, whose
 * dst is the sandbox's own address; not DNS, which its own rows say):
 * named ones by name, port and protocol (QUIC's named by their
 * Initials), the others by destination. */
static int read_flows(struct rows *r, const char *name,
		      const struct window *w)
{
	sqlite3_stmt *s = windowed(r->db, "SELECT lower(sni), dport, proto, "
				   "dst, count(*) FROM flows",
				   "AND verdict = 'allow' AND direction = "
				   "'out' AND dport != 53 GROUP BY 1, 2, 3, "
				   "CASE WHEN sni IS NULL THEN dst END", w);

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		uint16_t port = (uint16_t)sqlite3_column_int(s, 1);
		long n = sqlite3_column_int64(s, 4);
		struct cidr c;
		char *dst;

		if (sqlite3_column_type(s, 0) != SQLITE_NULL) {
			r->names = xreallocarray(r->names, r->nnames + 1,
						 sizeof(*r->names));
			r->names[r->nnames++] = (struct sg_name){
				col(s, 0), port, n, wire_col(s, 2) };
			continue;
		}
		dst = col(s, 3);
		if (addr_parse(dst, &c) == 0) {
			r->addrs = xreallocarray(r->addrs, r->naddrs + 1,
						 sizeof(*r->addrs));
			r->addrs[r->naddrs] = (struct sg_addr){
				.family = c.family, .port = port,
				.proto = wire_col(s, 2), .flows = n };
			memcpy(r->addrs[r->naddrs++].addr, c.addr, 16);
		}
		free(dst);
	}
	sqlite3_finalize(s);
	return 0;
}

static int read_dns(struct rows *r, const char *name, const struct window *w)
{
	sqlite3_stmt *s = windowed(r->db, "SELECT lower(name), "
				   "group_concat(answers, ', ') FROM "
				   "dns_queries", "AND verdict = 'allow' "
				   "GROUP BY 1", w);

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		r->dns = xreallocarray(r->dns, r->ndns + 1, sizeof(*r->dns));
		r->dns[r->ndns++] = (struct sg_dns){ col(s, 0), col(s, 1) };
	}
	sqlite3_finalize(s);
	return 0;
}

/* What the broker's requests table holds of the window, by host: the
 * hosts of injection domains. */
static int read_requests(struct rows *r, const char *name,
			 const struct window *w)
{
	sqlite3_stmt *s = windowed(r->db, "SELECT lower(host), count(*) FROM "
				   "requests", "GROUP BY 1", w);

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		r->requests = xreallocarray(r->requests, r->nrequests + 1,
					    sizeof(*r->requests));
		r->requests[r->nrequests++] = (struct sg_request){
			col(s, 0), (long)sqlite3_column_int64(s, 1) };
	}
	sqlite3_finalize(s);
	return 0;
}

/* The sandbox's injection rules: kept, as --apply keeps them. */
static int read_injections(struct rows *r, const char *name)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(r->db, "SELECT domain FROM injection_rules "
			       "JOIN sandboxes ON sandboxes.id = sandbox_id "
			       "WHERE name = ? ORDER BY position", -1, &s,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "sbxfw: suggest: %s\n", sqlite3_errmsg(r->db));
		return -1;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		r->injections = xreallocarray(r->injections,
					      r->ninjections + 1,
					      sizeof(*r->injections));
		r->injections[r->ninjections++] = col(s, 0);
	}
	sqlite3_finalize(s);
	return 0;
}

/* The sandbox's denied rules as they are: kept. -1 when there is no
 * such sandbox. */
static int read_denied(struct rows *r, const char *name)
{
	sqlite3_stmt *s;
	bool found;

	if (sqlite3_prepare_v2(r->db, "SELECT id FROM sandboxes WHERE name = ?",
			       -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (!found) {
		fprintf(stderr, "sbxfw: no sandbox named `%s'\n", name);
		return -1;
	}
	if (sqlite3_prepare_v2(r->db, "SELECT kind, value FROM policy_rules "
			       "JOIN sandboxes ON sandboxes.id = sandbox_id "
			       "WHERE name = ? AND list = 'deny' ORDER BY "
			       "position", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);

		json_array_append_new(strcmp(kind, "cidr") ? r->deny :
				      r->deny_ranges, json_string(v));
	}
	sqlite3_finalize(s);
	return 0;
fail:
	fprintf(stderr, "sbxfw: suggest: %s\n", sqlite3_errmsg(r->db));
	return -1;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->nnames; i++) {
		free((char *)r->names[i].name);
		free((char *)r->names[i].proto);
	}
	for (size_t i = 0; i < r->ninjections; i++)
		free(r->injections[i]);
	for (size_t i = 0; i < r->nrequests; i++)
		free((char *)r->requests[i].host);
	free(r->injections);
	free(r->requests);
	for (size_t i = 0; i < r->naddrs; i++)
		free((char *)r->addrs[i].proto);
	for (size_t i = 0; i < r->ndns; i++) {
		free((char *)r->dns[i].name);
		free((char *)r->dns[i].answers);
	}
	free(r->names);
	free(r->addrs);
	free(r->dns);
	json_decref(r->deny);
	json_decref(r->deny_ranges);
	sqlite3_close(r->db);
}

/* ---- the policy ---- */

static json_t *strings(char **v, size_t n, bool escape)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		char *t = escape ? wire_dup(v[i]) : v[i];

		json_array_append_new(a, json_string(t));
		if (escape)
			free(t);
	}
	return a;
}

/* TLS flows without a name, by destination: no rule of theirs unless
 * --ranges-for-unnamed. */
static json_t *unnamed_of(const struct suggestion *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->nunnamed; i++) {
		const struct sg_unnamed *u = &s->unnamed[i];
		char addr[CIDR_TEXT_MAX];

		addr_format(u->family, u->addr, addr);
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:i, s:I, s:b}", "address", addr, "proto",
			u->proto, "port", (int)u->port, "flows",
			(json_int_t)u->flows, "in_range", u->in_range));
	}
	return a;
}

static json_t *kept_of(const struct suggestion *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->nkept; i++) {
		const struct sg_kept *k = &s->kept[i];

		json_array_append_new(a, json_pack(
			"{s:s, s:I, s:I, s:I}", "domain", k->domain, "names",
			(json_int_t)k->names, "flows", (json_int_t)k->flows,
			"requests", (json_int_t)k->requests));
	}
	return a;
}

static json_t *policy_of(const struct suggestion *s, const struct rows *r)
{
	json_t *allow = json_array(), *ranges = json_array();
	json_t *why = json_array();

	for (size_t i = 0; i < s->nrule; i++) {
		const struct sg_rule *x = &s->rule[i];

		json_array_append_new(x->range ? ranges : allow,
				      json_string(x->text));
		json_array_append_new(why, json_pack(
			"{s:s, s:I, s:I, s:s}", "rule", x->text,
			x->range ? "addresses" : "names", (json_int_t)x->names,
			"flows", (json_int_t)x->flows, "note", x->note));
	}
	return json_pack("{s:s, s:o, s:O, s:{s:o, s:O}, "
			 "s:{s:o, s:o, s:o, s:o, s:o}}",
			 "mode", "user-defined", "allow", allow, "deny",
			 r->deny, "subnets", "allow", ranges, "deny",
			 r->deny_ranges, "comment", "rules", why,
			 "resolved_not_connected",
			 strings(s->unconnected, s->nunconnected, false),
			 "unusable_names",
			 strings(s->unusable, s->nunusable, true),
			 "unnamed_tls", unnamed_of(s), "injections",
			 kept_of(s));
}

static const char *plural(long n, const char *many)
{
	return n == 1 ? "" : many;
}

/* "inject api.test — kept; 1 name, 2 flows, 3 requests through the
 * broker": its flows need no allow rule, the injection rule takes them. */
static void kept_line(const char *lead, const struct sg_kept *k)
{
	if (!k->flows && !k->requests) {
		printf("%sinject %s — kept; not used in that window\n", lead,
		       k->domain);
		return;
	}
	printf("%sinject %s — kept; %ld name%s, %ld flow%s, %ld request%s "
	       "through the broker\n", lead, k->domain, k->names,
	       plural(k->names, "s"), k->flows, plural(k->flows, "s"),
	       k->requests, plural(k->requests, "s"));
}

static void unnamed_lines(const struct suggestion *s, bool ranges)
{
	if (!s->nunnamed)
		return;
	if (ranges)
		printf("TLS without a name, allowed as ranges "
		       "(--ranges-for-unnamed):\n");
	else
		printf("left out, TLS without a name (a range would allow "
		       "every name and every port at its address; "
		       "--ranges-for-unnamed allows it all the same):\n");
	for (size_t i = 0; i < s->nunnamed; i++) {
		const struct sg_unnamed *u = &s->unnamed[i];
		char addr[CIDR_TEXT_MAX];

		addr_format(u->family, u->addr, addr);
		printf("  %s %s/%u, %ld flow%s%s\n", addr, u->proto, u->port,
		       u->flows, plural(u->flows, "s"), !ranges && u->in_range ?
		       "; in a range all the same, for its other flows" : "");
	}
}

static void explain(const struct suggestion *s, const struct rows *r,
		    const char *name, bool ranges)
{
	size_t i;

	printf("suggested policy for %s (user-defined):\n", name);
	for (i = 0; i < s->nrule; i++) {
		const struct sg_rule *x = &s->rule[i];

		printf("  allow %s — %ld %s%s, %ld flow%s%s%s\n", x->text,
		       x->names, x->range ? "address" : "name",
		       plural(x->names, x->range ? "es" : "s"), x->flows,
		       plural(x->flows, "s"), *x->note ? "; " : "", x->note);
	}
	for (i = 0; i < s->nkept; i++)
		kept_line("  ", &s->kept[i]);
	if (!s->nrule && !s->nkept)
		printf("  nothing was allowed in that window\n");
	for (i = 0; i < json_array_size(r->deny); i++)
		printf("  deny %s — kept\n",
		       json_string_value(json_array_get(r->deny, i)));
	for (i = 0; i < json_array_size(r->deny_ranges); i++)
		printf("  deny %s — kept\n",
		       json_string_value(json_array_get(r->deny_ranges, i)));
	if (s->nunconnected)
		printf("left out, resolved but never connected to:");
	for (i = 0; i < s->nunconnected; i++)
		printf(" %s%s", s->unconnected[i],
		       i + 1 == s->nunconnected ? "\n" : "");
	for (i = 0; i < s->nunusable; i++) {
		char *t = wire_dup(s->unusable[i]);

		printf("left out, not a host name: %s\n", t);
		free(t);
	}
	unnamed_lines(s, ranges);
}

/* ---- --apply ---- */

static bool in_array(json_t *a, const char *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(a, i, x)
		if (!strcmp(json_string_value(x) ?: "", v))
			return true;
	return false;
}

/* What the suggestion says of a rule it makes ("" for none). */
static const char *note_of(const struct suggestion *s, const char *rule)
{
	for (size_t i = 0; s && i < s->nrule; i++)
		if (!strcmp(s->rule[i].text, rule))
			return s->rule[i].note;
	return "";
}

/* "- allow a" for what goes, "+ allow b" for what comes, and why when
 * the suggestion says (s; NULL: it says nothing). */
static void diff_list(json_t *was, json_t *is, const char *what,
		      const struct suggestion *s)
{
	size_t i;
	json_t *x;

	json_array_foreach(was, i, x)
		if (!in_array(is, json_string_value(x)))
			printf("- %s %s\n", what, json_string_value(x));
	json_array_foreach(is, i, x) {
		const char *v = json_string_value(x), *note = note_of(s, v);

		if (!in_array(was, v))
			printf("+ %s %s%s%s\n", what, v, *note ? " — " : "",
			       note);
	}
}

static json_t *at(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);

	return b ? json_object_get(v, b) : v;
}

static int apply(const char *name, json_t *policy,
		 const struct suggestion *s, bool json)
{
	json_t *cur = ctl_request(json_pack("{s:s, s:s}", "command", "policy",
					    "name", name));
	json_t *was, *set;
	const char *mode;

	if (!cur)
		return 1;
	was = json_object_get(cur, "policy");
	mode = json_string_value(json_object_get(was, "mode")) ?: "?";
	if (json)
		goto set;
	printf("changes to %s:\n", name);
	if (strcmp(mode, "user-defined"))
		printf("- mode %s\n+ mode user-defined\n", mode);
	diff_list(at(was, "allow", NULL), at(policy, "allow", NULL),
		  "allow", s);
	diff_list(at(was, "deny", NULL), at(policy, "deny", NULL), "deny",
		  NULL);
	diff_list(at(was, "subnets", "allow"), at(policy, "subnets", "allow"),
		  "allow", s);
	diff_list(at(was, "subnets", "deny"), at(policy, "subnets", "deny"),
		  "deny", NULL);
	for (size_t i = 0; i < s->nkept; i++)
		kept_line("  ", &s->kept[i]);
set:
	json_decref(cur);
	set = json_deep_copy(policy);
	json_object_del(set, "comment");
	/* its injection rules stay as they are, secrets included */
	return policy_replace(name, set, true, json);
}

/* ---- options ---- */

static int number(const char *opt, const char *in, unsigned lo, unsigned hi,
		  unsigned *out, char **rest)
{
	char *end;
	long v = strtol(in, &end, 10);

	if (end == in || v < lo || v > hi || (!rest && *end) ||
	    (rest && *end && *end != ',')) {
		fprintf(stderr, "sbxfw: invalid %s `%s' (%u to %u)\n", opt, in,
			lo, hi);
		return -1;
	}
	*out = (unsigned)v;
	if (rest)
		*rest = *end ? end + 1 : NULL;
	return 0;
}

static int max_prefix(const char *in, struct sg_opts *o)
{
	char *six;

	if (number("--max-prefix", in, 8, 32, &o->max_prefix4, &six) < 0)
		return -1;
	if (six)
		return number("--max-prefix", six, 32, 128, &o->max_prefix6,
			      NULL);
	return 0;
}

int suggest_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "wildcard-threshold", required_argument, NULL, 'w' },
		{ "max-prefix", required_argument, NULL, 'p' },
		{ "apply", no_argument, NULL, 'a' },
		{ "ranges-for-unnamed", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct sg_opts o = { 5, 32, 128, NULL, false };
	struct window w = { 0 };
	struct rows r = { .deny = json_array(), .deny_ranges = json_array() };
	struct suggestion s = { 0 };
	bool do_apply = false, json = cli_opts.json;
	json_t *policy = NULL;
	char err[512];
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': w.since = optarg; break;
		case 'u': w.until = optarg; break;
		case 'a': do_apply = true; break;
		case 'r': o.ranges_for_unnamed = true; break;
		case 'j': json = true; break;
		case 'w':
			if (number("--wildcard-threshold", optarg, 2,
				   SUGGEST_THRESHOLD_MAX,
				   &o.wildcard_threshold, NULL) < 0)
				goto out;
			break;
		case 'p':
			if (max_prefix(optarg, &o) < 0)
				goto out;
			break;
		default:
			rc = cli_usage_error("suggest");
			goto out;
		}
	}
	if (argc - optind != 1) {
		rc = cli_usage_error("suggest");
		goto out;
	}
	if (audit_db_open(&r.db) < 0 ||
	    (w.since && audit_time_check(r.db, "--since", w.since) < 0) ||
	    (w.until && audit_time_check(r.db, "--until", w.until) < 0) ||
	    read_denied(&r, argv[optind]) < 0 ||
	    read_flows(&r, argv[optind], &w) < 0 ||
	    read_dns(&r, argv[optind], &w) < 0 ||
	    read_requests(&r, argv[optind], &w) < 0 ||
	    read_injections(&r, argv[optind]) < 0)
		goto out;
	if (!(o.psl = psl_load(PSL_PATH, err, sizeof(err))))
		fprintf(stderr, "sbxfw: %s: no wildcards suggested (install "
			"publicsuffix)\n", err);
	suggest_build(&(struct sg_input){
			      r.names, r.nnames, r.addrs, r.naddrs, r.dns,
			      r.ndns, (const char *const *)r.injections,
			      r.ninjections, r.requests, r.nrequests },
		      &o, &s);
	if (!(policy = policy_of(&s, &r))) {
		fprintf(stderr, "sbxfw: suggest: the policy cannot be "
			"written as JSON\n");
		goto out;
	}
	if (json) {
		rc = print_json(policy) < 0;
	} else {
		char *text = json_dumps(policy, JSON_INDENT(2));

		explain(&s, &r, argv[optind], o.ranges_for_unnamed);
		printf("%s\n", text);
		free(text);
		rc = 0;
	}
	if (rc == 0 && do_apply) {
		fflush(stdout);
		rc = apply(argv[optind], policy, &s, json);
	}
out:
	json_decref(policy);
	suggestion_free(&s);
	psl_free((struct psl *)o.psl);
	rows_free(&r);
	return rc;
}
