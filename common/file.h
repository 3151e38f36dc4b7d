/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_FILE_H
#define SBXFW_FILE_H

#include <stddef.h>

/* The whole of a file (or "-" for standard input), NUL-terminated, at most
 * max bytes. NULL with errno set (EFBIG past max). */
char *file_read(const char *path, size_t max, size_t *len);

#endif
