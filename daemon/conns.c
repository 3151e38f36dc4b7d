/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "xalloc.h"

#define BUCKETS 65536

struct conn {
	struct conn *hnext, *next;	/* hash chain; oldest first */
	struct flow_key key;
	char *sni;
};

static struct conn **buckets, *oldest, *newest;
static size_t count, max_conns;

void conns_init(size_t max)
{
	buckets = xcalloc(BUCKETS, sizeof(*buckets));
	max_conns = max;
}

static uint32_t hash(const struct flow_key *k)
{
	return flow_key_hash(k) % BUCKETS;
}

static void forget_oldest(void)
{
	struct conn *c = oldest, **pp = &buckets[hash(&c->key)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	oldest = c->next;
	if (!oldest)
		newest = NULL;
	free(c->sni);
	free(c);
	count--;
}

void conns_fini(void)
{
	while (oldest)
		forget_oldest();
	free(buckets);
	buckets = NULL;
}

void conns_add(const struct flow_key *k, const char *sni, size_t len)
{
	struct conn *c;
	uint32_t h = hash(k);

	/* the same ends again: a new flow, its own name */
	for (c = buckets[h]; c; c = c->hnext)
		if (!memcmp(&c->key, k, sizeof(*k))) {
			free(c->sni);
			c->sni = xstrndup(sni, len);
			return;
		}
	if (count == max_conns)
		forget_oldest();
	c = xcalloc(1, sizeof(*c));
	c->key = *k;
	c->sni = xstrndup(sni, len);
	c->hnext = buckets[h];
	buckets[h] = c;
	if (newest)
		newest->next = c;
	else
		oldest = c;
	newest = c;
	count++;
}

const char *conns_sni(const struct flow_key *k)
{
	for (struct conn *c = buckets[hash(k)]; c; c = c->hnext)
		if (!memcmp(&c->key, k, sizeof(*k)))
			return c->sni;
	return NULL;
}
