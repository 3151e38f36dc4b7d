/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Flows at once per sandbox, whichever of its addresses they come from:
 * one sandbox holding idle connections cannot take every worker and
 * every slot from the others. A new flow's sandbox is known before its
 * hello is awaited: from the daemon (its conntrack entry's mark), and
 * then from what that address was last time, until any sandbox changes.
 * The judgement that follows names the sandbox for certain; a flow that
 * turns out to be another's moves to that one's share. */
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "broker.h"
#include "log.h"

#define SHARE_MAX (BROKER_CONNS_MAX / 4)
#define SHARES 2048
#define WHO_MAX 4096

struct share {
	uint32_t sandbox;
	int n;
};

struct who {
	uint8_t addr[16];
	uint32_t sandbox;
	uint64_t gen;		/* flows_generation() + 1; 0: empty */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct share shares[SHARES];
static struct who whos[WHO_MAX];

static uint32_t hash(const uint8_t *b, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static struct share *share_slot(uint32_t sandbox)
{
	struct share *free_slot = NULL;
	uint32_t h = hash((const uint8_t *)&sandbox, sizeof(sandbox));

	for (size_t k = 0; k < SHARES; k++) {
		struct share *e = &shares[(h + k) % SHARES];

		if (e->n && e->sandbox == sandbox)
			return e;
		if (!e->n && !free_slot)
			free_slot = e;
	}
	return free_slot;
}

bool share_take(uint32_t sandbox)
{
	struct share *e;
	bool ok = false;

	pthread_mutex_lock(&lock);
	if ((e = share_slot(sandbox)) && e->n < SHARE_MAX) {
		e->sandbox = sandbox;
		e->n++;
		ok = true;
	}
	pthread_mutex_unlock(&lock);
	if (!ok)
		log_debug("broker: sandbox %u holds its share of %d flows: "
			  "one more refused", sandbox, SHARE_MAX);
	return ok;
}

bool share_full(uint32_t sandbox)
{
	struct share *e;
	bool full;

	pthread_mutex_lock(&lock);
	full = (e = share_slot(sandbox)) && e->n >= SHARE_MAX;
	pthread_mutex_unlock(&lock);
	return full;
}

void share_give(uint32_t sandbox)
{
	struct share *e;

	pthread_mutex_lock(&lock);
	if ((e = share_slot(sandbox)) && e->n)
		e->n--;
	pthread_mutex_unlock(&lock);
}

static struct who *who_slot(int family, const uint8_t *addr)
{
	return &whos[hash(addr, family == AF_INET ? 4 : 16) % WHO_MAX];
}

bool who_cached(int family, const uint8_t *addr, uint32_t *sandbox)
{
	struct who *w = who_slot(family, addr);
	bool hit;

	pthread_mutex_lock(&lock);
	hit = w->gen == flows_generation() + 1 && !memcmp(w->addr, addr, 16);
	if (hit)
		*sandbox = w->sandbox;
	pthread_mutex_unlock(&lock);
	return hit;
}

void who_learn(int family, const uint8_t *addr, uint32_t sandbox)
{
	struct who *w = who_slot(family, addr);

	pthread_mutex_lock(&lock);
	memcpy(w->addr, addr, 16);
	w->sandbox = sandbox;
	w->gen = flows_generation() + 1;
	pthread_mutex_unlock(&lock);
}
