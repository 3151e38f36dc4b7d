/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mode, allow, deny, remove: live changes to a sandbox's policy. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The summary line, or the reply as JSON. */
static int done(json_t *reply)
{
	if (!reply)
		return 1;
	if (cli_opts.json)
		print_json(reply);
	else
		printf("%s: %s; %lld open flows cut\n",
		       json_string_value(json_object_get(reply, "name")),
		       json_string_value(json_object_get(reply, "change")),
		       json_integer_value(json_object_get(reply, "cut")));
	json_decref(reply);
	return 0;
}

int mode_main(int argc, char **argv)
{
	if (argc != 3 || argv[1][0] == '-')
		return cli_usage_error(argv[0]);
	return done(ctl_request(json_pack("{s:s, s:s, s:s}", "command",
					  "mode", "name", argv[1], "mode",
					  argv[2])));
}

/* allow, deny, remove NAME RULE... */
int rules_main(int argc, char **argv)
{
	json_t *rules;

	if (argc < 3 || argv[1][0] == '-')
		return cli_usage_error(argv[0]);
	rules = json_array();
	for (int i = 2; i < argc; i++)
		json_array_append_new(rules, json_string(argv[i]));
	return done(ctl_request(json_pack("{s:s, s:s, s:o}", "command",
					  argv[0], "name", argv[1], "rules",
					  rules)));
}
