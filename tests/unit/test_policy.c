/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One test per row of SPEC §2's evaluation order. */
#include <errno.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"
#include "secret.h"
#include "test.h"

static struct policy *mk(enum policy_mode mode, const char *const *allow,
			 const char *const *deny)
{
	struct policy *p = policy_new(mode);
	char err[256];

	for (; allow && *allow; allow++)
		if (policy_add_rule(p, LIST_ALLOW, *allow, err, sizeof(err)))
			return NULL;
	for (; deny && *deny; deny++)
		if (policy_add_rule(p, LIST_DENY, *deny, err, sizeof(err)))
			return NULL;
	return p;
}

/* A TCP flow to addr:port whose ClientHello carried `sni` (NULL: none);
 * payload: what the first bytes were. */
static struct verdict_result eval(const struct policy *p, const char *addr,
				  uint16_t port, uint8_t proto,
				  enum payload_kind payload, const char *sni)
{
	struct flow_query q = { .dport = port, .proto = proto,
				.payload = payload, .sni = sni };
	struct verdict_result r;
	struct cidr a;

	addr_parse(addr, &a);
	q.family = a.family;
	memcpy(q.dst, a.addr, 16);
	q.sni_len = sni ? strlen(sni) : 0;
	policy_eval(p, &q, &r);
	return r;
}

#define TLS(p, addr, sni) eval(p, addr, 443, IPPROTO_TCP, PAYLOAD_TLS, sni)
#define UDP(p, port, kind, sni) eval(p, "198.18.0.1", port, IPPROTO_UDP, kind, sni)
#define EXPECT(r, v, why, rl)                                          \
	do {                                                           \
		struct verdict_result r_ = (r);                        \
		CHECK(r_.verdict == (v));                              \
		CHECK(!strcmp(r_.reason, (why)));                      \
		CHECK(!strcmp(r_.rule, (rl)));                         \
	} while (0)

static const char *const github[] = { "github.com", "*.github.com",
				      "198.18.5.0/24", NULL };

TEST(test_denied_range_beats_allowed_range)
{
	const char *const deny[] = { "198.18.5.128/25", NULL };
	struct policy *p = mk(MODE_USER_DEFINED, github, deny);

	EXPECT(TLS(p, "198.18.5.200", "github.com"), VERDICT_DENY,
	       "range-denied", "198.18.5.128/25");
	EXPECT(TLS(p, "198.18.5.1", "x"), VERDICT_ALLOW, "range-allowed",
	       "198.18.5.0/24");
	policy_free(p);
}

TEST(test_denied_range_beats_allow_all)
{
	const char *const deny[] = { "169.254.0.0/16", "2001:db8:bad::/48",
				     NULL };
	struct policy *p = mk(MODE_ALLOW_ALL, NULL, deny);

	EXPECT(eval(p, "169.254.169.254", 80, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_DENY, "range-denied", "169.254.0.0/16");
	EXPECT(eval(p, "2001:db8:bad::1", 53, IPPROTO_UDP, PAYLOAD_NONE, NULL),
	       VERDICT_DENY, "range-denied", "2001:db8:bad::/48");
	EXPECT(eval(p, "198.18.0.1", 80, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_ALLOW, "mode-allow-all", "");
	policy_free(p);
}

TEST(test_deny_all_beats_allowed_ranges_and_domains)
{
	struct policy *p = mk(MODE_DENY_ALL, github, NULL);

	EXPECT(TLS(p, "198.18.5.1", "github.com"), VERDICT_DENY,
	       "mode-deny-all", "");
	EXPECT(TLS(p, "198.18.9.1", "github.com"), VERDICT_DENY,
	       "mode-deny-all", "");
	policy_free(p);
}

TEST(test_deny_all_denies_dns)
{
	struct policy *p = mk(MODE_DENY_ALL, NULL, NULL);

	EXPECT(eval(p, "198.18.0.53", 53, IPPROTO_UDP, PAYLOAD_NONE, NULL),
	       VERDICT_DENY, "mode-deny-all", "");
	EXPECT(eval(p, "198.18.0.53", 53, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_DENY, "mode-deny-all", "");
	policy_free(p);
}

TEST(test_allowed_range_admits_any_protocol_without_payload)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(eval(p, "198.18.5.9", 80, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_ALLOW, "range-allowed", "198.18.5.0/24");
	EXPECT(eval(p, "198.18.5.9", 6379, IPPROTO_UDP, PAYLOAD_NONE, NULL),
	       VERDICT_ALLOW, "range-allowed", "198.18.5.0/24");
	policy_free(p);
}

TEST(test_allow_all_without_denied_domains_decides_at_once)
{
	struct policy *p = mk(MODE_ALLOW_ALL, NULL, NULL);

	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_ALLOW, "mode-allow-all", "");
	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_UDP, PAYLOAD_NONE, NULL),
	       VERDICT_ALLOW, "mode-allow-all", "");
	policy_free(p);
}

TEST(test_allow_all_with_denied_domains_reads_the_sni)
{
	const char *const deny[] = { "gist.github.com", NULL };
	struct policy *p = mk(MODE_ALLOW_ALL, NULL, deny);

	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_NEED_PAYLOAD, "need-payload", "");
	EXPECT(TLS(p, "198.18.0.1", "gist.github.com"), VERDICT_DENY,
	       "domain-denied", "gist.github.com");
	EXPECT(TLS(p, "198.18.0.1", "api.github.com"), VERDICT_ALLOW,
	       "mode-allow-all", "");
	EXPECT(TLS(p, "198.18.0.1", NULL), VERDICT_ALLOW, "mode-allow-all", "");
	EXPECT(eval(p, "198.18.0.1", 80, IPPROTO_TCP, PAYLOAD_NOT_TLS, NULL),
	       VERDICT_ALLOW, "mode-allow-all", "");
	policy_free(p);
}

TEST(test_dns_is_answered_by_the_daemon)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(eval(p, "198.18.0.53", 53, IPPROTO_UDP, PAYLOAD_NONE, NULL),
	       VERDICT_DNS, "dns", "");
	EXPECT(eval(p, "2001:db8::53", 53, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_DNS, "dns", "");
	policy_free(p);
}

TEST(test_user_defined_waits_for_the_clienthello)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_NONE, NULL),
	       VERDICT_NEED_PAYLOAD, "need-payload", "");
	policy_free(p);
}

TEST(test_denied_domain_beats_allowed_wildcard)
{
	const char *const deny[] = { "gist.github.com", NULL };
	struct policy *p = mk(MODE_USER_DEFINED, github, deny);

	EXPECT(TLS(p, "198.18.0.1", "gist.github.com"), VERDICT_DENY,
	       "domain-denied", "gist.github.com");
	EXPECT(TLS(p, "198.18.0.1", "api.github.com"), VERDICT_ALLOW,
	       "domain-allowed", "*.github.com");
	EXPECT(TLS(p, "198.18.0.1", "GitHub.com."), VERDICT_ALLOW,
	       "domain-allowed", "github.com");
	policy_free(p);
}

TEST(test_unlisted_domain_is_denied)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(TLS(p, "198.18.0.1", "evil.example"), VERDICT_DENY,
	       "domain-not-allowed", "");
	EXPECT(TLS(p, "198.18.0.1", "github.com.evil.example"), VERDICT_DENY,
	       "domain-not-allowed", "");
	policy_free(p);
}

TEST(test_no_sni_is_denied)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(TLS(p, "198.18.0.1", NULL), VERDICT_DENY, "no-sni", "");
	policy_free(p);
}

TEST(test_not_tls_is_denied)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_NOT_TLS, NULL),
	       VERDICT_DENY, "not-tls", "");
	EXPECT(eval(p, "198.18.0.1", 9999, IPPROTO_UDP, PAYLOAD_NONE, NULL),
	       VERDICT_DENY, "not-tls", "");
	policy_free(p);
}

TEST(test_broken_clienthellos_are_denied_with_their_reason)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_INCOMPLETE, NULL),
	       VERDICT_DENY, "clienthello-incomplete", "");
	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_CONFLICT, NULL),
	       VERDICT_DENY, "tcp-overlap-conflict", "");
	EXPECT(eval(p, "198.18.0.1", 443, IPPROTO_TCP, PAYLOAD_MALFORMED, NULL),
	       VERDICT_DENY, "clienthello-malformed", "");
	EXPECT(TLS(p, "198.18.0.1", "git\001hub.com"), VERDICT_DENY,
	       "sni-invalid", "");
	policy_free(p);
}

TEST(test_quic_is_judged_by_sni_in_user_defined_mode)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);

	EXPECT(UDP(p, 443, PAYLOAD_NONE, NULL),
	       VERDICT_NEED_PAYLOAD, "need-payload", "");
	EXPECT(UDP(p, 443, PAYLOAD_TLS, "api.github.com"),
	       VERDICT_ALLOW, "domain-allowed", "*.github.com");
	EXPECT(UDP(p, 443, PAYLOAD_TLS, "example.com"),
	       VERDICT_DENY, "domain-not-allowed", "");
	EXPECT(UDP(p, 443, PAYLOAD_NOT_QUIC, NULL),
	       VERDICT_DENY, "not-quic", "");
	EXPECT(UDP(p, 443, PAYLOAD_CONFLICT, NULL),
	       VERDICT_DENY, "crypto-overlap-conflict", "");
	EXPECT(UDP(p, 4433, PAYLOAD_NONE, NULL),
	       VERDICT_DENY, "not-tls", "");
	policy_free(p);
}

TEST(test_quic_is_judged_in_allow_all_with_denied_domains)
{
	const char *const deny[] = { "gist.github.com", NULL };
	struct policy *p = mk(MODE_ALLOW_ALL, NULL, deny);

	EXPECT(UDP(p, 443, PAYLOAD_NONE, NULL),
	       VERDICT_NEED_PAYLOAD, "need-payload", "");
	EXPECT(UDP(p, 443, PAYLOAD_TLS, "gist.github.com"),
	       VERDICT_DENY, "domain-denied", "gist.github.com");
	EXPECT(UDP(p, 443, PAYLOAD_TLS, "github.com"),
	       VERDICT_ALLOW, "mode-allow-all", "");
	/* what cannot be judged is refused, allow-all or not */
	EXPECT(UDP(p, 443, PAYLOAD_NOT_QUIC, NULL),
	       VERDICT_DENY, "not-quic", "");
	EXPECT(UDP(p, 4433, PAYLOAD_NONE, NULL),
	       VERDICT_ALLOW, "mode-allow-all", "");
	policy_free(p);
}

TEST(test_port_rule_applies_to_its_port_only)
{
	const char *const allow[] = { "db.example.com:5432", NULL };
	struct policy *p = mk(MODE_USER_DEFINED, allow, NULL);

	EXPECT(eval(p, "198.18.0.1", 5432, IPPROTO_TCP, PAYLOAD_TLS,
		    "db.example.com"),
	       VERDICT_ALLOW, "domain-allowed", "db.example.com:5432");
	EXPECT(TLS(p, "198.18.0.1", "db.example.com"), VERDICT_DENY,
	       "domain-not-allowed", "");
	policy_free(p);
}

TEST(test_ech_outer_sni_is_judged_and_ech_deny_refuses_it)
{
	struct policy *p = mk(MODE_USER_DEFINED, github, NULL);
	struct flow_query q = { .family = AF_INET, .dport = 443,
				.proto = IPPROTO_TCP, .payload = PAYLOAD_TLS,
				.sni = "github.com", .sni_len = 10,
				.ech = true };
	struct verdict_result r;

	policy_eval(p, &q, &r);
	CHECK(r.verdict == VERDICT_ALLOW);
	q.ech_deny = true;
	policy_eval(p, &q, &r);
	CHECK(r.verdict == VERDICT_DENY && !strcmp(r.reason, "ech-denied"));
	policy_free(p);
}

TEST(test_rules_are_removed_from_whichever_list_holds_them)
{
	const char *const deny[] = { "gist.github.com", NULL };
	struct policy *p = mk(MODE_USER_DEFINED, github, deny);
	char err[256];

	CHECK(policy_remove_rule(p, "*.github.com", err, sizeof(err)) == 0);
	EXPECT(TLS(p, "198.18.0.1", "api.github.com"), VERDICT_DENY,
	       "domain-not-allowed", "");
	EXPECT(TLS(p, "198.18.0.1", "github.com"), VERDICT_ALLOW,
	       "domain-allowed", "github.com");
	CHECK(policy_remove_rule(p, "198.18.5.0/24", err, sizeof(err)) == 0);
	EXPECT(TLS(p, "198.18.5.1", NULL), VERDICT_DENY, "no-sni", "");
	CHECK(policy_remove_rule(p, "nothere.com", err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "nothere.com") != NULL);
	CHECK(policy_add_rule(p, LIST_ALLOW, "github.com", err, sizeof(err)) ==
	      -EEXIST);
	policy_free(p);
}

static struct verdict_result dns(const struct policy *p, const char *name,
				 bool host)
{
	struct verdict_result r;

	policy_eval_dns(p, name, host, &r);
	return r;
}

TEST(test_dns_names_judged_by_the_policy)
{
	const char *const allow[] = { "*.github.com", "db.example.com:5432",
				      NULL };
	const char *const deny[] = { "gist.github.com",
				     "raw.github.com:22", NULL };
	struct policy *p = mk(MODE_USER_DEFINED, allow, deny);

	EXPECT(dns(p, "api.github.com", true), VERDICT_ALLOW,
	       "domain-allowed", "*.github.com");
	/* a rule for one port allows the name; one against one port
	 * does not deny it */
	EXPECT(dns(p, "db.example.com", true), VERDICT_ALLOW,
	       "domain-allowed", "db.example.com:5432");
	EXPECT(dns(p, "raw.github.com", true), VERDICT_ALLOW,
	       "domain-allowed", "*.github.com");
	EXPECT(dns(p, "gist.github.com", true), VERDICT_DENY,
	       "domain-denied", "gist.github.com");
	EXPECT(dns(p, "github.com", true), VERDICT_DENY,
	       "domain-not-allowed", "");
	EXPECT(dns(p, "a2vu.exfil.example.test", true), VERDICT_DENY,
	       "domain-not-allowed", "");
	EXPECT(dns(p, "a?b.github.com", false), VERDICT_DENY,
	       "name-invalid", "");
	p->mode = MODE_ALLOW_ALL;
	EXPECT(dns(p, "anything.test", true), VERDICT_ALLOW,
	       "mode-allow-all", "");
	EXPECT(dns(p, "gist.github.com", true), VERDICT_DENY,
	       "domain-denied", "gist.github.com");
	p->mode = MODE_DENY_ALL;
	EXPECT(dns(p, "api.github.com", true), VERDICT_DENY,
	       "mode-deny-all", "");
	policy_free(p);
}

/* A rule for api.vendor.test setting Authorization, narrowed by kind. */
static void vendor_rule(struct inject_rule *r, enum path_match kind)
{
	char err[256];

	*r = (struct inject_rule){ .path_kind = kind };
	CHECK(domain_pattern_parse("api.vendor.test", &r->domain, err,
				   sizeof(err)) == 0);
	r->set = calloc(1, sizeof(*r->set));
	r->set->name = strdup("Authorization");
	r->set->value = secret_strdup("Bearer x");
	r->nset = 1;
}

TEST(test_dns_injection_domains_resolve)
{
	struct policy *p = mk(MODE_USER_DEFINED, NULL, NULL);
	struct inject_rule r;
	char err[256];

	vendor_rule(&r, PATH_ANY);
	CHECK(policy_add_inject(p, &r, err, sizeof(err)) == 0);
	EXPECT(dns(p, "api.vendor.test", true), VERDICT_ALLOW,
	       "domain-allowed", "api.vendor.test");
	EXPECT(dns(p, "vendor.test", true), VERDICT_DENY,
	       "domain-not-allowed", "");
	policy_free(p);
}

/* A rule's path that cannot be normalised could match no request: it
 * is refused, saying so. */
TEST(test_inject_path_that_cannot_be_normalised_is_refused)
{
	struct policy *p = mk(MODE_USER_DEFINED, NULL, NULL);
	struct inject_rule r;
	char err[256];

	vendor_rule(&r, PATH_PREFIX);
	r.path = strdup("/a%zz/");
	CHECK(policy_add_inject(p, &r, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "`/a%zz/' cannot be normalised") != NULL);
	free(r.path);
	r.path = strdup("/a%2Fb/");
	CHECK(policy_add_inject(p, &r, err, sizeof(err)) == 0);
	policy_free(p);
}
