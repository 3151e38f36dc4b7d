/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CSUM_H
#define SBXFW_CSUM_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>

/* The Internet checksum (RFC 1071): 16-bit words summed, then folded. */
static inline uint32_t csum_add(const void *p, size_t len, uint32_t s)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	return s;
}

/* The folded complement, in network order, ready to store. */
static inline uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/* The TCP/UDP pseudo-header's part of the sum. */
static inline uint32_t csum_pseudo(int v6, const uint8_t *src,
				   const uint8_t *dst, uint8_t proto,
				   size_t l4len)
{
	size_t al = v6 ? 16 : 4;

	return csum_add(src, al, csum_add(dst, al, proto + (uint32_t)l4len));
}

#endif
