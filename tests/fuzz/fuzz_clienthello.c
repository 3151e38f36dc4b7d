/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "clienthello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client_hello ch;

	if (ch_parse(data, size, &ch) == CH_OK && ch.has_sni &&
	    ch.sni_len > CH_SNI_MAX)
		__builtin_trap();
	ch_parse_message(data, size, &ch);
	return 0;
}
