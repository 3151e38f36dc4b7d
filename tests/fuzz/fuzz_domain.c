/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input: newline-separated patterns, then a name after a NUL. */
#include <stdlib.h>
#include <string.h>

#include "domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nul, *line, *save = NULL;
	char err[512], name[DOMAIN_MAX + 1];
	struct domain_set *s = domain_set_new();
	struct domain_pattern p;
	uint32_t id = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	nul = memchr(text, '\0', size);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (domain_pattern_parse(line, &p, err, sizeof(err)) == 0) {
			domain_set_add(s, &p, id++);
			domain_pattern_clear(&p);
		}
	if (nul && domain_name_normalize(nul + 1, strlen(nul + 1), name) == 0)
		if (domain_set_lookup(s, name, 443) >= (int64_t)id)
			__builtin_trap();
	domain_set_free(s);
	free(text);
	return 0;
}
