/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's pure parts: the mark layout, sandbox matches, the flow
 * table's bound and holding order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "marks.h"
#include "sandbox.h"
#include "test.h"

TEST(test_marks_layout_from_mask)
{
	struct marks m;

	CHECK(marks_init(&m, 0x0fff0000) == 0);
	CHECK(m.shift == 16);
	CHECK(m.state == 0x00070000);
	CHECK(m.id == 0x0ff80000);
	CHECK(m.max_id == 511);
	CHECK(mark_id(&m, 1) == 0x00080000);
	CHECK(mark_get_id(&m, (0x12345678 & ~m.mask) | mark_id(&m, 7) |
			  mark_state(&m, ST_ALLOW)) == 7);
	CHECK(marks_init(&m, 0xffffffff) == 0 && m.max_id == 0x1fffffff);
}

TEST(test_marks_refuse_gaps_and_tiny_masks)
{
	struct marks m;

	CHECK(marks_init(&m, 0) < 0);
	CHECK(marks_init(&m, 0x0f0f0000) < 0);
	CHECK(marks_init(&m, 0x00070000) < 0);	/* no room for an id */
}

static struct sandbox *sandbox_with(uint32_t id, const char *name,
				    const char *iface, const char *src)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	char err[128];

	sb->id = id;
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	sb->policy = policy_new(MODE_DENY_ALL);
	if (iface) {
		sb->match.ifaces = calloc(1, sizeof(char *));
		sb->match.ifaces[sb->match.nifaces++] = strdup(iface);
	}
	if (src) {
		sb->match.sources = calloc(1, sizeof(struct cidr));
		cidr_parse(src, &sb->match.sources[sb->match.nsources++], err,
			   sizeof(err));
	}
	return sb;
}

static int check_match(const char *iface, const char *src)
{
	struct sandbox *sb = sandbox_with(0, "new", iface, src);
	char err[256];
	int rc = sandbox_match_check(&sb->match, err, sizeof(err));

	sandbox_free(sb);
	return rc;
}

TEST(test_sandbox_matches_may_not_overlap)
{
	sandbox_init(16);
	sandbox_insert(sandbox_with(1, "a", "tap-sb1*", "198.18.8.0/24"));
	CHECK(check_match("tap-sb1x", NULL) < 0);	/* under the prefix */
	CHECK(check_match("tap-sb*", NULL) < 0);	/* holds the prefix */
	CHECK(check_match("tap-sb2", NULL) == 0);
	CHECK(check_match(NULL, "198.18.8.128/25") < 0);
	CHECK(check_match(NULL, "198.18.0.0/15") < 0);
	CHECK(check_match(NULL, "198.18.9.0/24") == 0);
	CHECK(check_match("a*b", NULL) < 0);		/* star not at the end */
	CHECK(check_match("abcdefghijklmnop", NULL) < 0);	/* > 15 */
	CHECK(check_match(NULL, NULL) < 0);		/* nothing to match */
	sandbox_fini();
}

TEST(test_flow_table_is_bounded_and_holds_in_stream_order)
{
	struct flow_key k = { .family = 2, .proto = 6, .sport = 1 };
	struct held out[FLOW_HELD_MAX];
	bool straddle;
	struct flow *f;

	flow_init(2, 1000);
	CHECK((f = flow_create(&k, 1, 0)));
	k.sport = 2;
	CHECK(flow_create(&k, 1, 0));
	k.sport = 3;
	CHECK(flow_create(&k, 1, 0) == NULL);	/* full: the caller evicts */
	f->base = 0xfffffff0;			/* sequence numbers wrap */
	CHECK(flow_hold(f, &(struct held){ .id = 1, .seq = 0x10, .len = 8 }));
	CHECK(flow_hold(f, &(struct held){ .id = 2, .seq = 0xfffffff0,
					    .len = 8 }));
	CHECK(flow_hold(f, &(struct held){ .id = 3, .seq = 0xfffffff8,
					    .len = 8 }));
	CHECK(flow_held_count() == 3);
	/* the first 16 bytes: ids 2 and 3, in stream order */
	CHECK(flow_take_held(f, 16, out, &straddle) == 2 && !straddle);
	CHECK(out[0].id == 2 && out[1].id == 3 && flow_held_count() == 1);
	CHECK(flow_take_held(f, 33, out, &straddle) == 0 && straddle);
	CHECK(flow_take_all(f, out) == 1 && out[0].id == 1);
	CHECK(flow_hold(f, &(struct held){ .id = 4, .seq = 0 }));
	flow_fini();
	CHECK(flow_count() == 0 && flow_held_count() == 0);
}

/* A sandbox's share counts the flows waiting for a verdict (or for its
 * acknowledgement), not the decided ones kept for late packets: at a
 * thousand new flows a second those alone would fill it. */
TEST(test_flow_share_counts_undecided_flows_only)
{
	struct flow_key k = { .family = 2, .proto = 6 };
	struct flow *f[4];

	flow_init(8, 1000);
	for (int i = 0; i < 4; i++) {
		k.sport = (uint16_t)(i + 1);
		CHECK((f[i] = flow_create(&k, 7, 0)));
	}
	CHECK(flow_sandbox_count(7) == 4 && flow_sandbox_count(8) == 0);
	flow_decided(f[0], PH_JUDGED);		/* still waiting for an ACK */
	CHECK(flow_sandbox_count(7) == 4);
	flow_decided(f[0], PH_ALLOWED);
	flow_decided(f[1], PH_DENIED);
	CHECK(flow_sandbox_count(7) == 2 && flow_count() == 4);
	flow_destroy(f[0]);			/* decided: not counted twice */
	flow_destroy(f[2]);
	CHECK(flow_sandbox_count(7) == 1);
	flow_fini();
	CHECK(flow_sandbox_count(7) == 0);
}
