/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_BYTES_H
#define SBXFW_BYTES_H

#include <stdint.h>

/* Big-endian (network order) fields of wire formats. */
static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

#endif
