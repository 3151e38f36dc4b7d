/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check NAME HOST[:PORT] [--ip ADDR]: which rule decides, without traffic */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int check_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL, *rule, *addr;
	json_t *reply;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'i')
			return cli_usage_error("check");
		ip = optarg;
	}
	if (argc - optind != 2)
		return cli_usage_error("check");
	reply = ctl_request(json_pack("{s:s, s:s, s:s, s:s?}", "command",
				      "check", "name", argv[optind], "target",
				      argv[optind + 1], "ip", ip));
	if (!reply)
		return 1;
	if (cli_opts.json) {
		json_object_del(reply, "ok");
		print_json(reply);
	} else {
		rule = json_string_value(json_object_get(reply, "rule"));
		addr = json_string_value(json_object_get(reply, "address"));
		printf("%s:%lld %s: %s%s%s%s%s\n",
		       json_string_value(json_object_get(reply, "host")),
		       json_integer_value(json_object_get(reply, "port")),
		       json_string_value(json_object_get(reply, "verdict")),
		       json_string_value(json_object_get(reply, "reason")),
		       rule ? " (rule " : "", rule ? rule : "",
		       rule ? ")" : "",
		       addr && !strcmp(addr, "unresolved") ?
		       "; the address is checked against the name's DNS "
		       "answers when a flow comes" : "");
	}
	json_decref(reply);
	return 0;
}
