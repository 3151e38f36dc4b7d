/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <jansson.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "xalloc.h"

/* the mapping's length sits before the value */
#define HDR 16

void *secret_alloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (HDR + n + page - 1) / page * page;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		fatal("mmap");
	/* best effort: a kernel without it still gets RLIMIT_CORE 0 and a
	 * process that is not dumpable */
	madvise(m, len, MADV_DONTDUMP);
	memcpy(m, &len, sizeof(len));
	return m + HDR;
}

char *secret_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *m = secret_alloc(n);

	memcpy(m, s, n);
	return m;
}

void secret_free(void *s)
{
	uint8_t *m;
	size_t len;

	if (!s)
		return;
	m = (uint8_t *)s - HDR;
	memcpy(&len, m, sizeof(len));
	explicit_bzero(m, len);
	munmap(m, len);
}

void wipe_free(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

static void json_wipe_free(void *p)
{
	if (p)
		explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void secret_json_init(void)
{
	json_set_alloc_funcs(xmalloc, json_wipe_free);
}
