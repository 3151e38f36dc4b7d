/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the commands share from sbxfw.c without calling up into it: the
 * options given before the command, and the usage line of a command,
 * from the command table sbxfw.c gives at start. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct cli_opts cli_opts;

static const struct cli_command *commands;
static size_t ncommands;

void cli_commands(const struct cli_command *table, size_t n)
{
	commands = table;
	ncommands = n;
}

int cli_usage_error(const char *cmd)
{
	size_t i;

	for (i = 0; i < ncommands; i++)
		if (!strcmp(commands[i].name, cmd))
			fprintf(stderr, "usage: sbxfw %s%s%s\n", cmd,
				*commands[i].args ? " " : "",
				commands[i].args);
	return 2;
}
