/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "test.h"

static int64_t lookup(struct cidr_set *s, const char *addr)
{
	struct cidr a;

	if (addr_parse(addr, &a) < 0)
		return -2;
	return cidr_set_lookup(s, a.family, a.addr);
}

static struct cidr_set *set_of(const char *const *ranges, size_t n)
{
	struct cidr_set *s = cidr_set_new();
	char err[128];
	struct cidr c;
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_parse(ranges[i], &c, err, sizeof(err)) == 0)
			cidr_set_add(s, &c, (uint32_t)i);
	return s;
}

TEST(test_longest_prefix_wins)
{
	const char *r[] = { "198.18.0.0/15", "198.18.1.0/24", "198.18.1.7" };
	struct cidr_set *s = set_of(r, 3);

	CHECK(cidr_set_count(s) == 3);
	CHECK(lookup(s, "198.19.255.1") == 0);
	CHECK(lookup(s, "198.18.1.1") == 1);
	CHECK(lookup(s, "198.18.1.7") == 2);
	CHECK(lookup(s, "198.20.0.1") == -1);
	cidr_set_free(s);
}

TEST(test_ipv6_ranges_match_ipv6_only)
{
	const char *r[] = { "2001:db8::/32", "2001:db8:1::/48", "::/0" };
	struct cidr_set *s = set_of(r, 2);

	CHECK(lookup(s, "2001:db8:1::5") == 1);
	CHECK(lookup(s, "2001:db8:2::5") == 0);
	CHECK(lookup(s, "2001:db9::1") == -1);
	CHECK(lookup(s, "198.18.0.1") == -1);
	cidr_set_free(s);
	s = set_of(r, 3);
	CHECK(lookup(s, "2001:db9::1") == 2);
	CHECK(lookup(s, "198.18.0.1") == -1);
	cidr_set_free(s);
}

TEST(test_zero_prefix_matches_every_address_of_its_family)
{
	const char *r[] = { "0.0.0.0/0" };
	struct cidr_set *s = set_of(r, 1);

	CHECK(lookup(s, "203.0.113.9") == 0);
	CHECK(lookup(s, "2001:db8::1") == -1);
	cidr_set_free(s);
}

TEST(test_bad_ranges_refused_with_the_input_named)
{
	const char *bad[] = { "198.18.0.1/15", "198.18.0.0/33", "2001:db8::/129",
			      "10.0.0.0/", "10.0.0.0/x", "example.com",
			      "10.0.0.256", "2001:db8::/-1", "" };
	char err[128];
	struct cidr c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(cidr_parse(bad[i], &c, err, sizeof(err)) < 0);
		CHECK(strstr(err, bad[i]) != NULL);
	}
	CHECK(cidr_parse("198.18.0.1/15", &c, err, sizeof(err)) < 0);
	CHECK(strstr(err, "host bits") != NULL);
}

TEST(test_ranges_are_formatted_canonically)
{
	char err[128], out[CIDR_TEXT_MAX];
	struct cidr c;

	CHECK(cidr_parse("2001:0db8:0000::/32", &c, err, sizeof(err)) == 0);
	cidr_format(&c, out);
	CHECK(!strcmp(out, "2001:db8::/32"));
	CHECK(cidr_parse("198.18.0.7", &c, err, sizeof(err)) == 0);
	cidr_format(&c, out);
	CHECK(!strcmp(out, "198.18.0.7/32"));
}

/* IPv4 by its own formatter: every octet's width, against inet_ntop */
TEST(test_addresses_are_formatted_as_inet_ntop_does)
{
	char out[CIDR_TEXT_MAX], want[INET_ADDRSTRLEN];
	uint8_t a[4];

	for (unsigned v = 0; v < 256; v++) {
		a[0] = (uint8_t)v;
		a[1] = (uint8_t)(255 - v);
		a[2] = (uint8_t)(v * 7);
		a[3] = (uint8_t)(v / 3);
		addr_format(AF_INET, a, out);
		inet_ntop(AF_INET, a, want, sizeof(want));
		CHECK(!strcmp(out, want));
	}
}
