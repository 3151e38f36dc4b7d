/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_HTTP_PATH_H
#define SBXFW_HTTP_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "http1.h"

/* The path of a request target (before any '?') as the server will see
 * it, for matching: %2e, %2f and %5c decoded (a backslash is a slash),
 * then dot-segments removed (RFC 3986 §5.2.4), a segment whose part
 * before ';' is "." or ".." counting as one. The length written to out
 * (NUL-terminated), or -1: a malformed escape, a NUL, not in origin
 * form, or longer than cap - 1. "*" stays as it is. */
int http_path_normalise(const char *target, size_t len, char *out,
			size_t cap);
/* A request target's path, read once for all that judges it: as
 * written (up to '?'), and normalised as above (ok: it could be). It is
 * canonical when servers agree on it: no '#', no empty segment, no
 * dot-segment however spelled (%2e, and with %2f, %5c or '\' as a
 * slash; "..;" too). Servers resolve other paths differently (nginx
 * merges slashes, Tomcat reads "..;", Node keeps %2f), so a rule
 * narrowed by path only matches a canonical one. */
struct http_path {
	bool ok, canonical;
	char raw[HTTP_HEAD_MAX + 1], norm[HTTP_HEAD_MAX + 1];
};
void http_path_read(const char *target, size_t len, struct http_path *p);

#endif
