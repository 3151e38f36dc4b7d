/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "test.h"

TEST(test_ctl_frame_round_trip)
{
	json_t *in = json_pack("{s:i, s:s}", "version", 1, "command", "list");
	json_t *out = NULL;
	size_t len, used = 0;
	char *frame = ctl_frame_build(in, &len), err[128];

	CHECK(ctl_frame_parse((uint8_t *)frame, len - 1, &used, &out, err,
			      sizeof(err)) == CTL_NEED_MORE);
	CHECK(ctl_frame_parse((uint8_t *)frame, len, &used, &out, err,
			      sizeof(err)) == CTL_FRAME);
	CHECK(used == len);
	CHECK(json_equal(in, out));
	json_decref(in);
	json_decref(out);
	free(frame);
}

TEST(test_ctl_frame_refuses_oversized_and_malformed)
{
	uint8_t big[4] = { 0x7f, 0xff, 0xff, 0xff };
	uint8_t bad[9] = { 0, 0, 0, 5, '[', '1', ']', ' ', ' ' };
	uint8_t dup[] = "\0\0\0\x0d{\"a\":1,\"a\":2}";
	json_t *out = NULL;
	size_t used;
	char err[128];

	CHECK(ctl_frame_parse(big, 4, &used, &out, err, sizeof(err)) == CTL_BAD);
	CHECK(strstr(err, "limit"));
	CHECK(ctl_frame_parse(bad, 9, &used, &out, err, sizeof(err)) == CTL_BAD);
	CHECK(strstr(err, "not a JSON object"));
	CHECK(ctl_frame_parse(dup, sizeof(dup) - 1, &used, &out, err,
			      sizeof(err)) == CTL_BAD);
	CHECK(out == NULL);
}
