/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Control messages: framing and JSON, as the daemon reads them. */
#include "ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0, off = 0;
	json_t *msg;
	char err[256];

	while (off < size && ctl_frame_parse(data + off, size - off, &used,
					     &msg, err, sizeof(err)) ==
				     CTL_FRAME) {
		json_decref(msg);
		off += used;
	}
	return 0;
}
