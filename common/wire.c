/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "xalloc.h"

char *wire_text(const char *bytes, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)bytes[i];
		char esc[5];
		size_t n;

		if (c == '\\')
			n = (size_t)snprintf(esc, sizeof(esc), "\\\\");
		else if (c >= 0x20 && c < 0x7f)
			n = (size_t)snprintf(esc, sizeof(esc), "%c", c);
		else
			n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", c);
		if (o + n >= outlen)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

char *wire_dup(const char *s)
{
	size_t len = strlen(s), max = WIRE_TEXT_MAX(len);

	return wire_text(s, len, xmalloc(max), max);
}

json_t *wire_json(const char *bytes, size_t len)
{
	size_t max = WIRE_TEXT_MAX(len);
	char *text = wire_text(bytes, len, xmalloc(max), max);
	json_t *j = json_string(text);

	free(text);
	return j;
}

char *wire_json_line(const json_t *o)
{
	return o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
}
