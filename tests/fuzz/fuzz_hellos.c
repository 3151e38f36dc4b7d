/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's gathering of hellos the kernel logged (daemon/hellos.c),
 * compiled in whole. Input: a list of packets, each [flow:1][seq
 * offset:2][len:2][bytes]: the flow's low bit picks one of two flows
 * (a hostile sandbox interleaves them), the next TCP or UDP. */
#include <netinet/in.h>
#include <string.h>

#include "../../daemon/hellos.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_key k[2];
	size_t off = 0;
	uint64_t now = 0;

	memset(k, 0, sizeof(k));
	for (int i = 0; i < 2; i++) {
		k[i].family = AF_INET;
		k[i].proto = IPPROTO_TCP;
		k[i].sport = (uint16_t)(40000 + i);
		k[i].dport = 443;
	}
	while (off + 5 <= size) {
		struct client_hello ch;
		struct quic_conn *conn = NULL;
		struct pkt p = { .family = AF_INET };
		uint8_t f = data[off];
		struct flow_key *key = &k[f & 1];
		size_t len = (size_t)(data[off + 3] << 8 | data[off + 4]);

		p.seq = 0xfffff000u + (uint32_t)(data[off + 1] << 8 |
						 data[off + 2]);
		off += 5;
		if (len > size - off)
			len = size - off;
		p.payload = data + off;
		p.payload_len = len;
		if (f & 2) {
			p.proto = IPPROTO_UDP;
			key->proto = IPPROTO_UDP;
			if (hellos_quic(key, &p, &ch, &conn) == HELLO_NAMED &&
			    !ch.has_sni)
				__builtin_trap();
			quic_conn_free(conn);
		} else {
			p.proto = IPPROTO_TCP;
			key->proto = IPPROTO_TCP;
			if (hellos_tcp(key, &p, now++, &ch) == HELLO_NAMED &&
			    !ch.has_sni)
				__builtin_trap();
		}
		if (f & 4)
			hellos_forget(key);
		off += len;
	}
	hellos_fini();
	return 0;
}
