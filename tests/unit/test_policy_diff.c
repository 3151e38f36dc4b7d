/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "policy_diff.h"
#include "policy_json.h"
#include "test.h"

static struct policy *pol(const char *json)
{
	char err[256];

	return policy_from_json(json, strlen(json), err, sizeof(err));
}

static bool has(json_t *d, const char *line)
{
	json_t *v;
	size_t i;

	json_array_foreach(d, i, v)
		if (!strcmp(json_string_value(v), line))
			return true;
	return false;
}

TEST(test_diff_names_each_change_and_no_value)
{
	struct policy *a = pol("{\"mode\": \"deny-all\", \"allow\": [\"a.test\", "
			       "\"b.test\"], \"subnets\": {\"deny\": "
			       "[\"198.18.4.0/24\"]}, \"inject\": [{\"domain\": "
			       "\"x.test\", \"headers\": {\"A\": \"s3cr3t\"}}]}");
	struct policy *b = pol("{\"allow\": [\"b.test\", \"c.test\"], "
			       "\"inject\": [{\"domain\": \"x.test\", "
			       "\"headers\": {\"A\": \"other\"}}, {\"domain\": "
			       "\"y.test\", \"headers\": {\"B\": \"v\"}}]}");
	char *ifs[] = { "veth1" };
	struct sandbox_match m = { .ifaces = ifs, .nifaces = 1 };
	json_t *d = policy_diff(NULL, a, &m, b);
	char *text = json_dumps(d, 0);

	CHECK(a && b);
	CHECK(has(d, "~ mode deny-all -> user-defined"));
	CHECK(has(d, "- allow a.test") && has(d, "+ allow c.test"));
	CHECK(!has(d, "+ allow b.test") && !has(d, "- allow b.test"));
	CHECK(has(d, "- deny 198.18.4.0/24"));
	CHECK(has(d, "+ iface veth1"));
	CHECK(has(d, "~ inject x.test") && has(d, "+ inject y.test"));
	CHECK(!strstr(text, "s3cr3t") && !strstr(text, "other"));
	free(text);
	json_decref(d);
	d = policy_diff(&m, b, &m, b);
	CHECK(json_array_size(d) == 0);
	json_decref(d);
	d = policy_diff(NULL, NULL, &m, a);
	CHECK(has(d, "+ mode deny-all") && has(d, "+ allow a.test"));
	json_decref(d);
	policy_free(a);
	policy_free(b);
}
