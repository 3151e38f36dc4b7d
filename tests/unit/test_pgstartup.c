/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "pgstartup.h"
#include "test.h"

TEST(test_postgres_start_messages_are_told_apart)
{
	const uint8_t ssl[] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f };
	const uint8_t gss[] = { 0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30 };
	const uint8_t startup[] = { 0, 0, 0, 9, 0, 3, 0, 0, 0 };
	const uint8_t cancel[] = { 0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e };
	const uint8_t tls[] = { 0x16, 3, 1 };
	const uint8_t http[] = "GET /";
	const uint8_t odd[] = { 0, 0, 0, 8, 1, 2, 3, 4 };

	CHECK(pg_classify(ssl, 8) == PG_SSL_REQUEST);
	CHECK(pg_classify(gss, 8) == PG_GSSENC_REQUEST);
	CHECK(pg_classify(startup, 9) == PG_PLAINTEXT);
	CHECK(pg_classify(cancel, 8) == PG_PLAINTEXT);
	CHECK(pg_classify(tls, 3) == PG_DIRECT_TLS);
	CHECK(pg_classify(http, 5) == PG_NOT_PG);
	CHECK(pg_classify(odd, 8) == PG_NOT_PG);
	CHECK(pg_classify(ssl, 0) == PG_NEED_MORE);
	CHECK(pg_classify(ssl, 7) == PG_NEED_MORE);
}
