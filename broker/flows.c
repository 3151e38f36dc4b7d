/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live changes reach brokered flows (SPEC §4). Every open flow is listed
 * with what the daemon judged it by. A message about a sandbox (its
 * rules, its removal) moves that sandbox's epoch on at once, then this
 * thread asks the daemon about each of its flows again: one no longer
 * allowed as it was (refused now, or relayed where it was terminated) is
 * cut, both sides shut, and marked so that nothing more of it passes. A
 * proxy also compares the epoch before each request it sends, so a
 * request that races the sweep waits for its own judgement. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "broker.h"
#include "log.h"

#define EPOCHS 4096		/* by sandbox id; a collision costs a judgement */
#define PENDING_MAX 64

static _Atomic uint64_t epochs[EPOCHS];
static _Atomic int changing[EPOCHS];	/* messages not read yet */
static _Atomic uint64_t generation;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct bk_flow *listed;
static uint32_t pending[PENDING_MAX];
static size_t npending;
static bool all_pending;	/* more sandboxes changed than fit */

uint64_t flows_epoch(uint32_t sandbox)
{
	return atomic_load(&epochs[sandbox % EPOCHS]);
}

/* From the moment a change's message arrives until its rules are read,
 * its sandbox's slot counts it pending: judgements wait for the rules
 * they will be carried out with. */
void flows_changing(uint32_t sandbox)
{
	atomic_fetch_add(&changing[sandbox % EPOCHS], 1);
	atomic_fetch_add(&epochs[sandbox % EPOCHS], 1);
	atomic_fetch_add(&generation, 1);
}

uint64_t flows_generation(void)
{
	return atomic_load(&generation);
}

#define SETTLE_MS 5000

/* false: the rules did not come in time (the flow is refused). */
static bool settled(uint32_t sandbox)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < SETTLE_MS; i++) {
		if (!atomic_load(&changing[sandbox % EPOCHS]))
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

void flows_changed(uint32_t sandbox)
{
	atomic_fetch_add(&epochs[sandbox % EPOCHS], 1);
	atomic_fetch_sub(&changing[sandbox % EPOCHS], 1);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < npending; i++)
		if (pending[i] == sandbox)
			goto queued;
	if (npending < PENDING_MAX)
		pending[npending++] = sandbox;
	else
		all_pending = true;
queued:
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

void flows_add(struct bk_flow *f)
{
	static uint64_t serials;

	pthread_mutex_lock(&lock);
	f->serial = ++serials;
	f->prev = NULL;
	f->next = listed;
	if (listed)
		listed->prev = f;
	listed = f;
	f->listed = true;
	pthread_mutex_unlock(&lock);
}

void flows_del(struct bk_flow *f)
{
	pthread_mutex_lock(&lock);
	if (f->listed) {
		if (f->prev)
			f->prev->next = f->next;
		else
			listed = f->next;
		if (f->next)
			f->next->prev = f->prev;
		f->listed = false;
	}
	pthread_mutex_unlock(&lock);
}

void flows_set_ufd(struct bk_flow *f, int fd)
{
	pthread_mutex_lock(&lock);
	f->ufd = fd;
	pthread_mutex_unlock(&lock);
}

void flows_set_sandbox(struct bk_flow *f, uint32_t sandbox)
{
	pthread_mutex_lock(&lock);
	f->sandbox = sandbox;
	pthread_mutex_unlock(&lock);
}

void flows_judge(struct bk_flow *f, bool again, struct judgement *j)
{
	bool ready = settled(f->sandbox);

	f->epoch = flows_epoch(f->sandbox);
	f->rq.again = again;
	ipc_judge(&f->rq, j);
	if (!ready)
		j->action = JA_DENY;
}

void flows_set_judged(struct bk_flow *f, const struct judgement *j)
{
	pthread_mutex_lock(&lock);
	f->action = j->action;
	snprintf(f->host, sizeof(f->host), "%s", j->host);
	pthread_mutex_unlock(&lock);
}

/* Whether the flow may go on as it is: the same action, the same name. */
static bool still(const struct bk_flow *f, const struct judgement *j)
{
	return j->action == f->action && j->sandbox == f->sandbox &&
	       (j->action != JA_TERMINATE || !strcmp(j->host, f->host));
}

/* The flows to judge again, copied: they may end meanwhile. In the
 * list's order, newest first, so in falling serials. */
struct snap {
	size_t n;
	uint64_t *serial;
	struct judge_req *rq;
	struct judgement *j;
};

static bool snap_grow(struct snap *s, size_t cap)
{
	void *a = realloc(s->serial, cap * sizeof(*s->serial));
	void *b = a ? realloc(s->rq, cap * sizeof(*s->rq)) : NULL;

	if (a)
		s->serial = a;
	if (b)
		s->rq = b;
	return a && b;
}

static void snapshot(uint32_t sandbox, bool any, struct snap *s)
{
	size_t cap = 0;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&lock);
	for (struct bk_flow *f = listed; f; f = f->next) {
		if (f->action == JA_DENY || (!any && f->sandbox != sandbox))
			continue;
		if (s->n == cap && !snap_grow(s, cap = cap ? cap * 2 : 16))
			break;
		s->serial[s->n] = f->serial;
		s->rq[s->n] = f->rq;
		s->rq[s->n++].again = true;
	}
	pthread_mutex_unlock(&lock);
}

/* Nothing of it passes any more; both sides see their end now. */
static void cut(struct bk_flow *f)
{
	atomic_store(&f->cut, true);
	shutdown(f->cfd, SHUT_RDWR);
	if (f->ufd >= 0)
		shutdown(f->ufd, SHUT_RDWR);
}

/* The flows still listed meet their answers: both in falling serials. */
static size_t carry_out(const struct snap *s)
{
	size_t i = 0, ncut = 0;

	pthread_mutex_lock(&lock);
	for (struct bk_flow *f = listed; f && i < s->n; f = f->next) {
		while (i < s->n && s->serial[i] > f->serial)
			i++;	/* ended meanwhile */
		if (i < s->n && s->serial[i] == f->serial &&
		    !still(f, &s->j[i++])) {
			cut(f);
			ncut++;
		}
	}
	pthread_mutex_unlock(&lock);
	return ncut;
}

/* Every question at once: the daemon answers them in one read. */
static void sweep(uint32_t sandbox, bool any)
{
	struct snap s;
	size_t ncut = 0;

	snapshot(sandbox, any, &s);
	if (s.n && (s.j = calloc(s.n, sizeof(*s.j)))) {
		ipc_judge_many(s.rq, s.j, s.n);
		ncut = carry_out(&s);
	}
	free(s.serial);
	free(s.rq);
	free(s.j);
	if (ncut)
		log_info("broker: %zu open flows cut by a policy change", ncut);
}

void flows_cut(uint32_t sandbox)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	for (struct bk_flow *f = listed; f; f = f->next)
		if (f->sandbox == sandbox) {
			cut(f);
			n++;
		}
	pthread_mutex_unlock(&lock);
	if (n)
		log_info("broker: %zu open flows cut: their sandbox is gone", n);
}

void *flows_thread(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t ids[PENDING_MAX];
		size_t n;
		bool any;

		pthread_mutex_lock(&lock);
		while (!npending && !all_pending)
			pthread_cond_wait(&wake, &lock);
		n = npending;
		memcpy(ids, pending, n * sizeof(ids[0]));
		any = all_pending;
		npending = 0;
		all_pending = false;
		pthread_mutex_unlock(&lock);
		if (any)
			sweep(0, true);
		else
			for (size_t i = 0; i < n; i++)
				sweep(ids[i], false);
	}
	return NULL;
}
