/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbxfw suggest: audit rows into the smallest policy (the public suffix
 * list is Debian's, as the command reads it). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "psl.h"
#include "suggest.h"
#include "test.h"

static struct psl *psl(void)
{
	char err[256];
	struct psl *l = psl_load(PSL_PATH, err, sizeof(err));

	if (!l)
		fprintf(stderr, "%s\n", err);
	return l;
}

static const struct sg_rule *find(const struct suggestion *s, const char *t)
{
	for (size_t i = 0; i < s->nrule; i++)
		if (!strcmp(s->rule[i].text, t))
			return &s->rule[i];
	return NULL;
}

static void build(const struct sg_name *n, size_t nn, const struct sg_addr *a,
		  size_t na, const struct sg_dns *d, size_t nd,
		  const struct psl *l, struct suggestion *s)
{
	struct sg_input in = { n, nn, a, na, d, nd };
	struct sg_opts o = { 5, 32, 128, l };

	suggest_build(&in, &o, s);
}

TEST(test_psl_knows_suffixes_wildcards_and_exceptions)
{
	struct psl *l = psl();

	CHECK(l);
	if (!l)
		return;
	CHECK(psl_is_suffix(l, "com"));
	CHECK(psl_is_suffix(l, "co.uk"));
	CHECK(psl_is_suffix(l, "test"));	/* the implicit "*" */
	CHECK(!psl_is_suffix(l, "github.com"));
	CHECK(!psl_is_suffix(l, "example.co.uk"));
	CHECK(psl_is_suffix(l, "foo.ck"));	/* *.ck */
	CHECK(!psl_is_suffix(l, "www.ck"));	/* !www.ck */
	CHECK(psl_is_suffix(l, "github.io"));	/* a private-section one */
	CHECK(psl_is_suffix(l, "xn--55qx5d.cn"));	/* 公司.cn, as A-label */
	psl_free(l);
}

TEST(test_suggest_collapses_five_siblings_and_keeps_the_apex)
{
	struct sg_name n[] = {
		{ "a.github.com", 443, 10 }, { "b.github.com", 443, 20 },
		{ "c.github.com", 443, 1 }, { "d.github.com", 443, 1 },
		{ "x.e.github.com", 443, 2 }, { "github.com", 443, 3 },
		{ "api.other.test", 443, 4 }, { "e.github.com", 443, 1 },
	};
	struct psl *l = psl();
	struct suggestion s;
	const struct sg_rule *r;

	build(n, 8, NULL, 0, NULL, 0, l, &s);
	/* a b c d e: five children of github.com; x.e, a grandchild, goes
	 * into the wildcard too */
	CHECK((r = find(&s, "*.github.com")) && r->names == 6 &&
	      r->flows == 35);
	CHECK(find(&s, "github.com"));	/* *. never matches the apex */
	CHECK(find(&s, "api.other.test"));
	CHECK(!find(&s, "a.github.com") && !find(&s, "x.e.github.com"));
	CHECK(s.nrule == 3);
	suggestion_free(&s);
	psl_free(l);
}

TEST(test_suggest_never_collapses_at_a_public_suffix)
{
	struct sg_name n[] = {
		{ "a.co.uk", 443, 1 }, { "b.co.uk", 443, 1 },
		{ "c.co.uk", 443, 1 }, { "d.co.uk", 443, 1 },
		{ "e.co.uk", 443, 1 }, { "f.co.uk", 443, 1 },
		{ "a.github.io", 443, 1 }, { "b.github.io", 443, 1 },
		{ "c.github.io", 443, 1 }, { "d.github.io", 443, 1 },
		{ "e.github.io", 443, 1 },
	};
	struct psl *l = psl();
	struct suggestion s;

	build(n, 11, NULL, 0, NULL, 0, l, &s);
	CHECK(!find(&s, "*.co.uk") && find(&s, "a.co.uk") && find(&s, "b.co.uk"));
	CHECK(!find(&s, "*.github.io"));	/* owners differ */
	CHECK(s.nrule == 11);
	suggestion_free(&s);
	psl_free(l);
}

TEST(test_suggest_below_threshold_ports_and_postgres_stay_exact)
{
	struct sg_name n[] = {
		{ "a.example.com", 443, 1 }, { "b.example.com", 443, 1 },
		{ "c.example.com", 443, 1 }, { "d.example.com", 443, 1 },
		{ "e.example.com", 8443, 1 }, { "db.example.com", 5432, 7 },
		{ "A.Example.COM.", 443, 2 },
	};
	struct psl *l = psl();
	struct suggestion s;
	const struct sg_rule *r;

	build(n, 7, NULL, 0, NULL, 0, l, &s);
	/* four on 443 (one name twice, in other case): under five */
	CHECK(!find(&s, "*.example.com"));
	CHECK((r = find(&s, "a.example.com")) && r->flows == 3);
	CHECK(find(&s, "e.example.com:8443"));
	CHECK((r = find(&s, "db.example.com:5432")) && r->flows == 7);
	CHECK(s.nrule == 6);
	suggestion_free(&s);
	psl_free(l);
}

TEST(test_suggest_hostile_names_never_become_rules)
{
	struct sg_name n[] = {
		{ "*.com", 443, 1 }, { "evil\x1b[31m.test", 443, 1 },
		{ "a b.test", 443, 1 }, { "ok.test", 443, 1 },
		{ "x.test:99", 443, 1 },
	};
	struct suggestion s;

	build(n, 5, NULL, 0, NULL, 0, NULL, &s);
	CHECK(s.nrule == 1 && find(&s, "ok.test"));
	CHECK(s.nunusable == 4);
	suggestion_free(&s);
}

static struct sg_addr v4(const char *a, uint16_t port, long flows)
{
	struct sg_addr x = { .family = AF_INET, .port = port,
			     .proto = "tcp", .flows = flows };

	inet_pton(AF_INET, a, x.addr);
	return x;
}

TEST(test_suggest_ranges_are_hosts_unless_a_prefix_is_allowed)
{
	struct sg_addr a[] = {
		v4("198.18.3.10", 80, 2), v4("198.18.3.10", 6379, 1),
		v4("198.18.3.77", 80, 1), v4("198.18.9.1", 80, 1),
	};
	struct sg_addr six = { .family = AF_INET6, .port = 80,
			       .proto = "tcp", .flows = 1 };
	struct sg_addr all[5];
	struct sg_input in = { NULL, 0, all, 5, NULL, 0 };
	struct sg_opts o = { 5, 32, 128, NULL };
	struct suggestion s;
	const struct sg_rule *r;

	inet_pton(AF_INET6, "2001:db8:3::10", six.addr);
	memcpy(all, a, sizeof(a));
	all[4] = six;
	suggest_build(&in, &o, &s);
	CHECK(s.nrule == 4);
	CHECK((r = find(&s, "198.18.3.10/32")) && r->flows == 3 &&
	      !strcmp(r->note, "tcp/80 tcp/6379"));
	CHECK(find(&s, "198.18.3.77/32") && find(&s, "198.18.9.1/32"));
	CHECK(find(&s, "2001:db8:3::10/128"));
	suggestion_free(&s);
	/* --max-prefix 24: the two in 198.18.3.0/24 as the smallest prefix
	 * that covers them, never wider than /24 */
	o.max_prefix4 = 24;
	suggest_build(&in, &o, &s);
	CHECK((r = find(&s, "198.18.3.0/25")) && r->names == 2 && r->flows == 4);
	CHECK(find(&s, "198.18.9.1/32"));
	suggestion_free(&s);
}

TEST(test_suggest_lists_names_resolved_but_never_used)
{
	struct sg_name n[] = { { "api.test", 443, 2 } };
	struct sg_addr a[] = { v4("198.18.3.10", 80, 1) };
	struct sg_dns d[] = {
		{ "api.test", "A 198.18.2.2" },
		{ "tracker.test", "A 198.18.2.9" },
		{ "plain.test", "CNAME x.test, A 198.18.3.10" },
		{ "near.test", "A 198.18.3.100" },	/* not .10 */
	};
	struct suggestion s;
	const struct sg_rule *r;

	build(n, 1, a, 1, d, 4, NULL, &s);
	/* reached by address after resolving: its name must resolve */
	CHECK((r = find(&s, "plain.test:80")) && *r->note);
	CHECK(find(&s, "198.18.3.10/32") && find(&s, "api.test"));
	CHECK(s.nunconnected == 2 && !strcmp(s.unconnected[0], "near.test") &&
	      !strcmp(s.unconnected[1], "tracker.test"));
	suggestion_free(&s);
}

TEST(test_suggest_collapses_level_by_level_at_scale)
{
	static struct sg_name n[20000];
	static char names[20000][40];
	struct psl *l = psl();
	struct suggestion s;
	const struct sg_rule *r;

	for (int i = 0; i < 20000; i++) {
		snprintf(names[i], sizeof(names[i]), "h%d.s%d.example.com",
			 i % 100, i / 100);
		n[i] = (struct sg_name){ names[i], 443, 1 };
	}
	build(n, 20000, NULL, 0, NULL, 0, l, &s);
	/* 100 hosts under each of 200 parents, then 200 wildcards under
	 * example.com: one rule */
	CHECK(s.nrule == 1 && (r = find(&s, "*.example.com")) &&
	      r->names == 20000 && r->flows == 20000);
	suggestion_free(&s);
	psl_free(l);
}
