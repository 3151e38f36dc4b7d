/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_STRCOPY_H
#define SBXFW_STRCOPY_H

#include <string.h>

/* The first LEN bytes of SRC (at most SIZE - 1 of them) into DST, ended:
 * snprintf's "%.*s" without its cost, on the verdict path. */
static inline void str_copy(char *dst, size_t size, const char *src,
			    size_t len)
{
	if (len > size - 1)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = 0;
}

/* A string, truncated to fit. */
static inline void str_set(char *dst, size_t size, const char *src)
{
	str_copy(dst, size, src, strnlen(src, size - 1));
}

#endif
