/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_rewrite.h"
#include "test.h"

static bool parse(const char *s, struct http_head *h)
{
	const char *why;
	int st;

	return http_request_parse((const uint8_t *)s, strlen(s), h, &st,
				  &why) == HTTP_OK;
}

/* The rewrite into a buffer of exactly its size (ASan sees one byte
 * past it), and one byte short (nothing written). */
static bool rewrites_exactly(const char *req, const struct header_kv *set,
			     size_t nset, bool drop, const char *want)
{
	static struct http_head h;
	const uint8_t *b = (const uint8_t *)req;
	size_t n, got;
	uint8_t *out;
	bool ok;

	if (!parse(req, &h))
		return false;
	n = http_request_rewrite_size(b, &h, set, nset, drop);
	out = malloc(n);
	ok = http_request_rewrite(out, n - 1, b, &h, set, nset, drop) == 0;
	got = http_request_rewrite(out, n, b, &h, set, nset, drop);
	ok = ok && got == n && (!want || (strlen(want) == n &&
					  !memcmp(out, want, n)));
	free(out);
	return ok;
}

TEST(test_request_rewrite_replaces_and_is_sized_exactly)
{
	struct header_kv set[] = { { "Authorization", "Bearer s" } };

	CHECK(rewrites_exactly("\r\nGET /a HTTP/1.1\r\nHost: x\r\n"
			       "authorization: mine\r\nConnection: close\r\n"
			       "\r\n", set, 1, true,
			       "GET /a HTTP/1.1\r\nHost: x\r\n"
			       "Authorization: Bearer s\r\n\r\n"));
	CHECK(rewrites_exactly("GET /a HTTP/1.1\r\nHost:x\r\n"
			       "Connection:close\r\n\r\n", NULL, 0, false,
			       "GET /a HTTP/1.1\r\nHost: x\r\n"
			       "Connection: close\r\n\r\n"));
}

TEST(test_request_rewrite_of_a_head_that_grows_stays_in_bounds)
{
	/* 127 fields "a:b": each one byte longer once rewritten */
	char req[HTTP_HEAD_MAX];
	size_t at = (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost:x\r\n");
	struct header_kv set[3];
	char *big = malloc(40001), *big2 = malloc(30001);

	for (int i = 0; i < HTTP_HEADERS_MAX - 1; i++)
		at += (size_t)sprintf(req + at, "a:b\r\n");
	sprintf(req + at, "\r\n");
	memset(big, 'v', 40000);
	big[40000] = 0;
	memset(big2, 'w', 30000);
	big2[30000] = 0;
	/* values totalling more than 64 KiB */
	set[0] = (struct header_kv){ "X-One", big };
	set[1] = (struct header_kv){ "X-Two", big2 };
	set[2] = (struct header_kv){ "a", "replaced" };
	CHECK(rewrites_exactly(req, set, 2, false, NULL));
	CHECK(rewrites_exactly(req, set, 3, true, NULL));
	CHECK(rewrites_exactly(req, NULL, 0, false, NULL));
	free(big);
	free(big2);
}

static bool response_rewrites(const char *resp, bool add_close,
			      const char *want)
{
	static struct http_head h;
	const uint8_t *b = (const uint8_t *)resp;
	size_t n, got;
	uint8_t *out;
	bool ok;

	if (http_response_parse(b, strlen(resp), false, &h) != HTTP_OK)
		return false;
	n = http_response_rewrite_size(b, &h, add_close);
	out = malloc(n);
	ok = http_response_rewrite(out, n - 1, b, &h, add_close) == 0;
	got = http_response_rewrite(out, n, b, &h, add_close);
	ok = ok && got == n && strlen(want) == n && !memcmp(out, want, n);
	free(out);
	return ok;
}

TEST(test_response_rewrite_sets_connection_per_hop)
{
	CHECK(response_rewrites("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
				"Content-Length: 0\r\n\r\n", true,
				"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
				"Connection: close\r\n\r\n"));
	CHECK(response_rewrites("HTTP/1.1 204 No\r\nA:b\r\nconnection: close"
				"\r\n\r\n", false,
				"HTTP/1.1 204 No\r\nA: b\r\n\r\n"));
}

TEST(test_response_rewrite_of_the_largest_head_stays_in_bounds)
{
	/* the most fields, each "a:" growing by its space, and the close */
	size_t cap = 64 + HTTP_HEADERS_MAX * 5;
	char *r = malloc(cap);
	size_t at = (size_t)sprintf(r, "HTTP/1.1 200 OK\r\n");
	struct http_head h;
	uint8_t *out;
	size_t n;

	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		at += (size_t)sprintf(r + at, "a:\r\n");
	at += (size_t)sprintf(r + at, "\r\n");
	CHECK(http_response_parse((uint8_t *)r, at, false, &h) == HTTP_OK);
	n = http_response_rewrite_size((uint8_t *)r, &h, true);
	CHECK(n == at + HTTP_HEADERS_MAX + 19);
	out = malloc(n);
	CHECK(http_response_rewrite(out, n, (uint8_t *)r, &h, true) == n);
	free(out);
	free(r);
}
