/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The emitters of wire bytes: whatever a sandbox sent, the text is
 * printable ASCII without escape sequences, and the JSON line is valid
 * and reads back as that text. Input: any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max = WIRE_TEXT_MAX(size), cut = size ? data[0] : 0;
	char *text = malloc(max), *small = malloc(cut + 1), *line;
	json_t *o = json_object(), *back;

	wire_text((const char *)data, size, text, max);
	for (const char *c = text; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			__builtin_trap();
	/* a short buffer: cut at a whole escape, still terminated */
	wire_text((const char *)data, size, small, cut + 1);
	if (strlen(small) > cut || strncmp(small, text, strlen(small)))
		__builtin_trap();
	json_object_set_new(o, "sni", wire_json((const char *)data, size));
	line = wire_json_line(o);
	if (!line)
		__builtin_trap();
	back = json_loads(line, 0, NULL);
	if (!back || strcmp(json_string_value(json_object_get(back, "sni")),
			    text))
		__builtin_trap();
	json_decref(back);
	free(line);
	json_decref(o);
	free(small);
	free(text);
	return 0;
}
