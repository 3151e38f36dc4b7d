/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The DNS parser on both sides: the input as a client's query (plain and
 * TCP-framed), and as an upstream's answer to it or to a fixed query. */
#include <string.h>

#include "dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[DNS_MSG_MAX];

static void as_answer(const uint8_t *m, size_t len, const uint8_t *query,
		      const struct dns_query *q)
{
	struct dns_answer a;
	size_t n;

	if (len < 2)
		return;
	n = dns_answer_filter(m, len, (uint16_t)(m[0] << 8 | m[1]), query, q,
			      512, out, sizeof(out), &a);
	if (n > sizeof(out) || strlen(a.text) >= sizeof(a.text) ||
	    a.naddr > DNS_LEARN_MAX)
		__builtin_trap();
	dns_answer_filter(m, len, (uint16_t)(m[0] << 8 | m[1]), query, q, 0,
			  out, sizeof(out), &a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fixed[64];
	static struct dns_query fq;
	struct dns_query q;
	long framed = dns_tcp_frame(data, size);
	size_t n;

	if (!fq.qend) {
		n = dns_query_build("allowed.test", DNS_T_A, 0x1234, fixed,
				    sizeof(fixed));
		dns_query_parse(fixed, n, &fq);
	}
	if (framed > 2)
		dns_query_parse(data + 2, (size_t)framed - 2, &q);
	if (dns_query_parse(data, size, &q) == DNS_OK) {
		dns_query_forward(data, &q, 1, out, sizeof(out));
		dns_reply_error(data, &q, DNS_R_NXDOMAIN, DNS_EDE_BLOCKED,
				"blocked", out, sizeof(out));
		as_answer(data, size, data, &q);
	} else {
		dns_reply_error(data, &q, DNS_R_FORMERR, -1, NULL, out,
				sizeof(out));
	}
	as_answer(data, size, fixed, &fq);
	return 0;
}
