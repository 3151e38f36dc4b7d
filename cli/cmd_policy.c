/* SPDX-License-Identifier: GPL-2.0-or-later */
/* policy NAME [--set FILE|-]: the whole policy as JSON, or replaced; and
 * the policy file reader (create --policy-file too). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "file.h"

#define POLICY_FILE_MAX (64u << 20)

json_t *policy_file_read(const char *path, size_t flags)
{
	json_error_t je;
	size_t len;
	char *text = file_read(path, POLICY_FILE_MAX, &len);
	json_t *doc;

	if (!text) {
		fprintf(stderr, "sbxfw: %s: %m\n", path);
		return NULL;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | flags, &je);
	free(text);
	if (!doc)
		fprintf(stderr, "sbxfw: %s:%d: %s\n", path, je.line, je.text);
	return doc;
}

static int policy_set(const char *name, const char *path)
{
	/* any value: a networkPolicy may be a bare string */
	json_t *doc = policy_file_read(path, JSON_DECODE_ANY);

	if (!doc)
		return 1;
	return policy_replace(name, doc, false, cli_opts.json);
}

int policy_replace(const char *name, json_t *doc, bool keep_inject,
		   bool json)
{
	json_t *reply = ctl_request(json_pack("{s:s, s:s, s:o, s:b}",
					      "command", "policy-set", "name",
					      name, "set", doc, "keep_inject",
					      keep_inject));

	if (!reply)
		return 1;
	if (json)
		print_json(reply);
	else
		printf("%s: policy replaced; %lld open flows cut\n", name,
		       json_integer_value(json_object_get(reply, "cut")));
	json_decref(reply);
	return 0;
}

int policy_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "set", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *set = NULL;
	json_t *reply;
	char *out;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's')
			return cli_usage_error("policy");
		set = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error("policy");
	if (set)
		return policy_set(argv[optind], set);
	reply = ctl_request(json_pack("{s:s, s:s}", "command", "policy",
				      "name", argv[optind]));
	if (!reply)
		return 1;
	out = json_dumps(json_object_get(reply, "policy"),
			 cli_opts.json ? JSON_COMPACT : JSON_INDENT(2));
	printf("%s\n", out);
	free(out);
	json_decref(reply);
	return 0;
}
