/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "policy_json.h"
#include "test.h"

static const char example[] =
	"{\"mode\": \"user-defined\",\n"
	" \"allow\": [\"github.com\", \"*.github.com\"],"
	" \"deny\": [\"gist.github.com\"],\n"
	" \"subnets\": {\"allow\": [\"198.18.20.0/24\"],"
	" \"deny\": [\"169.254.0.0/16\"]},\n"
	" \"inject\": [{\"domain\": \"api.github.com\",\n"
	"   \"headers\": {\"Authorization\": \"Bearer s3cr3t\"},"
	"   \"match\": {\"method\": \"POST\", \"path_prefix\": \"/repos/\"}}]}";

TEST(test_policy_json_example_of_the_spec)
{
	char err[256];
	struct policy *p = policy_from_json(example, strlen(example), err,
					    sizeof(err));

	CHECK(p != NULL);
	CHECK(p->mode == MODE_USER_DEFINED);
	CHECK(p->ndomains[LIST_ALLOW] == 2 && p->ndomains[LIST_DENY] == 1);
	CHECK(p->ncidrs[LIST_ALLOW] == 1 && p->ncidrs[LIST_DENY] == 1);
	CHECK(p->ninject == 1 && p->inject[0].nset == 1);
	CHECK(p->inject[0].path_kind == PATH_PREFIX);
	CHECK(!strcmp(p->inject[0].set[0].value, "Bearer s3cr3t"));
	policy_free(p);
}

TEST(test_policy_json_export_redacts_secrets_and_round_trips)
{
	char err[256], *out;
	struct policy *p = policy_from_json(example, strlen(example), err,
					    sizeof(err)), *q;
	json_t *j;

	CHECK(p != NULL);
	j = policy_to_json(p, true);
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	CHECK(strstr(out, "s3cr3t") == NULL);
	CHECK(strstr(out, "<redacted>") != NULL);
	CHECK(strstr(out, "\"path_prefix\":\"/repos/\"") != NULL);
	free(out);
	j = policy_to_json(p, false);
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	q = policy_from_json(out, strlen(out), err, sizeof(err));
	free(out);
	CHECK(q != NULL);
	CHECK(q->ndomains[LIST_ALLOW] == 2 && q->ninject == 1);
	CHECK(!strcmp(q->inject[0].set[0].value, "Bearer s3cr3t"));
	policy_free(p);
	policy_free(q);
}

TEST(test_policy_json_without_mode_is_user_defined)
{
	char err[256];
	struct policy *p = policy_from_json("{}", 2, err, sizeof(err));

	CHECK(p && p->mode == MODE_USER_DEFINED);
	policy_free(p);
}

TEST(test_policy_json_errors_name_the_element)
{
	struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"allow\": [\"ok.com\", \"a*b.com\"]}", "allow[1]: invalid domain `a*b.com'" },
		{ "{\"allow\": [\"10.0.0.0/8\"]}", "allow[0]: `10.0.0.0/8' is an address range" },
		{ "{\"subnets\": {\"deny\": [\"10.0.0.1/8\"]}}", "subnets.deny[0]: invalid address range `10.0.0.1/8'" },
		{ "{\"mode\": \"open\"}", "mode: `open'" },
		{ "{\"allow\": \"github.com\"}", "allow: not an array" },
		{ "{\"alow\": []}", "unknown key `alow'" },
		{ "{\"allow\": [1]}", "allow[0]: not a string" },
		{ "{\"allow\": [\"a.com\", \"A.com\"]}", "allow[1]: domain `a.com' is already allowed" },
		{ "{\"inject\": [{\"domain\": \"x.com\", \"headers\": {\"Bad Name\": \"v\"}}]}", "inject[0]: invalid header name `Bad Name'" },
		{ "{\"inject\": [{\"domain\": \"x.com\", \"headers\": {\"A\": \"se\\ncret\"}}]}", "inject[0]: header `A': value holds control characters" },
		{ "{\"inject\": [{\"domain\": \"x.com\", \"headers\": {\"A\": \"v\"}, \"match\": {\"path_regex\": \"(\"}}]}", "invalid path regex" },
		{ "{\"inject\": [{\"headers\": {}}]}", "inject[0].domain: missing" },
		{ "{\"allow\": [}", "line 1 column" },
		{ "[]", "policy is not a JSON object" },
		{ "{\"mode\": \"deny-all\", \"mode\": \"allow-all\"}", "duplicate" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(policy_from_json(bad[i].json, strlen(bad[i].json), err,
				       sizeof(err)) == NULL);
		CHECK(strstr(err, bad[i].msg) != NULL);
		CHECK(strstr(err, "cret") == NULL);	/* never a value */
	}
}

static struct policy *from(const char *json, char *err)
{
	return policy_from_json(json, strlen(json), err, 256);
}

TEST(test_vercel_sdk_forms_carry_over)
{
	char err[256];
	struct policy *p = from("\"deny-all\"", err);

	CHECK(p && p->mode == MODE_DENY_ALL);
	policy_free(p);
	p = from("{\"allow\": [\"github.com\", \"*.npmjs.org\"], "
		 "\"subnets\": {\"deny\": [\"169.254.0.0/16\"]}}", err);
	CHECK(p && p->mode == MODE_USER_DEFINED && p->ndomains[LIST_ALLOW] == 2 &&
	      p->ncidrs[LIST_DENY] == 1);
	policy_free(p);
	p = from("{\"allow\": {\"api.github.com\": [{\"transform\": "
		 "[{\"headers\": {\"Authorization\": \"Bearer x\"}}]}], "
		 "\"pypi.org\": []}}", err);
	CHECK(p && p->ndomains[LIST_ALLOW] == 2 && p->ninject == 1);
	CHECK(p && !strcmp(p->inject[0].domain.text, "api.github.com") &&
	      !strcmp(p->inject[0].set[0].value, "Bearer x"));
	policy_free(p);
	CHECK(!from("\"sometimes\"", err) && strstr(err, "allow-all"));
	CHECK(!from("{\"allow\": {\"a.com\": [{\"rewrite\": 1}]}}", err) &&
	      strstr(err, "transform"));
}

TEST(test_vercel_rest_form_carries_over)
{
	char err[256];
	struct policy *p = from("{\"mode\": \"custom\", \"allowedDomains\": "
				"[\"github.com\"], \"allowedCIDRs\": "
				"[\"10.0.0.0/8\"], \"deniedCIDRs\": "
				"[\"169.254.0.0/16\"], \"injectionRules\": "
				"[{\"domain\": \"github.com\", \"headers\": "
				"{\"X-Token\": \"s\"}}]}", err);

	CHECK(p && p->mode == MODE_USER_DEFINED);
	CHECK(p && p->ndomains[LIST_ALLOW] == 1 && p->ncidrs[LIST_ALLOW] == 1 &&
	      p->ncidrs[LIST_DENY] == 1 && p->ninject == 1);
	policy_free(p);
	p = from("{\"mode\": \"allow-all\", \"deniedCIDRs\": []}", err);
	CHECK(p && p->mode == MODE_ALLOW_ALL);
	policy_free(p);
	CHECK(!from("{\"mode\": \"custom\", \"allowedDomain\": []}", err) &&
	      strstr(err, "allowedDomain"));
}
