/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CIDR_H
#define SBXFW_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address or a prefix; IPv4 in the first 4 bytes of addr. */
struct cidr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t plen;
	uint8_t addr[16];
};

#define CIDR_TEXT_MAX 50

/* "198.18.0.0/15", "2001:db8::/32", or a bare address (a host prefix).
 * Host bits set beyond the prefix are refused. */
int cidr_parse(const char *in, struct cidr *out, char *err, size_t errlen);
/* Whether addr (of family) lies in c. */
bool cidr_contains(const struct cidr *c, int family, const uint8_t *addr);
/* A bare address, no prefix. */
int addr_parse(const char *in, struct cidr *out);
void cidr_format(const struct cidr *c, char out[CIDR_TEXT_MAX]);
void addr_format(int family, const uint8_t *addr, char out[CIDR_TEXT_MAX]);

/* Longest-prefix lookup over IPv4 and IPv6 prefixes (binary tries). */
struct cidr_set;

struct cidr_set *cidr_set_new(void);
void cidr_set_free(struct cidr_set *s);
int cidr_set_add(struct cidr_set *s, const struct cidr *c, uint32_t rule_id);
size_t cidr_set_count(const struct cidr_set *s);
/* Rule id of the longest prefix holding the address, or -1. */
int64_t cidr_set_lookup(const struct cidr_set *s, int family,
			const uint8_t *addr);

#endif
