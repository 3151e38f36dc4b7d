/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "json_pos.h"
#include "test.h"

static const char doc[] =
	"{\"name\": \"sb1\",\n"
	" \"policy\": {\"allow\": [\"a.test\", \"bad..x\"],\n"
	"   \"inject\": [{\"domain\": \"d\", \"headers\": {\"X-Key\": 1}}]}}\n";

static void at(const char *path, int want_line, int want_col)
{
	int line, col;

	json_pos(doc, strlen(doc), path, &line, &col);
	CHECK(line == want_line);
	CHECK(col == want_col);
}

TEST(test_a_path_leads_to_its_value)
{
	at("", 1, 1);
	at("name", 1, 10);
	at("policy.allow[1]", 2, 33);
	at("policy.inject[0].headers.X-Key", 3, 52);
}

TEST(test_a_missing_part_stops_at_the_deepest_found)
{
	at("policy.allow[7]", 2, 22);
	at("policy.nothere", 2, 12);
	at("policy.inject[0].headers.Other", 3, 42);
}

TEST(test_the_path_an_error_message_starts_with)
{
	CHECK(json_pos_path_len("allow[3]: bad") == 8);
	CHECK(json_pos_path_len("inject[0].headers.X-Key: value") == 23);
	CHECK(json_pos_path_len("subnets.allow[0]: x") == 16);
	CHECK(json_pos_path_len("policy is not a JSON object") == 0);
	CHECK(json_pos_path_len("mode: `x' is not") == 4);
	CHECK(json_pos_path_len("allow[: x") == 0);
	CHECK(json_pos_path_len("") == 0);
}
