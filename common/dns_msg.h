/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_DNS_MSG_H
#define SBXFW_DNS_MSG_H

/* DNS messages (RFC 1035, EDNS RFC 6891, EDE RFC 8914): pure, bounded,
 * no allocation. Names are read with compression pointers that must point
 * strictly backwards (no loops) and a bounded number of hops. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MSG_MAX 65535
#define DNS_UDP_DEFAULT 512	/* without EDNS */
#define DNS_EDNS_SIZE 1232	/* what the daemon advertises */
#define DNS_NAME_TEXT 256	/* presentation form, NUL included */
#define DNS_LEARN_MAX 32	/* addresses kept from one answer */
#define DNS_ANSWERS_TEXT 512

enum { DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6,
       DNS_T_PTR = 12, DNS_T_MX = 15, DNS_T_TXT = 16, DNS_T_AAAA = 28,
       DNS_T_SRV = 33, DNS_T_DNAME = 39, DNS_T_OPT = 41, DNS_T_HTTPS = 65,
       DNS_T_ANY = 255 };
enum { DNS_R_NOERROR = 0, DNS_R_FORMERR = 1, DNS_R_SERVFAIL = 2,
       DNS_R_NXDOMAIN = 3, DNS_R_NOTIMP = 4, DNS_R_REFUSED = 5 };
#define DNS_EDE_BLOCKED 15
#define DNS_EDE_PROHIBITED 18

/* What a query asks. */
struct dns_query {
	uint16_t id;
	uint16_t flags;		/* the header's second word */
	char name[DNS_NAME_TEXT];	/* lower case, no trailing dot */
	bool host;		/* letters, digits, `-' and `_' labels only:
				 * a name the policy can judge */
	uint16_t qtype, qclass;
	bool edns, dnssec_ok;
	uint16_t udp_size;	/* what the client can take over UDP */
	size_t qstart, qend;	/* the question's bytes in the message */
};

enum dns_parse { DNS_OK, DNS_DROP, DNS_FORMERR, DNS_NOTIMP };

/* A query from a client: DNS_DROP when it cannot be answered at all (too
 * short, or a response), DNS_FORMERR/DNS_NOTIMP for the answer to give. */
enum dns_parse dns_query_parse(const uint8_t *m, size_t len,
			       struct dns_query *q);

/* The query to send upstream: the client's question with a new id, its
 * RD/CD bits, and only our own OPT (when the client used EDNS). */
size_t dns_query_forward(const uint8_t *query, const struct dns_query *q,
			 uint16_t id, uint8_t *out, size_t cap);

/* A query of our own (the daemon resolving a name), with EDNS. 0 when the
 * name does not fit. */
size_t dns_query_build(const char *name, uint16_t qtype, uint16_t id,
		       uint8_t *out, size_t cap);

/* An answer made here: rcode, and when the client used EDNS, an Extended
 * DNS Error (ede >= 0) with its text. The question is echoed when it was
 * parsed. */
size_t dns_reply_error(const uint8_t *query, const struct dns_query *q,
		       uint16_t rcode, int ede, const char *text,
		       uint8_t *out, size_t cap);

struct dns_learned_addr {
	int family;
	uint8_t addr[16];
	uint32_t ttl;
};

/* What a filtered answer said. */
struct dns_answer {
	uint16_t rcode;
	bool truncated;
	size_t naddr;
	struct dns_learned_addr addr[DNS_LEARN_MAX];
	uint32_t min_ttl;	/* of the records kept in the answer section */
	char text[DNS_ANSWERS_TEXT];	/* "CNAME b.test, A 198.18.2.2" */
};

/* An upstream answer to `q' sent with id `id', rebuilt for the client:
 * the client's id and question bytes, answer records only for the name
 * asked and the names its CNAME chain leads to, authority and additional
 * records only for those names (and the OPT record). Addresses the chain
 * leads to are collected in `a'. With `limit' (UDP), a message that would
 * not fit is cut to its header and question with TC set.
 * Returns the length, or 0 when the answer is malformed or is not one to
 * this question. */
size_t dns_answer_filter(const uint8_t *m, size_t len, uint16_t id,
			 const uint8_t *query, const struct dns_query *q,
			 size_t limit, uint8_t *out, size_t cap,
			 struct dns_answer *a);

/* TCP framing (RFC 1035 4.2.2): the length of the first whole message in
 * buf, 2-byte prefix included; 0 when more bytes are needed; -1 for a
 * zero-length message. */
long dns_tcp_frame(const uint8_t *buf, size_t have);

const char *dns_type_name(uint16_t type, char buf[12]);
const char *dns_rcode_name(uint16_t rcode);

#endif
