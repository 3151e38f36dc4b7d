/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CLI_H
#define SBXFW_CLI_H

#include <jansson.h>
#include <stdbool.h>

/* Options that come before the command. */
struct cli_opts {
	bool json;
	const char *socket;	/* -s */
	const char *config;	/* -c */
};

extern struct cli_opts cli_opts;

/* A command of sbxfw.c's table, which drives dispatch and usage. */
struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

/* The table cli_usage_error reads (cli_util.c), given at start. */
void cli_commands(const struct cli_command *table, size_t n);

/* Each command: argv[0] is the command name. Returns the exit status:
 * 0 success, 1 error (one line on stderr), 2 usage. */
int inspect_main(int argc, char **argv);
int create_main(int argc, char **argv);
int destroy_main(int argc, char **argv);
int list_main(int argc, char **argv);
int show_main(int argc, char **argv);
int status_main(int argc, char **argv);
int mode_main(int argc, char **argv);
int rules_main(int argc, char **argv);
int check_main(int argc, char **argv);
int log_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int policy_main(int argc, char **argv);
int inject_main(int argc, char **argv);
int ca_main(int argc, char **argv);
int env_main(int argc, char **argv);

/* Send a request to sbxfwd (takes req); the reply, or NULL after one
 * error line on stderr. */
json_t *ctl_request(json_t *req);
/* One line of JSON on stdout; -1 (said on stderr) when it cannot be. */
int print_json(json_t *o);
/* The ini of -c (or the default file, which may be absent); -1 after an
 * error line. */
struct sbxfw_config;
int cli_config(struct sbxfw_config *c);

/* The audit database (audit_db.c), opened read only; -1 after an error
 * line. A time as --since/--until take it: "10m", "2h", "3d", "30s" into
 * an SQLite modifier (*relative), else kept as an absolute time;
 * audit_time_check says on stderr when SQLite cannot read it. */
struct sqlite3;
int audit_db_open(struct sqlite3 **db);
int audit_time_arg(const char *in, char *out, size_t len, bool *relative);
int audit_time_check(struct sqlite3 *db, const char *opt, const char *in);
int suggest_main(int argc, char **argv);
int apply_main(int argc, char **argv);
/* policy-set: doc (taken) replaces the sandbox's policy; keep_inject
 * keeps its injection rules when doc has none. The exit status. */
int policy_replace(const char *name, json_t *doc, bool keep_inject,
		   bool json);
/* A policy file (or "-": standard input) as JSON, duplicate keys refused;
 * flags: jansson's decoding flags besides. NULL after an error line. */
json_t *policy_file_read(const char *path, size_t flags);

/* Print "usage: sbxfw COMMAND ARGS" for argv[0] and return 2. */
int cli_usage_error(const char *cmd);

#endif
