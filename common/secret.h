/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_SECRET_H
#define SBXFW_SECRET_H

#include <stddef.h>

/* Secret values (injected header values) live in pages of their own,
 * left out of core dumps (MADV_DONTDUMP) and wiped when freed. */
char *secret_strdup(const char *s);
/* n bytes in such pages (buffers that carry secrets: a rewritten request
 * head, a key). */
void *secret_alloc(size_t n);
void secret_free(void *s);

/* Wipe n bytes, then free: for buffers that held secrets in passing (a
 * control request). NULL is fine. */
void wipe_free(void *p, size_t n);

/* Every allocation jansson frees is wiped first: requests and policy
 * files carry header values through it. Call before any JSON is parsed. */
void secret_json_init(void);

#endif
