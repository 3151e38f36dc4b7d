/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "csum.h"
#include "strip.h"

static void put16(uint8_t *at, size_t v)
{
	at[0] = (uint8_t)(v >> 8);
	at[1] = (uint8_t)v;
}

size_t strip_payload(const uint8_t *ip, const struct pkt *p, uint8_t *out,
		     size_t outlen)
{
	size_t hlen = (size_t)(p->payload - ip);
	size_t l4off = (size_t)(p->l4 - ip), l4len = hlen - l4off;
	int v6 = p->family == AF_INET6;
	uint8_t *tcp = out + l4off;
	uint16_t c;

	if (hlen > outlen || l4off > hlen)
		return 0;
	memcpy(out, ip, hlen);
	if (v6) {
		put16(out + 4, hlen - 40);
	} else {
		put16(out + 2, hlen);
		out[10] = out[11] = 0;
		c = csum_fold(csum_add(out, (size_t)(out[0] & 0xf) * 4, 0));
		memcpy(out + 10, &c, 2);
	}
	tcp[16] = tcp[17] = 0;
	c = csum_fold(csum_add(tcp, l4len, csum_pseudo(v6, p->src, p->dst,
						       IPPROTO_TCP, l4len)));
	memcpy(tcp + 16, &c, 2);
	return hlen;
}
