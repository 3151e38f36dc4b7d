/* SPDX-License-Identifier: GPL-2.0-or-later */
/* apply [DIR] [--dry-run] [--prune]: the policy files of a directory
 * (the ini's [policies] dir by default), read by the daemon and applied
 * in one step; the changes printed per sandbox. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_changes(json_t *reply, bool dry_run)
{
	json_t *sb, *c;
	size_t i, j, n = 0;
	static const char *const done[][2] = {
		{ "create", "created" }, { "change", "changed" },
		{ "destroy", "destroyed" },
	};

	json_array_foreach(json_object_get(reply, "sandboxes"), i, sb) {
		const char *a = json_string_value(json_object_get(sb,
								  "action"));
		const char *word = a;

		for (j = 0; j < 3; j++)
			if (!strcmp(a, done[j][0]))
				word = dry_run ? a : done[j][1];
		printf("sandbox %s (%s): %s\n",
		       json_string_value(json_object_get(sb, "name")),
		       json_string_value(json_object_get(sb, "file")), word);
		json_array_foreach(json_object_get(sb, "changes"), j, c)
			printf("%s\n", json_string_value(c));
		n++;
	}
	printf("%zu sandboxes %s, %lld unchanged%s\n", n, dry_run ?
	       "to change" : "changed",
	       json_integer_value(json_object_get(reply, "unchanged")),
	       dry_run ? " (dry run: nothing applied)" : "");
}

int apply_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'd' },
		{ "prune", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req = json_pack("{s:s}", "command", "apply"), *reply;
	char dir[PATH_MAX];
	bool dry_run = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dry_run = true; break;
		case 'p': json_object_set_new(req, "prune", json_true()); break;
		default:
			json_decref(req);
			return cli_usage_error("apply");
		}
	}
	if (argc - optind > 1) {
		json_decref(req);
		return cli_usage_error("apply");
	}
	if (argc - optind == 1) {
		/* the daemon reads it: a path that means the same to it */
		if (!realpath(argv[optind], dir)) {
			fprintf(stderr, "sbxfw: %s: %m\n", argv[optind]);
			json_decref(req);
			return 1;
		}
		json_object_set_new(req, "dir", json_string(dir));
	}
	json_object_set_new(req, "dry_run", json_boolean(dry_run));
	if (!(reply = ctl_request(req)))
		return 1;
	if (cli_opts.json)
		print_json(reply);
	else
		print_changes(reply, dry_run);
	json_decref(reply);
	return 0;
}
