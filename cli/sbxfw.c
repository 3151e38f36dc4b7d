/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbxfw: the sysadmin's command line. A table drives dispatch and usage. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "secret.h"

static const struct cli_command commands[] = {
	{ "create", create_main, "NAME (--iface IF | --source CIDR)... "
	  "[--mode MODE] [--allowed-domain D]... [--allowed-cidr C]... "
	  "[--denied-cidr C]... [--policy-file FILE]",
	  "create a sandbox and its policy" },
	{ "destroy", destroy_main, "NAME",
	  "remove a sandbox; its connections end" },
	{ "mode", mode_main, "NAME allow-all|deny-all|user-defined",
	  "switch a sandbox's mode; open flows it no longer allows are cut" },
	{ "allow", rules_main, "NAME RULE...",
	  "allow domains (`*.' wildcards, `:port') or address ranges" },
	{ "deny", rules_main, "NAME RULE...",
	  "deny domains or address ranges; open flows to them are cut" },
	{ "remove", rules_main, "NAME RULE...",
	  "remove rules from a sandbox's policy" },
	{ "policy", policy_main, "NAME [--set FILE|-]",
	  "the whole policy as JSON (secrets redacted), or replace it "
	  "atomically (sbxfw's form or Vercel's networkPolicy)" },
	{ "inject", inject_main, "NAME DOMAIN (--header 'Name: value'... | "
	  "--header-file FILE | --remove) [--match-method M] [--match-path P "
	  "| --match-path-prefix P | --match-path-regex RE] "
	  "[--match-header 'Name: value']...",
	  "set headers on the HTTPS requests to DOMAIN (credentials "
	  "brokering), or remove the rule" },
	{ "ca", ca_main, "NAME [--bundle]",
	  "the sandbox's CA certificate (--bundle: the system store and it)" },
	{ "env", env_main, "NAME [--path FILE]",
	  "the variables that make common clients trust the sandbox's CA" },
	{ "check", check_main, "NAME HOST[:PORT] [--ip ADDR]",
	  "which rule decides a TLS connection, and why (no traffic sent)" },
	{ "log", log_main, "[NAME] [--since 10m|TIME] [--until T] "
	  "[--verdict allow|deny] [--domain PATTERN] [--limit|-n N] [--follow] "
	  "[--dns | --requests]",
	  "the flows audit, one line per flow (--dns: the DNS queries; "
	  "--requests: the brokered HTTP requests)" },
	{ "suggest", suggest_main, "NAME [--since T] [--until T] "
	  "[--wildcard-threshold N] [--max-prefix N[,N6]] "
	  "[--ranges-for-unnamed] [--apply]",
	  "the smallest policy that allows what the sandbox did (its audit); "
	  "--apply sets it" },
	{ "apply", apply_main, "[DIR] [--dry-run] [--prune]",
	  "apply the policy files of DIR (default: the ini's [policies] dir) "
	  "all at once, or none; --prune destroys sandboxes whose file is "
	  "gone" },
	{ "list", list_main, "", "list the sandboxes" },
	{ "show", show_main, "NAME", "a sandbox and its whole policy" },
	{ "status", status_main, "", "the daemon: queue, counters, latency" },
	{ "stats", stats_main, "[NAME]",
	  "flows by verdict and reason; queue drops, audit losses, latency" },
	{ "inspect", inspect_main, "[--policy FILE] CAPTURE",
	  "list the TLS/QUIC flows of a pcap/pcapng capture, with verdicts" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: sbxfw [--json] [-s SOCKET] [-c CONFIG] COMMAND ...\n"
		   "\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s %s\n      %s\n", commands[i].name,
			commands[i].args, commands[i].help);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int c;

	cli_commands(commands, NCOMMANDS);	/* for cli_usage_error */
	log_init("sbxfw", LOG_LVL_INFO);
	secret_json_init();	/* policy files carry header values */
	/* "+": stop at the command; its own options are its own */
	while ((c = getopt_long(argc, argv, "+js:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			cli_opts.json = true;
			break;
		case 's':
			cli_opts.socket = optarg;
			break;
		case 'c':
			cli_opts.config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			int at = optind;
			optind = 0;	/* glibc: start afresh for the command */
			return commands[i].fn(argc - at, argv + at);
		}
	}
	fprintf(stderr, "sbxfw: unknown command `%s'\n", argv[optind]);
	usage(stderr);
	return 2;
}
