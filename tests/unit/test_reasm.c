/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "firstbytes.h"
#include "reasm.h"
#include "test.h"

#define SEC 1000000000ull
#define ISN 4000000000u		/* close to wrapping */

struct hello {
	uint8_t b[8192];
	size_t n;
};

static void hello(struct hello *h, size_t pad)
{
	struct ch_spec s = { .sni = "pq.example.test", .tls13 = true,
			     .pad = pad };
	h->n = ch_build(&s, 16384, h->b, sizeof(h->b));
}

static enum reasm_state feed(struct reasm *r, struct first_bytes *fb,
			     const struct hello *h, size_t off, size_t len,
			     uint64_t now)
{
	return reasm_add(r, ISN + (uint32_t)off, h->b + off, len, now,
			 fb_judge, fb);
}

TEST(test_reasm_in_order_segments)
{
	struct hello h;
	struct reasm r;
	struct first_bytes fb = { 0 };

	hello(&h, 1400);
	reasm_init(&r, ISN, REASM_LIMIT_DEFAULT, 0, SEC);
	CHECK(feed(&r, &fb, &h, 0, 1000, 1) == REASM_NEED_MORE);
	CHECK(feed(&r, &fb, &h, 1000, h.n - 1000, 2) == REASM_COMPLETE);
	CHECK(fb.kind == PAYLOAD_TLS && !strcmp(fb.ch.sni, "pq.example.test"));
	reasm_fini(&r);
}

TEST(test_reasm_out_of_order_and_duplicated_segments)
{
	struct hello h;
	struct reasm r;
	struct first_bytes fb = { 0 };
	size_t seg = 97, n, i;

	hello(&h, 1400);
	n = (h.n + seg - 1) / seg;
	reasm_init(&r, ISN, REASM_LIMIT_DEFAULT, 0, SEC);
	for (i = n; i-- > 1;) {		/* last to second, each twice */
		size_t len = i == n - 1 ? h.n - i * seg : seg;
		CHECK(feed(&r, &fb, &h, i * seg, len, 1) == REASM_NEED_MORE);
		CHECK(feed(&r, &fb, &h, i * seg, len, 1) == REASM_NEED_MORE);
	}
	CHECK(feed(&r, &fb, &h, 0, seg, 2) == REASM_COMPLETE);
	CHECK(fb.kind == PAYLOAD_TLS);
	reasm_fini(&r);
}

TEST(test_reasm_random_segments_with_agreeing_overlaps)
{
	struct hello h;
	int round;

	hello(&h, 1700);
	for (round = 0; round < 200; round++) {
		struct reasm r;
		struct first_bytes fb = { 0 };
		enum reasm_state st = REASM_NEED_MORE;
		int i;

		reasm_init(&r, ISN, REASM_LIMIT_DEFAULT, 0, SEC);
		for (i = 0; i < 10000 && st == REASM_NEED_MORE; i++) {
			size_t off = test_rand() % h.n;
			size_t len = 1 + test_rand() % 300;
			if (len > h.n - off)
				len = h.n - off;
			st = feed(&r, &fb, &h, off, len, 1);
		}
		CHECK(st == REASM_COMPLETE && fb.kind == PAYLOAD_TLS);
		CHECK(!strcmp(fb.ch.sni, "pq.example.test"));
		reasm_fini(&r);
	}
}

TEST(test_reasm_conflicting_overlap_gives_up)
{
	struct hello h, evil;
	struct reasm r;
	struct first_bytes fb = { 0 };

	hello(&h, 600);
	evil = h;
	memcpy(evil.b + 400, "XXXX", 4);
	reasm_init(&r, ISN, REASM_LIMIT_DEFAULT, 0, SEC);
	CHECK(feed(&r, &fb, &h, 300, 200, 1) == REASM_NEED_MORE);
	CHECK(feed(&r, &fb, &evil, 350, 100, 1) == REASM_GIVE_UP);
	CHECK(r.why == REASM_WHY_CONFLICT);
	/* and stays given up */
	CHECK(feed(&r, &fb, &h, 0, h.n, 1) == REASM_GIVE_UP);
	reasm_fini(&r);
}

TEST(test_reasm_bounded_in_bytes)
{
	struct hello h;
	struct reasm r;
	struct first_bytes fb = { 0 };

	hello(&h, 3000);
	reasm_init(&r, ISN, 2048, 0, SEC);
	CHECK(feed(&r, &fb, &h, 0, 1000, 1) == REASM_NEED_MORE);
	CHECK(feed(&r, &fb, &h, 1000, 1500, 1) == REASM_GIVE_UP);
	CHECK(r.why == REASM_WHY_TOO_BIG);
	reasm_fini(&r);
	reasm_init(&r, ISN, 2048, 0, SEC);
	CHECK(feed(&r, &fb, &h, 2100, 100, 1) == REASM_GIVE_UP);
	reasm_fini(&r);
}

TEST(test_reasm_bounded_in_time)
{
	struct hello h;
	struct reasm r;
	struct first_bytes fb = { 0 };

	hello(&h, 600);
	reasm_init(&r, ISN, REASM_LIMIT_DEFAULT, 10 * SEC, SEC);
	CHECK(feed(&r, &fb, &h, 0, 100, 10 * SEC) == REASM_NEED_MORE);
	CHECK(reasm_tick(&r, 10 * SEC + SEC / 2) == REASM_NEED_MORE);
	CHECK(reasm_tick(&r, 11 * SEC) == REASM_GIVE_UP);
	CHECK(r.why == REASM_WHY_TIMEOUT);
	reasm_fini(&r);
}

TEST(test_reasm_bytes_before_the_start_are_trimmed)
{
	struct hello h;
	struct reasm r;
	struct first_bytes fb = { 0 };
	uint8_t seg[1200];

	hello(&h, 1400);
	memset(seg, 0xee, 10);		/* 10 bytes before the base */
	memcpy(seg + 10, h.b, 1000);
	reasm_init(&r, ISN, REASM_LIMIT_DEFAULT, 0, SEC);
	CHECK(reasm_add(&r, ISN - 10, seg, 1010, 1, fb_judge, &fb) ==
	      REASM_NEED_MORE);
	CHECK(feed(&r, &fb, &h, 1000, h.n - 1000, 1) == REASM_COMPLETE);
	reasm_fini(&r);
}

TEST(test_first_bytes_not_tls_complete_at_once)
{
	const uint8_t get[] = "GET / HTTP/1.1\r\n";
	struct reasm r;
	struct first_bytes fb = { 0 };

	reasm_init(&r, 1, REASM_LIMIT_DEFAULT, 0, SEC);
	CHECK(reasm_add(&r, 1, get, 3, 1, fb_judge, &fb) == REASM_COMPLETE);
	CHECK(fb.kind == PAYLOAD_NOT_TLS);
	reasm_fini(&r);
}

TEST(test_first_bytes_postgres_sslrequest_then_hello)
{
	const uint8_t req[8] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	struct hello h;
	struct reasm r;
	struct first_bytes fb = { .past_sslrequest = true };

	hello(&h, 0);
	reasm_init(&r, 1, REASM_LIMIT_DEFAULT, 0, SEC);
	CHECK(reasm_add(&r, 1, req, 8, 1, fb_judge, &fb) == REASM_NEED_MORE);
	CHECK(reasm_add(&r, 9, h.b, h.n, 1, fb_judge, &fb) == REASM_COMPLETE);
	CHECK(fb.kind == PAYLOAD_TLS && fb.pg == PG_SSL_REQUEST);
	reasm_fini(&r);
	/* the daemon answers the SSLRequest itself: complete after 8 bytes */
	memset(&fb, 0, sizeof(fb));
	reasm_init(&r, 1, REASM_LIMIT_DEFAULT, 0, SEC);
	CHECK(reasm_add(&r, 1, req, 8, 1, fb_judge, &fb) == REASM_COMPLETE);
	CHECK(fb.pg == PG_SSL_REQUEST && fb.kind == PAYLOAD_NONE);
	reasm_fini(&r);
}
