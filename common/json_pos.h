/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_JSON_POS_H
#define SBXFW_JSON_POS_H

#include <stddef.h>

/* Where in a JSON text the value at `path' starts ("policy.allow[3]",
 * "inject[0].headers.Authorization"): 1-based line and column (in
 * bytes). The text must be valid JSON. Should part of the path not be
 * there, the deepest value that is. Pure. */
void json_pos(const char *text, size_t len, const char *path, int *line,
	      int *col);
/* The length of the path an error message starts with ("allow[3]: bad")
 * : 0 when it starts with none. */
size_t json_pos_path_len(const char *msg);

#endif
