/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "test.h"

/* Does `pattern` (through a one-rule set) match name:port? */
static bool set_match(const char *pattern, const char *name, uint16_t port)
{
	struct domain_pattern p;
	struct domain_set *s = domain_set_new();
	char err[256];
	bool m;

	if (domain_pattern_parse(pattern, &p, err, sizeof(err)) < 0) {
		domain_set_free(s);
		return false;
	}
	domain_set_add(s, &p, 0);
	m = domain_set_lookup(s, name, port) == 0;
	domain_set_free(s);
	domain_pattern_clear(&p);
	return m;
}

static bool refused(const char *pattern)
{
	struct domain_pattern p;
	char err[256];

	if (domain_pattern_parse(pattern, &p, err, sizeof(err)) == 0) {
		domain_pattern_clear(&p);
		return false;
	}
	return strstr(err, "invalid domain");
}

TEST(test_exact_domain_matches_itself)
{
	CHECK(set_match("example.com", "example.com", 443));
	CHECK(!set_match("example.com", "www.example.com", 443));
	CHECK(!set_match("example.com", "example.co", 443));
	CHECK(!set_match("example.com", "xexample.com", 443));
}

TEST(test_wildcard_matches_one_or_more_labels)
{
	CHECK(set_match("*.example.com", "a.example.com", 443));
	CHECK(set_match("*.example.com", "a.b.example.com", 443));
	CHECK(set_match("*.example.com", "x.y.z.example.com", 443));
	CHECK(!set_match("*.example.com", "example.org", 443));
	CHECK(!set_match("*.example.com", "aexample.com", 443));
}

TEST(test_wildcard_does_not_match_apex)
{
	CHECK(!set_match("*.example.com", "example.com", 443));
}

TEST(test_inner_star_matches_exactly_one_label)
{
	CHECK(set_match("www.*.com", "www.example.com", 443));
	CHECK(!set_match("www.*.com", "www.a.b.com", 443));
	CHECK(!set_match("www.*.com", "www.com", 443));
	CHECK(set_match("api.*.example.com", "api.eu.example.com", 443));
	CHECK(set_match("*.*.example.com", "a.b.example.com", 443));
	CHECK(!set_match("*.*.example.com", "b.example.com", 443));
}

TEST(test_bare_star_matches_any_name)
{
	CHECK(set_match("*", "example.com", 443));
	CHECK(set_match("*", "localhost", 1));
	CHECK(set_match("*", "a.b.c.d.e", 443));
}

TEST(test_port_rule_limits_to_that_port)
{
	CHECK(set_match("db.example.com:5432", "db.example.com", 5432));
	CHECK(!set_match("db.example.com:5432", "db.example.com", 443));
	CHECK(set_match("*.example.com:8443", "x.example.com", 8443));
	CHECK(!set_match("*.example.com:8443", "x.example.com", 443));
}

TEST(test_names_compared_in_lower_case_without_trailing_dot)
{
	char n[DOMAIN_MAX + 1];

	CHECK(set_match("GitHub.COM", "github.com", 443));
	CHECK(set_match("github.com.", "github.com", 443));
	CHECK(domain_name_normalize("API.GitHub.com.", 15, n) == 0);
	CHECK(!strcmp(n, "api.github.com"));
	CHECK(domain_name_normalize("a..com", 6, n) < 0);
	CHECK(domain_name_normalize("a.com..", 7, n) < 0);
}

TEST(test_international_names_use_punycode)
{
	struct domain_pattern p;
	char err[256], n[DOMAIN_MAX + 1];

	CHECK(domain_pattern_parse("*.bücher.example", &p, err, sizeof(err)) == 0);
	CHECK(!strcmp(p.text, "*.xn--bcher-kva.example"));
	domain_pattern_clear(&p);
	CHECK(domain_name_normalize("BÜCHER.example", strlen("BÜCHER.example"),
				    n) == 0);
	CHECK(!strcmp(n, "xn--bcher-kva.example"));
	CHECK(set_match("bücher.example", "xn--bcher-kva.example", 443));
}

TEST(test_invalid_patterns_refused)
{
	char long_label[80], long_name[300];
	size_t i;

	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".com");
	for (i = 0; i < 255; i++)
		long_name[i] = i % 2 ? '.' : 'a';
	long_name[255] = 0;
	CHECK(refused(""));
	CHECK(refused("a..com"));
	CHECK(refused(".com"));
	CHECK(refused("a*b.com"));
	CHECK(refused("*a.com"));
	CHECK(refused("a b.com"));
	CHECK(refused(" example.com"));
	CHECK(refused(long_label));
	CHECK(refused(long_name));
	CHECK(refused("example.com:0"));
	CHECK(refused("example.com:65536"));
	CHECK(refused("example.com:x"));
	CHECK(refused("example.com:"));
	CHECK(refused("exa$mple.com"));
	CHECK(refused("-example.com"));
}

TEST(test_error_message_names_the_input)
{
	struct domain_pattern p;
	char err[256];

	CHECK(domain_pattern_parse("a*b.com", &p, err, sizeof(err)) < 0);
	CHECK(strstr(err, "`a*b.com'") != NULL);
	CHECK(strstr(err, "whole label") != NULL);
}

TEST(test_most_specific_rule_is_reported)
{
	const char *pats[] = { "*.example.com", "api.example.com",
			       "api.example.com:8443", "*.*.com", "*" };
	struct domain_set *s = domain_set_new();
	struct domain_pattern p;
	char err[256];
	size_t i;

	for (i = 0; i < 5; i++) {
		CHECK(domain_pattern_parse(pats[i], &p, err, sizeof(err)) == 0);
		CHECK(domain_set_add(s, &p, (uint32_t)i) == 0);
		if (i < 4)
			domain_pattern_clear(&p);
	}
	CHECK(domain_set_lookup(s, "api.example.com", 443) == 1);
	CHECK(domain_set_lookup(s, "api.example.com", 8443) == 2);
	CHECK(domain_set_lookup(s, "www.example.com", 443) == 0);
	CHECK(domain_set_lookup(s, "x.foo.com", 443) == 3);
	CHECK(domain_set_lookup(s, "other.org", 443) == 4);
	CHECK(domain_set_add(s, &p, 9) == -EEXIST);
	domain_set_free(s);
	domain_pattern_clear(&p);
}

static void random_name(char *out, bool pattern)
{
	static const char *const labels[] = { "a", "b", "c", "example", "com",
					      "x-y", "*" };
	size_t n = 1 + test_rand() % 4, i, o = 0;

	for (i = 0; i < n; i++) {
		const char *l = labels[test_rand() % (pattern ? 7 : 6)];
		o += (size_t)sprintf(out + o, "%s%s", i ? "." : "", l);
	}
}

TEST(test_set_lookup_agrees_with_reference_matcher)
{
	enum { NPAT = 60, NNAME = 3000 };
	struct domain_pattern pats[NPAT];
	struct domain_set *s = domain_set_new();
	char buf[64], err[256];
	size_t i, j, n = 0;

	for (i = 0; i < NPAT; i++) {
		random_name(buf, true);
		if (domain_pattern_parse(buf, &pats[n], err, sizeof(err)) < 0)
			continue;
		if (domain_set_add(s, &pats[n], (uint32_t)n) == 0)
			n++;
		else
			domain_pattern_clear(&pats[n]);
	}
	for (i = 0; i < NNAME; i++) {
		bool any = false;
		int64_t r;

		random_name(buf, false);
		for (j = 0; j < n; j++)
			any |= domain_pattern_match(&pats[j], buf, 443);
		r = domain_set_lookup(s, buf, 443);
		CHECK(any == (r >= 0));
		CHECK(r < 0 || domain_pattern_match(&pats[r], buf, 443));
	}
	domain_set_free(s);
	for (i = 0; i < n; i++)
		domain_pattern_clear(&pats[i]);
}

TEST(test_set_with_100000_rules)
{
	struct domain_set *s = domain_set_new();
	struct domain_pattern p;
	char buf[64], err[256];
	uint32_t i;

	for (i = 0; i < 100000; i++) {
		snprintf(buf, sizeof(buf), i % 2 ? "host%u.example.com"
						 : "*.zone%u.example.net", i);
		CHECK(domain_pattern_parse(buf, &p, err, sizeof(err)) == 0);
		CHECK(domain_set_add(s, &p, i) == 0);
		domain_pattern_clear(&p);
	}
	CHECK(domain_set_count(s) == 100000);
	CHECK(domain_set_lookup(s, "host99999.example.com", 443) == 99999);
	CHECK(domain_set_lookup(s, "a.b.zone500.example.net", 443) == 500);
	CHECK(domain_set_lookup(s, "zone500.example.net", 443) == -1);
	CHECK(domain_set_lookup(s, "host2.example.com", 443) == -1);
	domain_set_free(s);
}
