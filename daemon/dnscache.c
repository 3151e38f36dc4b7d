/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnscache.h"
#include "xalloc.h"

#define ADDRS_MAX 64		/* per name: round-robin sets are smaller */
#define NS 1000000000ull
#define TTL_MAX 86400u		/* a day, whatever an answer says */

struct addr_until {
	int family;
	uint8_t addr[16];
	uint64_t until;
};

struct entry {
	struct entry *hnext, *prev, *next;	/* hash chain; LRU, oldest first */
	uint32_t sb, hash;
	uint64_t own_until[2];	/* by family: IPv4, IPv6 */
	bool own_pending[2];
	size_t n, cap;
	struct addr_until *addrs;
	char name[];
};

static struct entry **buckets, *oldest, *newest;
static size_t nbuckets, count, max_entries, bytes;

void dnscache_init(size_t max)
{
	max_entries = max;
	for (nbuckets = 1; nbuckets < max; nbuckets <<= 1)
		;
	buckets = xcalloc(nbuckets, sizeof(*buckets));
}

static uint32_t hash(uint32_t sb, const char *name)
{
	uint32_t h = 2166136261u ^ sb;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

static void lru_unlink(struct entry *e)
{
	*(e->prev ? &e->prev->next : &oldest) = e->next;
	*(e->next ? &e->next->prev : &newest) = e->prev;
}

static void lru_append(struct entry *e)
{
	e->prev = newest;
	e->next = NULL;
	*(newest ? &newest->next : &oldest) = e;
	newest = e;
}

static void destroy(struct entry *e)
{
	struct entry **p = &buckets[e->hash & (nbuckets - 1)];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	lru_unlink(e);
	bytes -= sizeof(*e) + strlen(e->name) + 1 +
		 e->cap * sizeof(*e->addrs);
	free(e->addrs);
	free(e);
	count--;
}

void dnscache_fini(void)
{
	while (oldest)
		destroy(oldest);
	free(buckets);
	buckets = NULL;
}

static struct entry *find(uint32_t sb, const char *name)
{
	uint32_t h = hash(sb, name);

	if (!buckets)
		return NULL;
	for (struct entry *e = buckets[h & (nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->sb == sb && !strcmp(e->name, name))
			return e;
	return NULL;
}

static struct entry *get(uint32_t sb, const char *name)
{
	struct entry *e = find(sb, name);
	size_t len = strlen(name) + 1;
	uint32_t h;

	if (e) {
		lru_unlink(e);
		lru_append(e);
		return e;
	}
	if (count >= max_entries)
		destroy(oldest);
	h = hash(sb, name);
	e = xcalloc(1, sizeof(*e) + len);
	bytes += sizeof(*e) + len;
	memcpy(e->name, name, len);
	e->sb = sb;
	e->hash = h;
	e->hnext = buckets[h & (nbuckets - 1)];
	buckets[h & (nbuckets - 1)] = e;
	lru_append(e);
	count++;
	return e;
}

static void prune(struct entry *e, uint64_t now)
{
	size_t j = 0;

	for (size_t i = 0; i < e->n; i++)
		if (e->addrs[i].until > now)
			e->addrs[j++] = e->addrs[i];
	e->n = j;
}

static void add(struct entry *e, const struct dns_learned_addr *a,
		uint64_t until)
{
	size_t len = a->family == AF_INET ? 4 : 16, soonest = 0;

	for (size_t i = 0; i < e->n; i++) {
		struct addr_until *x = &e->addrs[i];

		if (x->family == a->family && !memcmp(x->addr, a->addr, len)) {
			if (until > x->until)
				x->until = until;
			return;
		}
		if (x->until < e->addrs[soonest].until)
			soonest = i;
	}
	if (e->n == ADDRS_MAX) {
		e->addrs[soonest] = (struct addr_until){ a->family, { 0 },
							 until };
		memcpy(e->addrs[soonest].addr, a->addr, len);
		return;
	}
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 4;

		bytes += (cap - e->cap) * sizeof(*e->addrs);
		e->cap = cap;
		e->addrs = xreallocarray(e->addrs, e->cap, sizeof(*e->addrs));
	}
	e->addrs[e->n] = (struct addr_until){ a->family, { 0 }, until };
	memcpy(e->addrs[e->n++].addr, a->addr, len);
}

/* Within the byte bound: the least recently learned go first (never e,
 * which is being filled). */
static void trim(const struct entry *e)
{
	while (bytes > DNSCACHE_BYTES_MAX && oldest && oldest != e)
		destroy(oldest);
}

void dnscache_learn(uint32_t sb, const char *name,
		    const struct dns_learned_addr *a, size_t n,
		    uint64_t extra_ns, uint64_t now)
{
	struct entry *e;

	if (!n)
		return;
	e = get(sb, name);
	prune(e, now);
	for (size_t i = 0; i < n; i++)
		add(e, &a[i], now + (a[i].ttl < TTL_MAX ? a[i].ttl : TTL_MAX) *
			      NS + extra_ns);
	trim(e);
}

bool dnscache_has(uint32_t sb, const char *name, int family,
		  const uint8_t *addr, uint64_t now)
{
	const struct entry *e = find(sb, name);
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; e && i < e->n; i++)
		if (e->addrs[i].family == family && e->addrs[i].until > now &&
		    !memcmp(e->addrs[i].addr, addr, len))
			return true;
	return false;
}

enum own_state dnscache_own(const char *name, int family, uint64_t now)
{
	const struct entry *e = find(DNSCACHE_OWN, name);
	int f = family == AF_INET6;

	if (!e)
		return OWN_UNKNOWN;
	if (e->own_pending[f])
		return OWN_PENDING;
	return e->own_until[f] > now ? OWN_KNOWN : OWN_UNKNOWN;
}

void dnscache_own_pending(const char *name, int family)
{
	get(DNSCACHE_OWN, name)->own_pending[family == AF_INET6] = true;
}

void dnscache_own_done(const char *name, int family,
		       const struct dns_learned_addr *a, size_t n,
		       uint64_t for_ns, uint64_t grace_ns, uint64_t now)
{
	struct entry *e = get(DNSCACHE_OWN, name);
	int f = family == AF_INET6;

	e->own_pending[f] = false;
	e->own_until[f] = now + for_ns;
	prune(e, now);
	for (size_t i = 0; i < n; i++)
		if (a[i].family == family)
			add(e, &a[i], now + for_ns + grace_ns);
	trim(e);
}

void dnscache_forget(uint32_t sb, bool (*keep)(const char *name, void *arg),
		     void *arg)
{
	struct entry *e = oldest, *next;

	for (; e; e = next) {
		next = e->next;
		if (e->sb == sb && (!keep || !keep(e->name, arg)))
			destroy(e);
	}
}

void dnscache_each(uint32_t sb, dnscache_fn fn, void *arg, uint64_t now)
{
	for (struct entry *e = oldest; e; e = e->next) {
		if (e->sb != sb)
			continue;
		for (size_t i = 0; i < e->n; i++)
			if (e->addrs[i].until > now)
				fn(e->name, e->addrs[i].family,
				   e->addrs[i].addr, e->addrs[i].until - now,
				   arg);
	}
}

size_t dnscache_count(void)
{
	return count;
}

size_t dnscache_bytes(void)
{
	return bytes;
}
