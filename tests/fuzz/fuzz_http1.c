/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The broker's HTTP/1.1 parsers: a request head, a response head, and
 * the body framing they lead to, fed in two pieces. */
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head h;
	struct http_framing fr;
	const char *why;
	size_t used, half;
	int status;

	if (http_request_parse(data, size, &h, &status, &why) == HTTP_OK) {
		http_framing_init(&fr, &h);
		half = (size - h.len) / 2;
		if (http_framing_feed(&fr, data + h.len, half, &used) == 0)
			http_framing_feed(&fr, data + h.len + used,
					  size - h.len - used, &used);
	}
	if (http_response_parse(data, size, size & 1, &h) == HTTP_OK) {
		http_framing_init(&fr, &h);
		http_framing_feed(&fr, data + h.len, size - h.len, &used);
	}
	return 0;
}
