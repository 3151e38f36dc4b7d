/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The request head as the broker rewrites it (common/http_rewrite.c):
 * parsed, its path normalised, then the rule's headers set, into a
 * buffer of exactly the size computed first. The input's first bytes
 * choose the headers: how many (0-3), whether the sandbox's Connection
 * goes, and each value's length (up to 96 KiB each, so that values
 * totalling more than 64 KiB come too). */
#include <stdlib.h>
#include <string.h>

#include "http_path.h"
#include "http_rewrite.h"

#define SETS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[SETS] = { "Authorization", "X-Api-Key",
					 "Connection" };

static void check_normalise(const uint8_t *b, const struct http_head *h)
{
	size_t cap = h->target.len + 1;
	char *path = malloc(cap);
	int n = http_path_normalise((const char *)b + h->target.off,
				    h->target.len, path, cap);

	static struct http_path once;

	if (n >= 0 && ((size_t)n >= cap || strlen(path) != (size_t)n))
		abort();
	/* read once, the same normalisation */
	http_path_read((const char *)b + h->target.off, h->target.len, &once);
	if (once.ok != (n >= 0) || (n >= 0 && strcmp(once.norm, path)))
		abort();
	free(path);
}

/* Once rewritten, it parses again, and each header set is there once. */
static void check_reparse(const uint8_t *out, size_t n,
			  const struct header_kv *set, size_t nset)
{
	static struct http_head h;
	const char *why;
	int st;

	if (http_request_parse(out, n, &h, &st, &why) != HTTP_OK)
		return;	/* now too large, or too many fields */
	for (size_t i = 0; i < nset; i++) {
		size_t seen = 0;

		for (size_t j = 0; j < h.nf; j++)
			seen += http_field_is(out, &h.f[j], set[i].name);
		if (seen != 1)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head h;
	struct header_kv set[SETS];
	char *values[SETS] = { NULL };
	size_t nset, n;
	const char *why;
	uint8_t *out;
	bool drop;
	int st;

	if (size < 2 + 2 * SETS)
		return 0;
	nset = data[0] % (SETS + 1);
	drop = data[1] & 1;
	for (size_t i = 0; i < nset; i++) {
		size_t len = ((size_t)data[2 + 2 * i] << 8 | data[3 + 2 * i]) +
			     (data[1] & 2 ? 32768 : 0);

		values[i] = malloc(len + 1);
		memset(values[i], 'a' + (int)i, len);
		values[i][len] = 0;
		set[i] = (struct header_kv){ (char *)names[i], values[i] };
	}
	data += 2 + 2 * SETS;
	size -= 2 + 2 * SETS;
	if (http_request_parse(data, size, &h, &st, &why) == HTTP_OK) {
		check_normalise(data, &h);
		n = http_request_rewrite_size(data, &h, set, nset, drop);
		out = malloc(n);
		if (http_request_rewrite(out, n - 1, data, &h, set, nset,
					 drop) != 0 ||
		    http_request_rewrite(out, n, data, &h, set, nset, drop) !=
		    n)
			abort();
		check_reparse(out, n, set, nset);
		free(out);
	}
	for (size_t i = 0; i < nset; i++)
		free(values[i]);
	return 0;
}
