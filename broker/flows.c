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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "broker.h"
#include "log.h"

#define EPOCHS 4096		/* by sandbox id; a collision costs a judgement */
#define PENDING_MAX 64

static _Atomic uint64_t epochs[EPOCHS];
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

/* The epoch is odd while a change is being taken in: the moment its
 * message arrives, before its rules are read (one thread takes them in,
 * one at a time, so the parity holds whatever ids share a slot). */
void flows_changing(uint32_t sandbox)
{
	atomic_fetch_add(&epochs[sandbox % EPOCHS], 1);
	atomic_fetch_add(&generation, 1);
}

uint64_t flows_generation(void)
{
	return atomic_load(&generation);
}

#define SETTLE_MS 200

/* A judgement waits for the rules it will be carried out with. */
static void settled(uint32_t sandbox)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < SETTLE_MS && flows_epoch(sandbox) % 2; i++)
		nanosleep(&ms, NULL);
}

void flows_changed(uint32_t sandbox)
{
	atomic_fetch_add(&epochs[sandbox % EPOCHS], 1);
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
	pthread_mutex_lock(&lock);
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

void flows_judge(struct bk_flow *f, struct judgement *j)
{
	settled(f->sandbox);
	f->epoch = flows_epoch(f->sandbox);
	ipc_judge(&f->rq, j);
}

/* Whether the flow may go on as it is: the same action, the same name. */
static bool still(const struct bk_flow *f, const struct judgement *j)
{
	return j->action == f->action && j->sandbox == f->sandbox &&
	       (j->action != JA_TERMINATE || !strcmp(j->host, f->host));
}

/* One flow, judged again from a copy: the flow may end meanwhile. */
struct snap {
	struct bk_flow *f;
	struct judge_req rq;
};

static size_t snapshot(uint32_t sandbox, bool any, struct snap **out)
{
	size_t n = 0, cap = 0;
	struct snap *s = NULL, *ns;

	pthread_mutex_lock(&lock);
	for (struct bk_flow *f = listed; f; f = f->next) {
		if (f->action == JA_DENY || (!any && f->sandbox != sandbox))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(ns = realloc(s, cap * sizeof(*s))))
				break;
			s = ns;
		}
		s[n].f = f;
		s[n++].rq = f->rq;
	}
	pthread_mutex_unlock(&lock);
	*out = s;
	return n;
}

/* The lock held: the flow has not ended yet. */
static bool is_listed(const struct bk_flow *f)
{
	for (const struct bk_flow *g = listed; g; g = g->next)
		if (g == f)
			return true;
	return false;
}

/* Nothing of it passes any more; both sides see their end now. */
static void cut(struct bk_flow *f)
{
	atomic_store(&f->cut, true);
	shutdown(f->cfd, SHUT_RDWR);
	if (f->ufd >= 0)
		shutdown(f->ufd, SHUT_RDWR);
}

static void sweep(uint32_t sandbox, bool any)
{
	struct snap *s;
	size_t n = snapshot(sandbox, any, &s), ncut = 0;

	for (size_t i = 0; i < n; i++) {
		struct judgement j;

		s[i].rq.again = true;
		ipc_judge(&s[i].rq, &j);
		pthread_mutex_lock(&lock);
		/* the flow's own fields are read only while it is listed */
		if (is_listed(s[i].f) && !still(s[i].f, &j)) {
			cut(s[i].f);
			ncut++;
		}
		pthread_mutex_unlock(&lock);
	}
	free(s);
	if (ncut)
		log_info("broker: %zu open flows cut by a policy change", ncut);
}

void flows_cut(uint32_t sandbox)
{
	size_t n = 0;

	atomic_fetch_add(&epochs[sandbox % EPOCHS], 1);
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
