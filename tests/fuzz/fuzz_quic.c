/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input: datagrams, each [len:2][bytes], of one client. */
#include "quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quic_initial *q = quic_initial_new();
	struct client_hello ch;
	size_t off = 0;

	while (off + 2 <= size) {
		size_t len = (size_t)(data[off] << 8 | data[off + 1]);
		off += 2;
		if (len > size - off)
			len = size - off;
		if (quic_initial_add(q, data + off, len, &ch) != QUIC_NEED_MORE)
			break;
		off += len;
	}
	quic_initial_free(q);
	return 0;
}
