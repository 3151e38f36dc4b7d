/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Input: a list of segments, each [seq offset:2][len:2][bytes], fed to the
 * reassembler and the first-bytes judge. */
#include <string.h>

#include "firstbytes.h"
#include "reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool bit(const struct reasm *r, size_t i)
{
	return i < r->cap && (r->have[i / 8] >> (i % 8) & 1);
}

/* the fast paths (a segment past all others copied whole, the gap found
 * a byte of the bitmap at a time) against the bitmap read bit by bit */
static void check(const struct reasm *r)
{
	size_t n = 0, i;

	for (i = 0; i < r->cap; i++)
		n += bit(r, i);
	for (i = 0; i < r->limit && bit(r, i); i++)
		;
	if (n != r->stored || i != r->contig || (r->contig &&
	    r->end < r->contig))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct first_bytes fb = { .past_sslrequest = size && data[0] & 1 };
	struct reasm r;
	size_t off = 1;
	uint64_t now = 0;

	reasm_init(&r, 0xfffff000u, 4096, 0, 1000);
	while (off + 4 <= size) {
		uint32_t seq = 0xfffff000u + (uint32_t)(data[off] << 8 |
							data[off + 1]) - 64;
		size_t len = (size_t)(data[off + 2] << 8 | data[off + 3]);

		off += 4;
		if (len > size - off)
			len = size - off;
		if (reasm_add(&r, seq, data + off, len, now++, fb_judge, &fb) !=
		    REASM_NEED_MORE)
			break;
		check(&r);
		off += len;
	}
	if (r.contig > r.limit)
		__builtin_trap();
	reasm_fini(&r);
	return 0;
}
