/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sandbox a control request names, for the commands (commands.c) and
 * the live changes (changes.c) alike. */
#include <stdio.h>

#include "sandbox.h"
#include "sandbox_name.h"

#define ERRLEN 512

const char *sandbox_name_of(json_t *req, char *err)
{
	const char *name = json_string_value(json_object_get(req, "name"));

	if (!name) {
		snprintf(err, ERRLEN, "missing sandbox name");
		return NULL;
	}
	return name;
}

struct sandbox *sandbox_named(json_t *req, char *err)
{
	const char *name = sandbox_name_of(req, err);
	struct sandbox *sb;

	if (!name)
		return NULL;
	if (!(sb = sandbox_find(name)))
		snprintf(err, ERRLEN, "no sandbox `%s'", name);
	return sb;
}
