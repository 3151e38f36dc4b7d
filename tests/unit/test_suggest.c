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
	struct sg_input in = { n, nn, a, na, d, nd, NULL, 0, NULL, 0 };
	struct sg_opts o = { 5, 32, 128, l, false };

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
		{ "a.github.com", 443, 10, "tcp" },
		{ "b.github.com", 443, 20, "tcp" },
		{ "c.github.com", 443, 1, "tcp" },
		{ "d.github.com", 443, 1, "tcp" },
		{ "x.e.github.com", 443, 2, "tcp" },
		{ "github.com", 443, 3, "tcp" },
		{ "api.other.test", 443, 4, "tcp" },
		{ "e.github.com", 443, 1, "tcp" },
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
		{ "a.co.uk", 443, 1, "tcp" }, { "b.co.uk", 443, 1, "tcp" },
		{ "c.co.uk", 443, 1, "tcp" }, { "d.co.uk", 443, 1, "tcp" },
		{ "e.co.uk", 443, 1, "tcp" }, { "f.co.uk", 443, 1, "tcp" },
		{ "a.github.io", 443, 1, "tcp" },
		{ "b.github.io", 443, 1, "tcp" },
		{ "c.github.io", 443, 1, "tcp" },
		{ "d.github.io", 443, 1, "tcp" },
		{ "e.github.io", 443, 1, "tcp" },
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
		{ "a.example.com", 443, 1, "tcp" },
		{ "b.example.com", 443, 1, "tcp" },
		{ "c.example.com", 443, 1, "tcp" },
		{ "d.example.com", 443, 1, "tcp" },
		{ "e.example.com", 8443, 1, "tcp" },
		{ "db.example.com", 5432, 7, "tcp" },
		{ "A.Example.COM.", 443, 2, "tcp" },
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
		{ "*.com", 443, 1, "tcp" },
		{ "evil\x1b[31m.test", 443, 1, "tcp" },
		{ "a b.test", 443, 1, "tcp" }, { "ok.test", 443, 1, "tcp" },
		{ "x.test:99", 443, 1, "tcp" },
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
	struct sg_input in = { NULL, 0, all, 5, NULL, 0, NULL, 0, NULL, 0 };
	struct sg_opts o = { 5, 32, 128, NULL, false };
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
	struct sg_name n[] = { { "api.test", 443, 2, "tcp" } };
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
		n[i] = (struct sg_name){ names[i], 443, 1, "tcp" };
	}
	build(n, 20000, NULL, 0, NULL, 0, l, &s);
	/* 100 hosts under each of 200 parents, then 200 wildcards under
	 * example.com: one rule */
	CHECK(s.nrule == 1 && (r = find(&s, "*.example.com")) &&
	      r->names == 20000 && r->flows == 20000);
	suggestion_free(&s);
	psl_free(l);
}

static struct sg_addr v6(const char *a, const char *proto, uint16_t port,
			 long flows)
{
	struct sg_addr x = { .family = AF_INET6, .port = port,
			     .proto = proto, .flows = flows };

	inet_pton(AF_INET6, a, x.addr);
	return x;
}

/* A range allows every name and every port at its address: a flow
 * without a name on a TLS port (443, TCP or QUIC; or a port where a flow
 * named itself) is listed, never a range, unless asked for; and it gives
 * no name resolved to that address a rule either. */
TEST(test_suggest_an_unnamed_flow_on_a_tls_port_is_no_range)
{
	struct sg_name n[] = {
		{ "db.test", 5432, 1, "tcp" },
		{ "api.test", 443, 1, "tcp" },
	};
	struct sg_addr a[] = {
		v6("2001:db8:2::2", "tcp", 443, 2),
		v6("2001:db8:2::2", "tcp", 443, 1),	/* the same, again */
		v6("2001:db8:2::2", "udp", 443, 1),	/* QUIC */
		v4("198.18.2.9", 5432, 1),		/* a port TLS named */
		v4("198.18.3.10", 80, 1),		/* plain HTTP */
		v4("198.18.3.10", 443, 1),		/* ...and TLS, unnamed */
	};
	struct sg_dns d[] = { { "tracker.test", "AAAA 2001:db8:2::2" } };
	struct sg_input in = { n, 2, a, 6, d, 1, NULL, 0, NULL, 0 };
	struct sg_opts o = { 5, 32, 128, NULL, false };
	struct suggestion s;
	const struct sg_rule *r;
	char t[64];

	suggest_build(&in, &o, &s);
	CHECK(s.nrule == 3 && find(&s, "api.test") && find(&s, "db.test:5432"));
	CHECK((r = find(&s, "198.18.3.10/32")) && !strcmp(r->note, "tcp/80"));
	CHECK(!find(&s, "2001:db8:2::2/128") && !find(&s, "198.18.2.9/32"));
	CHECK(!find(&s, "tracker.test"));	/* no name by that address */
	CHECK(s.nunnamed == 4);
	inet_ntop(AF_INET, s.unnamed[0].addr, t, sizeof(t));
	CHECK(!strcmp(t, "198.18.2.9") && s.unnamed[0].port == 5432 &&
	      !s.unnamed[0].in_range);
	inet_ntop(AF_INET, s.unnamed[1].addr, t, sizeof(t));
	CHECK(!strcmp(t, "198.18.3.10") && s.unnamed[1].in_range);
	inet_ntop(AF_INET6, s.unnamed[2].addr, t, sizeof(t));
	CHECK(!strcmp(t, "2001:db8:2::2") && s.unnamed[2].port == 443 &&
	      !strcmp(s.unnamed[2].proto, "tcp") && s.unnamed[2].flows == 3 &&
	      !s.unnamed[2].in_range);
	CHECK(!strcmp(s.unnamed[3].proto, "udp") && s.unnamed[3].flows == 1);
	CHECK(s.nunconnected == 1 && !strcmp(s.unconnected[0], "tracker.test"));
	suggestion_free(&s);
	/* --ranges-for-unnamed: ranges all the same, still listed */
	o.ranges_for_unnamed = true;
	suggest_build(&in, &o, &s);
	CHECK((r = find(&s, "2001:db8:2::2/128")) && r->flows == 4 &&
	      !strcmp(r->note, "tcp/443 udp/443"));
	CHECK(find(&s, "198.18.2.9/32") && s.nunnamed == 4);
	CHECK(s.unnamed[0].in_range && s.unnamed[2].in_range);
	CHECK((r = find(&s, "tracker.test")) && *r->note);
	suggestion_free(&s);
}

/* QUIC flows, named by their Initials, are the same rules as TCP's, and
 * say so. */
TEST(test_suggest_quic_names_are_rules_that_say_so)
{
	struct sg_name n[] = {
		{ "h3.test", 443, 2, "udp" },
		{ "h3.test", 443, 1, "tcp" },
		{ "tcp.test", 443, 1, "tcp" },
	};
	struct suggestion s;
	const struct sg_rule *r;

	build(n, 3, NULL, 0, NULL, 0, NULL, &s);
	CHECK(s.nrule == 2 && s.nunnamed == 0);
	CHECK((r = find(&s, "h3.test")) && r->flows == 3 && r->quic == 2 &&
	      strstr(r->note, "2 over QUIC"));
	CHECK((r = find(&s, "tcp.test")) && r->quic == 0 && !*r->note);
	suggestion_free(&s);
}

/* A name an injection rule covers stays an injection domain: no allow
 * rule (which would let it through unbrokered once the injection rule
 * goes), not a sibling for a wildcard, not "never connected to"; the
 * rule is kept with its flows and the broker's requests. */
TEST(test_suggest_an_injection_domain_stays_an_injection_domain)
{
	struct sg_name n[] = {
		{ "a.example.test", 443, 1, "tcp" },
		{ "b.example.test", 443, 1, "tcp" },
		{ "c.example.test", 443, 1, "tcp" },
		{ "d.example.test", 443, 1, "tcp" },
		{ "api.example.test", 443, 2, "tcp" },
		{ "API.example.test.", 443, 1, "tcp" },
		/* not the injection rule's port: an allow rule */
		{ "api.example.test", 8443, 1, "tcp" },
	};
	const char *inj[] = { "api.example.test:443", "unused.test",
			      "api.example.test:443" };
	struct sg_request rq[] = {
		{ "api.example.test", 3 }, { "other.test", 9 },
	};
	struct sg_dns d[] = { { "api.example.test", "A 198.18.2.2" } };
	struct sg_input in = { n, 7, NULL, 0, d, 1, inj, 3, rq, 2 };
	struct sg_opts o = { 5, 32, 128, NULL, false };
	struct psl *l = psl();
	struct suggestion s;

	o.psl = l;
	suggest_build(&in, &o, &s);
	CHECK(!find(&s, "*.example.test") && !find(&s, "api.example.test"));
	CHECK(find(&s, "a.example.test") && find(&s, "api.example.test:8443"));
	CHECK(s.nrule == 5 && s.nunconnected == 0);
	CHECK(s.nkept == 2);	/* the same domain twice: once */
	CHECK(!strcmp(s.kept[0].domain, "api.example.test:443") &&
	      s.kept[0].names == 1 && s.kept[0].flows == 3 &&
	      s.kept[0].requests == 3);
	CHECK(!strcmp(s.kept[1].domain, "unused.test") &&
	      s.kept[1].flows == 0 && s.kept[1].requests == 0);
	suggestion_free(&s);
	psl_free(l);
}
