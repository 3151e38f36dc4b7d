/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>

#include "policy_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct policy *p = policy_from_json((const char *)data, size, err,
					    sizeof(err));

	if (p) {
		json_t *j = policy_to_json(p, true);
		char *s = json_dumps(j, JSON_COMPACT);
		free(s);
		json_decref(j);
	}
	policy_free(p);
	return 0;
}
