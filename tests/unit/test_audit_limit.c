/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Denied audit rows limited per sandbox, and what is held back counted. */
#include <string.h>

#include "audit_limit.h"
#include "test.h"

#define SEC 1000000000ull

TEST(test_audit_limit_holds_back_past_the_burst_and_counts)
{
	char name[64];
	uint64_t n, t = 5 * SEC;
	unsigned ok = 0;

	audit_limit_reset();
	for (unsigned i = 0; i < AUDIT_DENY_BURST + 500; i++)
		ok += audit_limit_take("flood", t);
	CHECK(ok == AUDIT_DENY_BURST);
	CHECK(audit_limit_take("quiet", t));	/* others unaffected */
	CHECK(!audit_limit_suppressed(t, name, sizeof(name), &n));
	/* a second later: room again, and one row says what was held */
	CHECK(audit_limit_suppressed(t + SEC, name, sizeof(name), &n));
	CHECK(!strcmp(name, "flood") && n == 500);
	CHECK(!audit_limit_suppressed(t + SEC, name, sizeof(name), &n));
	CHECK(audit_limit_take("flood", t + SEC));
	audit_limit_reset();
}
