/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dnscache.h"
#include "test.h"

#define S 1000000000ull

static const struct dns_learned_addr a1 = { AF_INET, { 198, 18, 2, 2 }, 10 };
static const struct dns_learned_addr a6 = {
	AF_INET6, { 0x20, 0x01, 0x0d, 0xb8, 0, 2, [15] = 2 }, 60 };

TEST(test_dnscache_addresses_last_ttl_plus_grace)
{
	const uint8_t other[4] = { 198, 18, 3, 10 };

	dnscache_init(16);
	dnscache_learn(1, "a.test", &a1, 1, 5 * S, 100 * S);
	dnscache_learn(1, "a.test", &a6, 1, 5 * S, 100 * S);
	CHECK(dnscache_has(1, "a.test", AF_INET, a1.addr, 100 * S));
	CHECK(dnscache_has(1, "a.test", AF_INET, a1.addr, 114 * S));
	CHECK(!dnscache_has(1, "a.test", AF_INET, a1.addr, 115 * S));
	CHECK(dnscache_has(1, "a.test", AF_INET6, a6.addr, 150 * S));
	CHECK(!dnscache_has(1, "a.test", AF_INET, other, 100 * S));
	CHECK(!dnscache_has(2, "a.test", AF_INET, a1.addr, 100 * S));
	CHECK(!dnscache_has(1, "b.test", AF_INET, a1.addr, 100 * S));
	CHECK(!dnscache_has(1, "a.test", AF_INET6, a1.addr, 100 * S));
	dnscache_fini();
}

TEST(test_dnscache_own_resolution_states)
{
	dnscache_init(16);
	CHECK(dnscache_own("a.test", AF_INET, 0) == OWN_UNKNOWN);
	dnscache_own_pending("a.test", AF_INET);
	CHECK(dnscache_own("a.test", AF_INET, 0) == OWN_PENDING);
	CHECK(dnscache_own("a.test", AF_INET6, 0) == OWN_UNKNOWN);
	dnscache_own_done("a.test", AF_INET, &a1, 1, 5 * S, 300 * S, 10 * S);
	CHECK(dnscache_own("a.test", AF_INET, 11 * S) == OWN_KNOWN);
	CHECK(dnscache_has(DNSCACHE_OWN, "a.test", AF_INET, a1.addr, 11 * S));
	/* asked again past its time, its addresses still bound for the
	 * grace (as the kernel's injection set keeps them) */
	CHECK(dnscache_own("a.test", AF_INET, 15 * S) == OWN_UNKNOWN);
	CHECK(dnscache_has(DNSCACHE_OWN, "a.test", AF_INET, a1.addr, 15 * S));
	CHECK(dnscache_has(DNSCACHE_OWN, "a.test", AF_INET, a1.addr, 314 * S));
	CHECK(!dnscache_has(DNSCACHE_OWN, "a.test", AF_INET, a1.addr, 316 * S));
	/* a failure is known too, with nothing in it */
	dnscache_own_done("b.test", AF_INET6, NULL, 0, 5 * S, 300 * S, 0);
	CHECK(dnscache_own("b.test", AF_INET6, 1) == OWN_KNOWN);
	dnscache_fini();
}

static bool keep_a(const char *name, void *arg)
{
	(void)arg;
	return !strcmp(name, "a.test");
}

TEST(test_dnscache_forgets_by_sandbox_and_name)
{
	dnscache_init(16);
	dnscache_learn(1, "a.test", &a1, 1, 0, 0);
	dnscache_learn(1, "b.test", &a1, 1, 0, 0);
	dnscache_learn(2, "b.test", &a1, 1, 0, 0);
	dnscache_forget(1, keep_a, NULL);
	CHECK(dnscache_has(1, "a.test", AF_INET, a1.addr, 1));
	CHECK(!dnscache_has(1, "b.test", AF_INET, a1.addr, 1));
	CHECK(dnscache_has(2, "b.test", AF_INET, a1.addr, 1));
	dnscache_forget(2, NULL, NULL);
	CHECK(dnscache_count() == 1);
	dnscache_fini();
}

TEST(test_dnscache_is_bounded)
{
	char name[32];

	dnscache_init(4);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		dnscache_learn(1, name, &a1, 1, 0, 0);
	}
	CHECK(dnscache_count() == 4);
	CHECK(!dnscache_has(1, "n5.test", AF_INET, a1.addr, 1));
	CHECK(dnscache_has(1, "n6.test", AF_INET, a1.addr, 1));
	CHECK(dnscache_has(1, "n9.test", AF_INET, a1.addr, 1));
	dnscache_fini();
}

TEST(test_dnscache_is_bounded_by_bytes)
{
	struct dns_learned_addr a[64];
	char name[32];

	for (unsigned i = 0; i < 64; i++)
		a[i] = (struct dns_learned_addr){ AF_INET6,
			{ 0x20, 0x01, 0x0d, 0xb8, [14] = 1, [15] = (uint8_t)i },
			300 };
	dnscache_init(65536);
	/* 65,536 names of 64 addresses would take about 140 MB */
	for (unsigned i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "n%u.test", i);
		dnscache_learn(1, name, a, 64, 0, S);
		CHECK(dnscache_bytes() <= DNSCACHE_BYTES_MAX);
	}
	CHECK(dnscache_count() < 20000);
	/* the least recently learned went first */
	CHECK(dnscache_has(1, "n19999.test", AF_INET6, a[5].addr, S));
	CHECK(!dnscache_has(1, "n0.test", AF_INET6, a[5].addr, S));
	dnscache_fini();
	CHECK(dnscache_bytes() == 0);
}
