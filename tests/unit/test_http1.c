/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>

#include "http1.h"
#include "test.h"

static enum http_parse req(const char *s, struct http_head *h, int *status)
{
	const char *why;

	return http_request_parse((const uint8_t *)s, strlen(s), h, status,
				  &why);
}

TEST(test_http1_requests_framed_one_way_only)
{
	struct http_head h;
	int st;

	CHECK(req("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &h, &st) == HTTP_OK);
	CHECK(h.body == BODY_NONE && h.nf == 1 && h.len == 28);
	CHECK(req("GET /a HTTP/1.1\r\nHost: x\r\n", &h, &st) == HTTP_PARTIAL);
	CHECK(req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
		  &h, &st) == HTTP_OK && h.body == BODY_LENGTH &&
	      h.length == 5);
	CHECK(req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
		  "\r\n\r\n", &h, &st) == HTTP_OK && h.body == BODY_CHUNKED);
	/* the smuggling shapes */
	CHECK(req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n", &h, &st) == HTTP_BAD &&
	      st == 400);
	CHECK(req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
		  "Content-Length: 5\r\n\r\n", &h, &st) == HTTP_BAD);
	CHECK(req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n",
		  &h, &st) == HTTP_BAD);
	CHECK(req("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", &h, &st) ==
	      HTTP_BAD);
	CHECK(req("GET / HTTP/1.1\nHost: x\n\n", &h, &st) == HTTP_BAD);
	CHECK(req("GET / HTTP/1.1\r\nHost : x\r\n\r\n", &h, &st) == HTTP_BAD);
	CHECK(req("GET / HTTP/1.1\r\nHost: x\rA: b\r\n\r\n", &h, &st) ==
	      HTTP_BAD);
	CHECK(req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
		  "chunked\r\n\r\n", &h, &st) == HTTP_BAD && st == 501);
	CHECK(req("GET / HTTP/1.1\r\n\r\n", &h, &st) == HTTP_BAD);
	CHECK(req("GET / HTTP/2.0\r\nHost: x\r\n\r\n", &h, &st) == HTTP_BAD &&
	      st == 505);
	CHECK(req("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", &h, &st) ==
	      HTTP_BAD);
	CHECK(req("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
		  "Upgrade: websocket\r\nExpect: 100-continue\r\n\r\n", &h,
		  &st) == HTTP_OK && h.upgrade && h.expect_continue);
}

static int feed(struct http_framing *fr, const char *s, size_t *used)
{
	return http_framing_feed(fr, (const uint8_t *)s, strlen(s), used);
}

TEST(test_http1_chunked_bodies_stream_and_end_exactly)
{
	struct http_head h = { .body = BODY_CHUNKED };
	struct http_framing fr;
	size_t used;

	http_framing_init(&fr, &h);
	CHECK(feed(&fr, "5;ext=1\r\nhel", &used) == 0 && used == 12);
	CHECK(feed(&fr, "lo\r\n0\r\nTrailer: x\r\n\r\nGET", &used) == 1 &&
	      used == 21);
	http_framing_init(&fr, &h);
	CHECK(feed(&fr, "5\nhello", &used) == -1);
	http_framing_init(&fr, &h);
	CHECK(feed(&fr, "5\r\nhelloXX", &used) == -1);
	http_framing_init(&fr, &h);
	CHECK(feed(&fr, "0\r\n\r\n", &used) == 1 && used == 5);
	h = (struct http_head){ .body = BODY_LENGTH, .length = 3 };
	http_framing_init(&fr, &h);
	CHECK(feed(&fr, "abcdef", &used) == 1 && used == 3);
}

TEST(test_http1_responses_as_strictly_as_requests)
{
	struct http_head h;
	const char *r = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
			"\r\n\r\n";

	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_OK && h.status == 101 && h.upgrade && h.body == BODY_NONE);
	r = "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok";
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_OK && h.body == BODY_LENGTH && h.length == 2);
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), true, &h) ==
	      HTTP_OK && h.body == BODY_NONE);
	r = "HTTP/1.0 200 OK\r\n\r\nbody";
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_OK && h.body == BODY_UNTIL_CLOSE);
	/* what the broker could not rebuild as the sandbox would read it */
	r = "HTTP/1.0 200 OK\n\nbody";
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_BAD);
	r = "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\r\n";
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_BAD);
	r = "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n";
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_BAD);
	r = "HTTP/1.1 200 OK\r\nno colon\r\n\r\n";
	CHECK(http_response_parse((const uint8_t *)r, strlen(r), false, &h) ==
	      HTTP_BAD);
}

TEST(test_http1_response_with_too_many_fields_is_bad)
{
	char r[HTTP_HEADERS_MAX * 8 + 64];
	struct http_head h;
	size_t at = (size_t)sprintf(r, "HTTP/1.1 200 OK\r\n");

	for (int i = 0; i <= HTTP_HEADERS_MAX; i++)
		at += (size_t)sprintf(r + at, "A:%d\r\n", i % 10);
	at += (size_t)sprintf(r + at, "\r\n");
	CHECK(http_response_parse((const uint8_t *)r, at, false, &h) ==
	      HTTP_BAD);
}

TEST(test_http1_trailer_fields_come_apart_from_the_body_to_be_dropped)
{
	struct http_head h = { .body = BODY_CHUNKED };
	const char *b = "3\r\nabc\r\n0\r\nAuthorization: x\r\nB: y\r\n"
			"\r\nGET";
	struct http_framing fr;
	char kept[64];
	size_t used, at = 0, klen = 0, len = strlen(b);
	int rc = 0;

	http_framing_init(&fr, &h);
	fr.strip_trailers = true;
	while (at < len && rc == 0) {
		rc = http_framing_feed(&fr, (const uint8_t *)b + at, len - at,
				       &used);
		CHECK(used > 0);
		if (!fr.trailer_bytes) {
			memcpy(kept + klen, b + at, used);
			klen += used;
		}
		at += used;
	}
	CHECK(rc == 1 && at == len - 3);
	CHECK(klen == 13 && !memcmp(kept, "3\r\nabc\r\n0\r\n\r\n", 13));
}
