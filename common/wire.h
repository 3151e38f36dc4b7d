/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_WIRE_H
#define SBXFW_WIRE_H

#include <stddef.h>

#include <jansson.h>

/* Bytes from the wire (SNI, ALPN, DNS names, anything a sandbox chose)
 * made safe to print: printable ASCII stays, a backslash is doubled,
 * every other byte is written \xNN. The same text goes to terminals,
 * logs and JSON strings, so what an operator sees never carries a
 * sandbox's escape sequences, and JSON never holds invalid UTF-8. */
#define WIRE_TEXT_MAX(n) (4 * (n) + 1)

/* Into out (outlen bytes, NUL-terminated, cut at a whole escape when it
 * does not fit); returns out. */
char *wire_text(const char *bytes, size_t len, char *out, size_t outlen);
/* The same for a NUL-terminated string, in a buffer of the caller's
 * (freed with free()). */
char *wire_dup(const char *s);

/* A JSON string of wire_text's text (NULL only when out of memory). */
json_t *wire_json(const char *bytes, size_t len);
/* One line of compact JSON, or NULL: what every --json line goes
 * through (free() it). */
char *wire_json_line(const json_t *o);

#endif
