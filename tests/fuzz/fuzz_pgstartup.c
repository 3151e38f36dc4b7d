/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pgstartup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pg_classify(data, size);
	return 0;
}
