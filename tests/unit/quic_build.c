/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Client Initials sealed here, for the QUIC parser's and the verdict
 * path's tests. */
#include <string.h>

#include "quic.h"
#include "test.h"

const uint8_t qt_dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
const uint8_t qt_scid[4] = { 0xc1, 0xc2, 0xc3, 0xc4 };

size_t qt_hello(const struct ch_spec *spec, uint8_t *out, size_t cap)
{
	uint8_t rec[CH_MAX + 64];
	size_t n = ch_build(spec, CH_MAX, rec, sizeof(rec));

	if (n < 5 || n - 5 > cap)
		return 0;
	memcpy(out, rec + 5, n - 5);
	return n - 5;
}

size_t qt_crypto(uint8_t *f, uint32_t off, const uint8_t *d, size_t n)
{
	size_t i = 0;

	f[i++] = 0x06;
	f[i++] = (uint8_t)(0x80 | off >> 24), f[i++] = (uint8_t)(off >> 16);
	f[i++] = (uint8_t)(off >> 8), f[i++] = (uint8_t)off;
	f[i++] = (uint8_t)(0x40 | n >> 8), f[i++] = (uint8_t)n;
	memcpy(f + i, d, n);
	return i + n;
}

size_t qt_initial_cid(uint32_t version, const uint8_t *dcid, size_t dcid_len,
		      uint32_t pn, const uint8_t *frames, size_t flen,
		      uint8_t *out)
{
	uint8_t f[1400];

	if (flen > sizeof(f))
		return 0;
	memcpy(f, frames, flen);
	if (flen < 1180) {
		memset(f + flen, 0, 1180 - flen);
		flen = 1180;
	}
	return quic_initial_seal(version, false, dcid, dcid_len, dcid,
				 dcid_len, qt_scid, sizeof(qt_scid), pn, f,
				 flen, out, 1400);
}

size_t qt_initial(uint32_t version, uint32_t pn, const uint8_t *frames,
		  size_t flen, uint8_t *out)
{
	return qt_initial_cid(version, qt_dcid, sizeof(qt_dcid), pn, frames,
			      flen, out);
}
