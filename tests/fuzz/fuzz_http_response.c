/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The response path of the broker: a response head from a hostile
 * server parsed, rebuilt for the sandbox (common/http_rewrite.c: its
 * Connection fields out, "Connection: close" in) into a buffer of
 * exactly the size computed first, then its body's framing. The first
 * byte: bit 0 the request was HEAD, bit 1 the sandbox asked to close. */
#include <stdlib.h>
#include <string.h>

#include "http_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the sandbox gets parses as the same response, with Connection
 * only as the broker set it. */
static void check_reparse(const uint8_t *in, const struct http_head *was,
			  const uint8_t *out, size_t n, bool head_req,
			  bool add_close)
{
	static struct http_head h;
	size_t conn = 0, kept = add_close;

	for (size_t j = 0; j < was->nf; j++)
		kept += !http_field_is(in, &was->f[j], "connection");
	if (n > HTTP_RESP_HEAD_MAX || kept > HTTP_HEADERS_MAX)
		return;	/* more than the broker itself would read */
	if (http_response_parse(out, n, head_req, &h) != HTTP_OK ||
	    h.len != n || h.status != was->status)
		abort();
	for (size_t j = 0; j < h.nf; j++)
		conn += http_field_is(out, &h.f[j], "connection");
	if (conn != (add_close ? 1u : 0u))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_head h;
	struct http_framing fr;
	bool head_req, add_close;
	size_t n, used;
	uint8_t *out;

	if (size < 1)
		return 0;
	head_req = data[0] & 1;
	add_close = data[0] & 2;
	data++;
	size--;
	if (http_response_parse(data, size, head_req, &h) != HTTP_OK)
		return 0;
	n = http_response_rewrite_size(data, &h, add_close);
	out = malloc(n);
	if (http_response_rewrite(out, n - 1, data, &h, add_close) != 0 ||
	    http_response_rewrite(out, n, data, &h, add_close) != n)
		abort();
	check_reparse(data, &h, out, n, head_req, add_close);
	free(out);
	http_framing_init(&fr, &h);
	http_framing_feed(&fr, data + h.len, size - h.len, &used);
	return 0;
}
