/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_XALLOC_H
#define SBXFW_XALLOC_H

#include <stddef.h>

/* Allocation failure is fatal: there is no sane way on with half a policy. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
