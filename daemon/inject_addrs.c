/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "dns.h"
#include "dnscache.h"
#include "inject_addrs.h"
#include "log.h"
#include "sandbox.h"
#include "xalloc.h"

#define NS 1000000000ull
#define GRACE_NS (300 * NS)
#define MIN_NS (60 * NS)
#define MAX_NS (86400 * NS)
/* An element this close to its end is left to the kernel's timeout: a
 * delete in a batch must not meet an element that is already gone. */
#define EDGE_NS (2 * NS)
#define BUCKETS 4096

struct elem {
	struct elem *next;
	uint32_t sb;
	int family;
	uint8_t addr[16];
	uint64_t until;
	char *name;		/* the injection domain it was learnt for */
};

static struct elem *buckets[BUCKETS];
static size_t count;

/* The kernel's part of one call, committed at its end. */
static struct nft_inject *ops;
static size_t nops, ops_cap;

static size_t bucket(uint32_t sb, const uint8_t *addr)
{
	uint32_t h = sb * 2654435761u;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h % BUCKETS;
}

static void op(bool add, const struct elem *e, uint64_t timeout_ns)
{
	struct nft_inject *o;

	if (nops == ops_cap) {
		ops_cap = ops_cap ? ops_cap * 2 : 64;
		ops = xreallocarray(ops, ops_cap, sizeof(*ops));
	}
	o = &ops[nops++];
	o->add = add;
	o->sandbox = e->sb;
	o->family = e->family;
	memcpy(o->addr, e->addr, 16);
	o->timeout_ms = timeout_ns / 1000000;
}

/* One batch; should it fail (an element gone before its time), each
 * alone, a missing element's delete ignored. */
static void commit(const struct marks *m)
{
	char err[256];

	if (nft_inject_elems(m, ops, nops, err, sizeof(err)) < 0)
		for (size_t i = 0; i < nops; i++)
			if (nft_inject_elems(m, &ops[i], 1, err,
					     sizeof(err)) < 0 && ops[i].add)
				log_warnx("inject set: %s", err);
	nops = 0;
}

static void elem_free(struct elem *e)
{
	free(e->name);
	free(e);
	count--;
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
			elem_free(e);
		}
}

static struct elem *find(uint32_t sb, int family, const uint8_t *key)
{
	for (struct elem *e = buckets[bucket(sb, key)]; e; e = e->next)
		if (e->sb == sb && e->family == family &&
		    !memcmp(e->addr, key, 16))
			return e;
	return NULL;
}

static void learn_one(uint32_t sb, const char *name,
		      const struct inject_learned *a, uint64_t now)
{
	uint8_t key[16] = { 0 };
	uint64_t t = a->left_ns + GRACE_NS;
	struct elem *e;
	size_t b;

	t = t < MIN_NS ? MIN_NS : t > MAX_NS ? MAX_NS : t;
	memcpy(key, a->addr, a->family == AF_INET ? 4 : 16);
	if ((e = find(sb, a->family, key))) {
		if (strcmp(e->name, name)) {
			free(e->name);
			e->name = xstrdup(name);
		}
		/* a timeout is only set on adding: delete and add in the
		 * same batch, never a moment without it; one the kernel
		 * timed out already is only added again (a delete meeting an
		 * element gone in between fails the batch, and commit()
		 * applies each alone) */
		if (e->until > now && e->until + MIN_NS >= now + t)
			return;
		if (e->until > now)
			op(false, e, 0);
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
		e->family = a->family;
		e->name = xstrdup(name);
		memcpy(e->addr, key, 16);
		b = bucket(sb, key);
		e->next = buckets[b];
		buckets[b] = e;
		count++;
	}
	e->until = now + t;
	op(true, e, t);
}

void inject_addrs_learn(const struct marks *m, uint32_t sb, const char *name,
			const struct inject_learned *a, size_t n, uint64_t now)
{
	for (size_t i = 0; i < n; i++)
		learn_one(sb, name, &a[i], now);
	commit(m);
}

/* The sandbox's elements that `keep' refuses (all, without it) out of
 * the kernel and the list. */
static void drop(uint32_t sb, inject_keep_fn keep, void *arg, uint64_t now)
{
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct elem **pp = &buckets[i]; *pp;) {
			struct elem *e = *pp;

			if (e->sb != sb || (keep && keep(e->name, arg))) {
				pp = &e->next;
				continue;
			}
			if (e->until > now + EDGE_NS)
				op(false, e, 0);
			*pp = e->next;
			elem_free(e);
		}
}

void inject_addrs_sync(const struct marks *m, uint32_t sb,
		       inject_keep_fn keep, void *arg,
		       const struct inject_named *add, size_t nadd,
		       uint64_t now)
{
	drop(sb, keep, arg, now);
	for (size_t i = 0; i < nadd; i++)
		learn_one(sb, add[i].name, &add[i].a, now);
	commit(m);
}

void inject_addrs_forget(const struct marks *m, uint32_t sb)
{
	drop(sb, NULL, NULL, now_ns());
	commit(m);
}

struct nft_inject *inject_addrs_all(uint64_t now, size_t *n)
{
	struct nft_inject *all;

	sweep(now + EDGE_NS);
	nops = 0;
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct elem *e = buckets[i]; e; e = e->next)
			op(true, e, e->until - now);
	all = ops;
	*n = nops;
	ops = NULL;
	nops = ops_cap = 0;
	return all;
}

void inject_addrs_fini(void)
{
	sweep(UINT64_MAX);
	free(ops);
	ops = NULL;
	nops = ops_cap = 0;
}

/* ---- fed by the resolver ---- */

/* Set once a broker runs: without one nothing is brokered. */
static const struct marks *fed;

void inject_addrs_start(const struct marks *m)
{
	fed = m;
}

/* What a change keeps of a sandbox's learnt injection addresses: those
 * of names still injected, and the cached answers for them. */
struct relearn {
	const struct sandbox *sb;
	struct inject_named *add;
	size_t n, cap;
};

static bool still_injected(const char *name, void *arg)
{
	const struct relearn *r = arg;

	return policy_inject_find(r->sb->policy, name, 443) != NULL;
}

static void relearn_one(const char *name, int family, const uint8_t *addr,
			uint64_t left_ns, void *arg)
{
	struct relearn *r = arg;
	struct inject_named *a;

	if (!still_injected(name, r))
		return;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->add = xreallocarray(r->add, r->cap, sizeof(*r->add));
	}
	a = &r->add[r->n++];
	a->name = name;
	a->a.family = family;
	memset(a->a.addr, 0, sizeof(a->a.addr));
	memcpy(a->a.addr, addr, family == AF_INET ? 4 : 16);
	/* the cache's time left holds the grace already (the binding's,
	 * the same 5 minutes): learn_one adds it, not twice */
	a->a.left_ns = left_ns > GRACE_NS ? left_ns - GRACE_NS : 0;
}

/* Exact names only: a wildcard has nothing to resolve. */
static void prefetch(const struct sandbox *sb)
{
	for (size_t i = 0; i < sb->policy->ninject; i++) {
		const char *name = sb->policy->inject[i].domain.name;

		if (!strchr(name, '*'))
			dns_prefetch(name);
	}
}

/* Only the difference reaches the kernel, in one batch: a name brokered
 * before and after the change is never refused in between. */
void inject_addrs_policy(const struct sandbox *sb, uint64_t now)
{
	struct relearn r = { sb, NULL, 0, 0 };

	if (!fed)
		return;
	if (sb->policy->ninject) {
		dnscache_each(sb->id, relearn_one, &r, now);
		dnscache_each(DNSCACHE_OWN, relearn_one, &r, now);
	}
	inject_addrs_sync(fed, sb->id, still_injected, &r, r.add, r.n, now);
	free(r.add);
	if (sb->policy->ninject)
		prefetch(sb);
}

/* for_ns: how long they hold; 0: each its TTL */
static void learn(uint32_t sb, const char *name,
		  const struct dns_learned_addr *a, size_t n, uint64_t for_ns,
		  uint64_t now)
{
	struct inject_learned l[64];

	for (size_t i = 0; i < n;) {
		size_t k = 0;

		for (; k < 64 && i < n; k++, i++) {
			l[k].family = a[i].family;
			memcpy(l[k].addr, a[i].addr, sizeof(l[k].addr));
			l[k].left_ns = for_ns ? for_ns :
				(uint64_t)a[i].ttl * 1000000000ull;
		}
		inject_addrs_learn(fed, sb, name, l, k, now);
	}
}

static bool injects(const struct sandbox *sb, const char *name)
{
	return sb->policy->ninject &&
	       policy_inject_find(sb->policy, name, 443);
}

void inject_addrs_learned(const struct sandbox *sb, const char *name,
			  const struct dns_learned_addr *a, size_t n,
			  uint64_t for_ns, uint64_t now)
{
	if (!fed)
		return;
	if (sb) {
		if (injects(sb, name))
			learn(sb->id, name, a, n, for_ns, now);
		return;
	}
	for (sb = sandbox_next(NULL); sb; sb = sandbox_next(sb))
		if (injects(sb, name))
			learn(sb->id, name, a, n, for_ns, now);
}

void inject_addrs_tick(uint64_t now)
{
	static uint64_t next;

	if (!fed || now < next)
		return;
	next = now + 10 * 1000000000ull;
	for (const struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb))
		prefetch(sb);
}
