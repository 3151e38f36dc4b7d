/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_HTTP_PATH_H
#define SBXFW_HTTP_PATH_H

#include <stddef.h>

/* The path of a request target (before any '?') as the server will see
 * it, for matching: %2e, %2f and %5c decoded (a backslash is a slash),
 * then dot-segments removed (RFC 3986 §5.2.4), a segment whose part
 * before ';' is "." or ".." counting as one. The length written to out
 * (NUL-terminated), or -1: a malformed escape, a NUL, not in origin
 * form, or longer than cap - 1. "*" stays as it is. */
int http_path_normalise(const char *target, size_t len, char *out,
			size_t cap);

#endif
