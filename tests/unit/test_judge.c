/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one judge: what injection rules and address binding add to the
 * policy's word, for every caller alike. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "secret.h"
#include "test.h"

/* The binding a test sets: what it answers, and how it was asked. */
static enum bound answer;
static enum bind_how asked;
static int calls;

static enum bound bind_fn(const char *name, int family, const uint8_t *addr,
			  enum bind_how how, void *arg)
{
	(void)name, (void)family, (void)addr, (void)arg;
	asked = how;
	calls++;
	return answer;
}

static struct policy *vendor(enum policy_mode mode, const char *allow)
{
	struct policy *p = policy_new(mode);
	struct inject_rule r = { .path_kind = PATH_ANY };
	char err[256];

	if (allow)
		policy_add_rule(p, LIST_ALLOW, allow, err, sizeof(err));
	domain_pattern_parse("api.vendor.test", &r.domain, err, sizeof(err));
	r.set = calloc(1, sizeof(*r.set));
	r.set->name = strdup("Authorization");
	r.set->value = secret_strdup("Bearer x");
	r.nset = 1;
	policy_add_inject(p, &r, err, sizeof(err));
	return p;
}

static bool judge_tls(const struct policy *p, const char *sni, bool brokered,
		      enum bind_how how, struct judgement *j)
{
	struct judge_env e = { p, false, bind_fn, NULL };
	struct flow_query q = { .family = AF_INET, .dport = 443,
				.proto = IPPROTO_TCP, .payload = PAYLOAD_TLS,
				.sni = sni, .sni_len = strlen(sni),
				.brokered = brokered };

	inet_pton(AF_INET, "198.18.2.2", q.dst);
	calls = 0;
	return judge(&e, &q, how, j);
}

TEST(test_a_brokered_flow_to_an_injection_domain_is_injected_if_bound)
{
	struct policy *p = vendor(MODE_USER_DEFINED, NULL);
	struct judgement j;

	answer = BOUND_YES;
	CHECK(judge_tls(p, "API.vendor.test", true, BIND_FINAL, &j));
	CHECK(j.inject && !strcmp(j.v.reason, "inject"));
	CHECK(!strcmp(j.v.rule, "api.vendor.test"));
	CHECK(!strcmp(j.host, "api.vendor.test"));
	CHECK(calls == 1 && asked == BIND_FINAL);
	answer = BOUND_NO;
	CHECK(!judge_tls(p, "api.vendor.test", true, BIND_FINAL, &j));
	CHECK(j.v.verdict == VERDICT_DENY);
	CHECK(!strcmp(j.v.reason, "sni-address-mismatch"));
	CHECK(!strcmp(j.v.rule, "api.vendor.test"));
	policy_free(p);
}

TEST(test_an_unbrokered_flow_to_an_injection_domain_is_refused)
{
	struct policy *p = vendor(MODE_USER_DEFINED, NULL);
	struct judgement j;

	answer = BOUND_YES;
	CHECK(!judge_tls(p, "api.vendor.test", false, BIND_RESOLVE, &j));
	CHECK(!j.inject && !strcmp(j.v.reason, "inject-not-redirected"));
	CHECK(calls == 0);
	policy_free(p);
}

TEST(test_a_domain_rule_binds_the_address_a_mode_does_not)
{
	struct policy *p = vendor(MODE_USER_DEFINED, "allowed.test");
	struct policy *all = vendor(MODE_ALLOW_ALL, NULL);
	struct judgement j;

	answer = BOUND_WAIT;
	CHECK(!judge_tls(p, "allowed.test", false, BIND_RESOLVE, &j));
	CHECK(j.bound_asked && j.bound == BOUND_WAIT);
	CHECK(j.v.verdict == VERDICT_ALLOW);	/* allowed, once bound */
	answer = BOUND_NO;
	CHECK(judge_tls(all, "other.test", false, BIND_RESOLVE, &j));
	CHECK(!strcmp(j.v.reason, "mode-allow-all"));
	CHECK(!j.bound_asked && calls == 0);
	/* revocation asks nothing */
	CHECK(judge_tls(p, "allowed.test", false, BIND_NONE, &j));
	CHECK(calls == 0);
	policy_free(p);
	policy_free(all);
}

/* A refusal that comes before any domain rule comes before an
 * injection too. */
TEST(test_a_denied_domain_is_never_injected)
{
	struct policy *p = vendor(MODE_USER_DEFINED, NULL);
	struct judgement j;
	char err[256];

	policy_add_rule(p, LIST_DENY, "*.vendor.test", err, sizeof(err));
	answer = BOUND_YES;
	CHECK(!judge_tls(p, "api.vendor.test", true, BIND_FINAL, &j));
	CHECK(!j.inject && !strcmp(j.v.reason, "domain-denied"));
	policy_free(p);
}
