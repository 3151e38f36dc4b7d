/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "inject_addrs.h"
#include "log.h"
#include "nft.h"
#include "xalloc.h"

#define NS 1000000000ull
#define GRACE_NS (300 * NS)
#define MIN_NS (60 * NS)
#define MAX_NS (86400 * NS)
#define BUCKETS 4096

struct elem {
	struct elem *next;
	uint32_t sb;
	int family;
	uint8_t addr[16];
	uint64_t until;
};

static struct elem *buckets[BUCKETS];
static size_t count;

static size_t bucket(uint32_t sb, const uint8_t *addr)
{
	uint32_t h = sb * 2654435761u;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h % BUCKETS;
}

static void kernel(bool add, const struct marks *m, const struct elem *e,
		   uint64_t timeout_ns)
{
	char err[256];

	if (nft_inject_elem(add, m, e->sb, e->family, e->addr,
			    timeout_ns / 1000000, err, sizeof(err)) < 0 &&
	    add)
		log_warnx("inject set: %s", err);
}

/* Entries the kernel has timed out already. */
static void sweep(uint64_t now)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct elem **pp = &buckets[i]; *pp;) {
			struct elem *e = *pp;

			if (e->until > now) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			count--;
		}
}

void inject_addrs_learn(const struct marks *m, uint32_t sb, int family,
			const uint8_t *addr, uint64_t left_ns, uint64_t now)
{
	uint8_t key[16] = { 0 };
	uint64_t t = left_ns + GRACE_NS;
	struct elem *e;
	size_t b;

	t = t < MIN_NS ? MIN_NS : t > MAX_NS ? MAX_NS : t;
	memcpy(key, addr, family == AF_INET ? 4 : 16);
	b = bucket(sb, key);
	for (e = buckets[b]; e; e = e->next)
		if (e->sb == sb && e->family == family &&
		    !memcmp(e->addr, key, 16))
			break;
	if (e && e->until + MIN_NS >= now + t)
		return;
	if (e) {
		kernel(false, m, e, 0);	/* a timeout is only set on adding */
	} else {
		if (count >= INJECT_ADDRS_MAX)
			sweep(now);
		if (count >= INJECT_ADDRS_MAX) {
			log_warnx("inject set: %d addresses: not adding more",
				  INJECT_ADDRS_MAX);
			return;
		}
		e = xcalloc(1, sizeof(*e));
		e->sb = sb;
		e->family = family;
		memcpy(e->addr, key, 16);
		e->next = buckets[b];
		buckets[b] = e;
		count++;
	}
	e->until = now + t;
	kernel(true, m, e, t);
}

void inject_addrs_forget(const struct marks *m, uint32_t sb)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct elem **pp = &buckets[i]; *pp;) {
			struct elem *e = *pp;

			if (e->sb != sb) {
				pp = &e->next;
				continue;
			}
			kernel(false, m, e, 0);
			*pp = e->next;
			free(e);
			count--;
		}
}

void inject_addrs_fini(void)
{
	sweep(UINT64_MAX);
}
