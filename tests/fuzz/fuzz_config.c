/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	struct sbxfw_config c;

	memcpy(text, data, size);
	text[size] = '\0';
	cfg_parse_string(text, "fuzz.ini", &c, err, sizeof(err));
	free(text);
	return 0;
}
