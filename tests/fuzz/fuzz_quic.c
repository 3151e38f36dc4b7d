/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input: datagrams, each [len:2][bytes], of one client, through the path
 * the daemon takes: quic_judge, a Version Negotiation when asked for,
 * the refusal once judged; then, as on the allowed flow, quic_later
 * (and the refusal of what it says to judge). */
#include "quic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next datagram of the input, or false at its end. */
static bool next(const uint8_t *data, size_t size, size_t *off,
		 const uint8_t **d, size_t *len)
{
	if (*off + 2 > size)
		return false;
	*len = (size_t)(data[*off] << 8 | data[*off + 1]);
	*off += 2;
	if (*len > size - *off)
		*len = size - *off;
	*d = data + *off;
	*off += *len;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quic_initial *q = quic_initial_new(), *qi;
	struct first_bytes fb = { 0 };
	struct quic_conn *c;
	uint8_t out[1500];
	const uint8_t *d;
	size_t off = 0, len;

	while (next(data, size, &off, &d, &len)) {
		enum quic_step st = quic_judge(q, d, len, &fb);

		quic_refusal_header(d, len, "sbxfw: fuzz", out, sizeof(out));

		if (st == QUIC_STEP_VERSION)
			quic_version_negotiation(d, len, out, sizeof(out));
		if (st == QUIC_STEP_DONE)
			break;
	}
	quic_refusal(q, "sbxfw: fuzz", out, sizeof(out));
	c = quic_conn_new(q);
	while (next(data, size, &off, &d, &len)) {
		if (quic_later(c, d, len, &qi, &fb) == QUIC_LATER_JUDGE)
			quic_refusal(qi, "sbxfw: fuzz", out, sizeof(out));
		quic_initial_free(qi);
	}
	quic_conn_free(c);
	quic_initial_free(q);
	return 0;
}
