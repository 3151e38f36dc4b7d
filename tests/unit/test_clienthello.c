/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "clienthello.h"
#include "test.h"

static const struct ch_spec full = {
	.sni = "api.github.com", .alpn = { "h2", "http/1.1" }, .tls13 = true,
};

TEST(test_clienthello_gives_sni_alpn_and_versions)
{
	uint8_t buf[4096];
	struct client_hello ch;
	size_t n = ch_build(&full, 16384, buf, sizeof(buf));

	CHECK(ch_parse(buf, n, &ch) == CH_OK);
	CHECK(ch.has_sni && !strcmp(ch.sni, "api.github.com"));
	CHECK(ch.sni_len == 14);
	CHECK(ch.nalpn == 2 && !strcmp(ch.alpn[0], "h2") &&
	      !strcmp(ch.alpn[1], "http/1.1"));
	CHECK(ch.nversions == 2 && ch.versions[0] == 0x0304);
	CHECK(!ch.ech);
	CHECK(ch.records == 1 && ch.length == n);
}

TEST(test_clienthello_reports_ech)
{
	struct ch_spec s = full;
	uint8_t buf[4096];
	struct client_hello ch;
	size_t n;

	s.ech = true;
	n = ch_build(&s, 16384, buf, sizeof(buf));
	CHECK(ch_parse(buf, n, &ch) == CH_OK && ch.ech);
}

TEST(test_clienthello_split_across_records)
{
	struct ch_spec s = full;
	static uint8_t buf[65536];
	struct client_hello ch;
	size_t n, rec;

	s.pad = 1500;		/* as large as a post-quantum key share */
	for (rec = 1; rec <= 700; rec = rec * 3 + 1) {
		n = ch_build(&s, rec, buf, sizeof(buf));
		CHECK(n > 0);
		CHECK(ch_parse(buf, n, &ch) == CH_OK);
		CHECK(!strcmp(ch.sni, "api.github.com"));
		CHECK(ch.records > 1 && ch.length == n);
	}
}

TEST(test_clienthello_every_prefix_needs_more)
{
	struct ch_spec s = full;
	uint8_t buf[8192];
	struct client_hello ch;
	size_t n, i;

	s.pad = 300;
	n = ch_build(&s, 100, buf, sizeof(buf));
	for (i = 0; i < n; i++)
		CHECK(ch_parse(buf, i, &ch) == CH_NEED_MORE);
	CHECK(ch_parse(buf, n, &ch) == CH_OK);
}

TEST(test_plain_http_is_not_tls)
{
	const char *get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	const uint8_t ssh[] = "SSH-2.0-OpenSSH_9.2\r\n";
	const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02 };
	struct client_hello ch;

	CHECK(ch_parse((const uint8_t *)get, strlen(get), &ch) == CH_NOT_TLS);
	CHECK(ch_parse(ssh, sizeof(ssh) - 1, &ch) == CH_NOT_TLS);
	CHECK(ch_parse(sslv2, sizeof(sslv2), &ch) == CH_NOT_TLS);
}

TEST(test_clienthello_without_sni)
{
	struct ch_spec s = { .alpn = { "h2" } };
	uint8_t buf[4096];
	struct client_hello ch;
	size_t n = ch_build(&s, 16384, buf, sizeof(buf));

	CHECK(ch_parse(buf, n, &ch) == CH_OK && !ch.has_sni);
}

TEST(test_duplicate_server_name_is_malformed)
{
	struct ch_spec s = full;
	uint8_t buf[4096];
	struct client_hello ch;
	size_t n;

	s.dup_ext = true;
	n = ch_build(&s, 16384, buf, sizeof(buf));
	CHECK(ch_parse(buf, n, &ch) == CH_MALFORMED);
	s.dup_ext = false;
	s.two_names = true;
	n = ch_build(&s, 16384, buf, sizeof(buf));
	CHECK(ch_parse(buf, n, &ch) == CH_MALFORMED);
}

TEST(test_lengths_past_the_end_are_malformed)
{
	uint8_t buf[4096], bad[4096];
	struct client_hello ch;
	size_t n = ch_build(&full, 16384, buf, sizeof(buf)), i;
	int malformed = 0;

	/* any single byte of the body raised to 0xff: never a crash, and a
	 * length field so raised is caught */
	for (i = 9; i < n; i++) {
		memcpy(bad, buf, n);
		bad[i] = 0xff;
		malformed += ch_parse(bad, n, &ch) == CH_MALFORMED;
	}
	CHECK(malformed > 10);
	memcpy(bad, buf, n);
	bad[5] = 2;		/* handshake type: ServerHello */
	CHECK(ch_parse(bad, n, &ch) == CH_MALFORMED);
}

TEST(test_other_record_type_inside_the_hello_is_malformed)
{
	struct ch_spec s = full;
	uint8_t buf[8192];
	struct client_hello ch;
	size_t n;

	s.pad = 400;
	n = ch_build(&s, 200, buf, sizeof(buf));
	buf[205] = 23;		/* second record: application data */
	CHECK(ch_parse(buf, n, &ch) == CH_MALFORMED);
}

TEST(test_handshake_message_without_records)
{
	uint8_t buf[4096];
	struct client_hello ch;
	size_t n = ch_build(&full, 16384, buf, sizeof(buf));

	CHECK(ch_parse_message(buf + 5, n - 5, &ch) == CH_OK);
	CHECK(!strcmp(ch.sni, "api.github.com"));
	CHECK(ch_parse_message(buf + 5, n - 6, &ch) == CH_NEED_MORE);
}
