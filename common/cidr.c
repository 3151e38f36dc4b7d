/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "xalloc.h"

int addr_parse(const char *in, struct cidr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, in, out->addr) == 1) {
		out->family = AF_INET;
		out->plen = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, in, out->addr) == 1) {
		out->family = AF_INET6;
		out->plen = 128;
		return 0;
	}
	return -EINVAL;
}

static int bit_at(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

bool cidr_contains(const struct cidr *c, int family, const uint8_t *addr)
{
	if (c->family != family)
		return false;
	for (unsigned i = 0; i < c->plen; i++)
		if (bit_at(c->addr, i) != bit_at(addr, i))
			return false;
	return true;
}

int cidr_parse(const char *in, struct cidr *out, char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(in, '/'), *why = NULL;
	size_t alen = slash ? (size_t)(slash - in) : strlen(in);
	unsigned long plen = 0;
	unsigned i, max;

	if (alen >= sizeof(buf)) {
		why = "not an address";
		goto bad;
	}
	memcpy(buf, in, alen);
	buf[alen] = '\0';
	if (addr_parse(buf, out) < 0) {
		why = "not an address";
		goto bad;
	}
	max = out->plen;
	if (slash) {
		const char *p = slash + 1;
		char *end;

		if (*p < '0' || *p > '9') {
			why = "bad prefix length";
			goto bad;
		}
		plen = strtoul(p, &end, 10);
		if (*end || plen > max) {
			why = "bad prefix length";
			goto bad;
		}
		out->plen = (uint8_t)plen;
	}
	for (i = out->plen; i < max; i++) {
		if (bit_at(out->addr, i)) {
			why = "host bits set beyond the prefix";
			goto bad;
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid address range `%s': %s", in, why);
	return -EINVAL;
}

/* IPv4 without printf (inet_ntop's way, and each audit row has two) */
static void v4_format(const uint8_t *a, char *out)
{
	for (int i = 0; i < 4; i++) {
		if (a[i] >= 100)
			*out++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*out++ = (char)('0' + a[i] / 10 % 10);
		*out++ = (char)('0' + a[i] % 10);
		*out++ = i < 3 ? '.' : 0;
	}
}

void addr_format(int family, const uint8_t *addr, char out[CIDR_TEXT_MAX])
{
	if (family == AF_INET)
		v4_format(addr, out);
	else if (!inet_ntop(family, addr, out, CIDR_TEXT_MAX))
		snprintf(out, CIDR_TEXT_MAX, "?");
}

void cidr_format(const struct cidr *c, char out[CIDR_TEXT_MAX])
{
	size_t n;

	addr_format(c->family, c->addr, out);
	n = strlen(out);
	snprintf(out + n, CIDR_TEXT_MAX - n, "/%u", c->plen);
}

struct cnode {
	uint32_t child[2];	/* 0: none (node 0 is a root) */
	int64_t rule;		/* -1: no prefix ends here */
};

struct cidr_set {
	struct cnode *nodes;
	size_t n, cap;
	size_t count;
};

static uint32_t cnode_new(struct cidr_set *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->nodes = xreallocarray(s->nodes, s->cap, sizeof(*s->nodes));
	}
	s->nodes[s->n] = (struct cnode){ .rule = -1 };
	return (uint32_t)s->n++;
}

struct cidr_set *cidr_set_new(void)
{
	struct cidr_set *s = xcalloc(1, sizeof(*s));

	cnode_new(s);		/* IPv4 root */
	cnode_new(s);		/* IPv6 root */
	return s;
}

void cidr_set_free(struct cidr_set *s)
{
	if (!s)
		return;
	free(s->nodes);
	free(s);
}

size_t cidr_set_count(const struct cidr_set *s)
{
	return s->count;
}

int cidr_set_add(struct cidr_set *s, const struct cidr *c, uint32_t rule_id)
{
	uint32_t node = c->family == AF_INET ? 0 : 1;
	unsigned i;

	for (i = 0; i < c->plen; i++) {
		int b = bit_at(c->addr, i);
		if (!s->nodes[node].child[b]) {
			uint32_t n = cnode_new(s);
			s->nodes[node].child[b] = n;
		}
		node = s->nodes[node].child[b];
	}
	if (s->nodes[node].rule >= 0)
		return -EEXIST;
	s->nodes[node].rule = rule_id;
	s->count++;
	return 0;
}

int64_t cidr_set_lookup(const struct cidr_set *s, int family,
			const uint8_t *addr)
{
	uint32_t node = family == AF_INET ? 0 : 1;
	unsigned i, bits = family == AF_INET ? 32 : 128;
	int64_t best = s->nodes[node].rule;

	for (i = 0; i < bits; i++) {
		node = s->nodes[node].child[bit_at(addr, i)];
		if (!node)
			break;
		if (s->nodes[node].rule >= 0)
			best = s->nodes[node].rule;
	}
	return best;
}
