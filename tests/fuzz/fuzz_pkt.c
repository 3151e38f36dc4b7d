/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input: [link type selector][frame]. */
#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { PKT_DLT_EN10MB, PKT_DLT_LINUX_SLL,
				     PKT_DLT_LINUX_SLL2, PKT_DLT_RAW,
				     PKT_DLT_NULL, PKT_DLT_LOOP };
	struct pkt p;

	if (size < 1)
		return 0;
	if (pkt_decode(types[data[0] % 6], data + 1, size - 1, &p) == PKT_OK &&
	    (p.payload < data || p.payload + p.payload_len > data + size))
		__builtin_trap();
	return 0;
}
