/* SPDX-License-Identifier: GPL-2.0-or-later */
/* create, destroy, list, show, status */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *request(const char *command, const char *name)
{
	json_t *req = json_pack("{s:s}", "command", command);

	if (name)
		json_object_set_new(req, "name", json_string(name));
	return req;
}

static void append(json_t *req, const char *key, const char *value)
{
	json_t *a = json_object_get(req, key);

	if (!a) {
		a = json_array();
		json_object_set_new(req, key, a);
	}
	json_array_append_new(a, json_string(value));
}

static int policy_file(json_t *req, const char *path)
{
	json_t *doc = policy_file_read(path, 0);

	if (!doc)
		return -1;
	json_object_set_new(req, "policy", doc);
	return 0;
}

int create_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "source", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "allowed-domain", required_argument, NULL, 'a' },
		{ "allowed-cidr", required_argument, NULL, 'A' },
		{ "denied-cidr", required_argument, NULL, 'D' },
		{ "policy-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *req = json_object(), *reply;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			append(req, "ifaces", optarg);
			break;
		case 's':
			append(req, "sources", optarg);
			break;
		case 'm':
			json_object_set_new(req, "mode", json_string(optarg));
			break;
		case 'a':
		case 'A':
			append(req, "allow", optarg);
			break;
		case 'D':
			append(req, "deny", optarg);
			break;
		case 'p':
			if (policy_file(req, optarg) < 0) {
				json_decref(req);
				return 1;
			}
			break;
		default:
			json_decref(req);
			return cli_usage_error("create");
		}
	}
	/* how the sandbox is recognised is not optional */
	if (optind != argc - 1 || (!json_object_get(req, "ifaces") &&
				   !json_object_get(req, "sources"))) {
		json_decref(req);
		return cli_usage_error("create");
	}
	json_object_set_new(req, "command", json_string("create"));
	json_object_set_new(req, "name", json_string(argv[optind]));
	if (!(reply = ctl_request(req)))
		return 1;
	if (cli_opts.json)
		print_json(reply);
	json_decref(reply);
	return 0;
}

/* Commands of the form `sbxfw CMD [NAME]' with nothing else: the exit
 * status, and the reply when it is 0. */
static int simple(int argc, char **argv, bool named, json_t **reply)
{
	if (argc != (named ? 2 : 1) || (named && argv[1][0] == '-'))
		return cli_usage_error(argv[0]);
	*reply = ctl_request(request(argv[0], named ? argv[1] : NULL));
	return *reply ? 0 : 1;
}

int destroy_main(int argc, char **argv)
{
	json_t *reply;
	int rc = simple(argc, argv, true, &reply);

	if (rc)
		return rc;
	if (cli_opts.json)
		print_json(reply);
	json_decref(reply);
	return 0;
}

/* Each string of an array, printed with fmt ("%s" label, "%s" value). */
static void print_each(const char *fmt, const char *label, json_t *a)
{
	json_t *v;
	size_t i;

	json_array_foreach(a, i, v)
		printf(fmt, label, json_string_value(v));
}

static void sandbox_line(json_t *sb)
{
	printf("%s\t%s\t", json_string_value(json_object_get(sb, "name")),
	       json_string_value(json_object_get(sb, "mode")));
	print_each(" %s %s", "iface", json_object_get(sb, "ifaces"));
	print_each(" %s %s", "source", json_object_get(sb, "sources"));
	printf("\t%lld allowed, %lld denied\n",
	       json_integer_value(json_object_get(sb, "allowed")),
	       json_integer_value(json_object_get(sb, "denied")));
}

int list_main(int argc, char **argv)
{
	json_t *reply, *sb;
	int rc = simple(argc, argv, false, &reply);
	size_t i;

	if (rc)
		return rc;
	json_array_foreach(json_object_get(reply, "sandboxes"), i, sb) {
		if (cli_opts.json)
			print_json(sb);
		else
			sandbox_line(sb);
	}
	json_decref(reply);
	return 0;
}

/* "  caches: flows 3 (12 KiB of 32768 KiB), ..." */
static void print_caches(json_t *c)
{
	const char *name;
	json_t *o;
	bool first = true;

	printf("  caches:");
	json_object_foreach(c, name, o) {
		printf("%s %s %lld (%lld of %lld KiB)", first ? "" : ",", name,
		       json_integer_value(json_object_get(o, "entries")),
		       json_integer_value(json_object_get(o, "bytes")) / 1024,
		       json_integer_value(json_object_get(o, "max_bytes")) /
		       1024);
		first = false;
	}
	putchar('\n');
}

static void print_list(const char *label, json_t *a)
{
	print_each("  %s: %s\n", label, a);
}

int show_main(int argc, char **argv)
{
	json_t *reply, *sb, *p, *sub;
	int rc = simple(argc, argv, true, &reply);
	char *policy;

	if (rc)
		return rc;
	sb = json_object_get(reply, "sandbox");
	if (cli_opts.json) {
		print_json(sb);
		json_decref(reply);
		return 0;
	}
	p = json_object_get(sb, "policy");
	sub = json_object_get(p, "subnets");
	printf("sandbox: %s\n  id: %lld\n  mode: %s\n",
	       json_string_value(json_object_get(sb, "name")),
	       json_integer_value(json_object_get(sb, "id")),
	       json_string_value(json_object_get(sb, "mode")));
	print_list("iface", json_object_get(sb, "ifaces"));
	print_list("source", json_object_get(sb, "sources"));
	if (json_string_value(json_object_get(sb, "file")))
		printf("  file: %s\n",
		       json_string_value(json_object_get(sb, "file")));
	print_list("allowed domain", json_object_get(p, "allow"));
	print_list("denied domain", json_object_get(p, "deny"));
	print_list("allowed range", json_object_get(sub, "allow"));
	print_list("denied range", json_object_get(sub, "deny"));
	policy = json_dumps(json_object_get(p, "inject"), JSON_COMPACT);
	if (json_array_size(json_object_get(p, "inject")))
		printf("  injections: %s\n", policy);
	free(policy);
	printf("  flows: %lld allowed, %lld denied\n",
	       json_integer_value(json_object_get(sb, "allowed")),
	       json_integer_value(json_object_get(sb, "denied")));
	json_decref(reply);
	return 0;
}

/* "verdict latency: p50 80 us, p99 950 us": the percentiles named, as
 * status and stats print them. */
static void print_latency(const char *lead, const char *what, json_t *l,
			  const char *const *keys)
{
	printf("%s%s:", lead, what);
	for (size_t i = 0; keys[i]; i++)
		printf("%s %s %.0f us", i ? "," : "", keys[i],
		       json_real_value(json_object_get(l, keys[i])));
	putchar('\n');
}

int status_main(int argc, char **argv)
{
	json_t *r, *v, *a, *l, *d, *u, *t;
	int rc = simple(argc, argv, false, &r);
	size_t i;

	if (rc)
		return rc;
	if (cli_opts.json) {
		json_object_del(r, "ok");
		print_json(r);
		json_decref(r);
		return 0;
	}
	v = json_object_get(r, "verdicts");
	a = json_object_get(r, "audit");
	l = json_object_get(r, "latency_us");
	printf("sbxfwd %s, pid %lld, up %llds\n"
	       "  queue: %s, %lld-%lld, %lld packets dropped by the kernel\n"
	       "  mark mask: %s\n  sandboxes: %lld\n"
	       "  flows: %lld tracked, %lld packets held\n"
	       "  verdicts: %lld packets, %lld allowed, %lld denied\n",
	       json_string_value(json_object_get(r, "version")),
	       json_integer_value(json_object_get(r, "pid")),
	       json_integer_value(json_object_get(r, "uptime")),
	       json_string_value(json_object_get(r, "queue_kind")),
	       json_integer_value(json_object_get(r, "queue")),
	       json_integer_value(json_object_get(r, "queue")) +
	       json_integer_value(json_object_get(r, "queues")) - 1,
	       json_integer_value(json_object_get(r, "queue_drops")),
	       json_string_value(json_object_get(r, "mark_mask")),
	       json_integer_value(json_object_get(r, "sandboxes")),
	       json_integer_value(json_object_get(r, "flows")),
	       json_integer_value(json_object_get(r, "held")),
	       json_integer_value(json_object_get(v, "packets")),
	       json_integer_value(json_object_get(v, "allow")),
	       json_integer_value(json_object_get(v, "deny")));
	print_latency("  ", "verdict latency", l,
		      (const char *const[]){ "p50", "p99", NULL });
	print_latency("  ", "a server's first packet (commits a verdict)",
		      json_object_get(r, "commit_latency_us"),
		      (const char *const[]){ "p50", "p99", NULL });
	printf("  audit: %lld written, %lld not written, %lld deleted for "
	       "size, %lld not exported\n  database: %lld bytes in use, "
	       "max_size %lld (0: none)\n",
	       json_integer_value(json_object_get(a, "written")),
	       json_integer_value(json_object_get(a, "lost")),
	       json_integer_value(json_object_get(a, "deleted_for_size")),
	       json_integer_value(json_object_get(a, "not_exported")),
	       json_integer_value(json_object_get(a, "size")),
	       json_integer_value(json_object_get(a, "max_size")));
	d = json_object_get(r, "dns");
	printf("  dns: port %lld, ip_binding %s, upstream",
	       json_integer_value(json_object_get(d, "port")),
	       json_string_value(json_object_get(d, "ip_binding")));
	json_array_foreach(json_object_get(d, "upstreams"), i, u)
		printf(" %s", json_string_value(u));
	if (!json_array_size(json_object_get(d, "upstreams")))
		printf(" none");
	printf("\n  dns queries: %lld answered, %lld blocked, %lld failed; "
	       "%lld names remembered\n",
	       json_integer_value(json_object_get(d, "answered")),
	       json_integer_value(json_object_get(d, "blocked")),
	       json_integer_value(json_object_get(d, "failed")),
	       json_integer_value(json_object_get(d, "names")));
	print_caches(json_object_get(r, "caches"));
	t = json_object_get(r, "table");
	printf("  table: %s, built again %lld times after other programs' "
	       "changes (the last in %.1f ms)\n"
	       "  connections begun on an old one's conntrack entry, judged "
	       "afresh: %lld\n",
	       json_is_true(json_object_get(t, "owned")) ?
	       "owned by sbxfwd" : "not owned",
	       json_integer_value(json_object_get(t, "rebuilds")),
	       json_real_value(json_object_get(t, "last_rebuild_ms")),
	       json_integer_value(json_object_get(v, "reopened")));
	json_decref(r);
	return 0;
}

static void stats_sandbox(const char *name, const char *what, json_t *o)
{
	json_t *reasons = json_object_get(o, "reasons"), *n;
	const char *reason;

	printf("%s%s: %lld allowed, %lld denied\n", name, what,
	       json_integer_value(json_object_get(o, "allow")),
	       json_integer_value(json_object_get(o, "deny")));
	json_object_foreach(reasons, reason, n)
		printf("  %-24s %lld\n", reason, json_integer_value(n));
}

int stats_main(int argc, char **argv)
{
	json_t *r, *l, *sbs, *o;
	const char *name;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return cli_usage_error(argv[0]);
	r = ctl_request(request("stats", argc == 2 ? argv[1] : NULL));
	if (!r)
		return 1;
	if (cli_opts.json) {
		json_object_del(r, "ok");
		print_json(r);
		json_decref(r);
		return 0;
	}
	sbs = json_object_get(r, "sandboxes");
	json_object_foreach(sbs, name, o)
		stats_sandbox(name, "", o);
	sbs = json_object_get(r, "dns");
	json_object_foreach(sbs, name, o)
		stats_sandbox(name, " (dns queries)", o);
	l = json_object_get(r, "latency_us");
	printf("queue drops: %lld; audit records not written: %lld "
	       "(written %lld)\n",
	       json_integer_value(json_object_get(r, "queue_drops")),
	       json_integer_value(json_object_get(r, "audit_lost")),
	       json_integer_value(json_object_get(r, "audit_written")));
	print_latency("", "verdict latency", l,
		      (const char *const[]){ "p50", "p90", "p99", "max", NULL });
	json_decref(r);
	return 0;
}
