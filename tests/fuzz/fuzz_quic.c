/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input: datagrams, each [len:2][bytes], of one client, through the path
 * the daemon takes: quic_judge, a Version Negotiation when asked for,
 * the refusal once judged. */
#include "quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quic_initial *q = quic_initial_new();
	struct first_bytes fb = { 0 };
	uint8_t out[1500];
	size_t off = 0;

	while (off + 2 <= size) {
		size_t len = (size_t)(data[off] << 8 | data[off + 1]);
		enum quic_step st;

		off += 2;
		if (len > size - off)
			len = size - off;
		st = quic_judge(q, data + off, len, &fb);
		if (st == QUIC_STEP_VERSION)
			quic_version_negotiation(data + off, len, out,
						 sizeof(out));
		off += len;
		if (st == QUIC_STEP_DONE)
			break;
	}
	quic_refusal(q, "sbxfw: fuzz", out, sizeof(out));
	quic_initial_free(q);
	return 0;
}
