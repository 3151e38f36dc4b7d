/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The broker's worker threads: the blocking work of flows (a new flow's
 * hello and judgement, handshakes, a new server connection), queued by
 * work_submit. Each worker's start and end are given by workers_init
 * (the terminator's buffers for each thread). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "broker.h"
#include "clock.h"

#define STACK (256 * 1024)

/* Jobs wait here for a worker: a new flow, or one of the loops' flows
 * that needs a new connection to its server. Workers are made when none
 * is idle, up to BROKER_CONNS_MAX, and end after IDLE_S idle beyond
 * WORKERS_KEPT: a connection costs no thread creation at steady load. */
#define IDLE_S 30
#define WORKERS_KEPT 16

struct job {
	void (*fn)(void *);
	void *arg;
};

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qwake = PTHREAD_COND_INITIALIZER;
static struct job queue[BROKER_CONNS_MAX];
static size_t qhead, qcount;
static int workers, idle_workers;
static pthread_attr_t worker_attr;

static void (*thread_start)(void), (*thread_end)(void);

static bool next_job(struct job *out)
{
	struct timespec until;

	pthread_mutex_lock(&qlock);
	idle_workers++;
	while (!qcount) {
		until = deadline_ms(IDLE_S * 1000);
		if (pthread_cond_timedwait(&qwake, &qlock, &until) ==
		    ETIMEDOUT && !qcount && idle_workers > WORKERS_KEPT) {
			idle_workers--;
			workers--;
			pthread_mutex_unlock(&qlock);
			return false;
		}
	}
	idle_workers--;
	*out = queue[qhead];
	qhead = (qhead + 1) % BROKER_CONNS_MAX;
	qcount--;
	pthread_mutex_unlock(&qlock);
	return true;
}

static void *worker(void *arg)
{
	struct job j;

	(void)arg;
	thread_start();
	while (next_job(&j))
		j.fn(j.arg);
	thread_end();
	return NULL;
}

/* Every job is a flow that conn_admit counted: the queue never fills. */
void work_submit(void (*fn)(void *), void *arg)
{
	pthread_t t;

	pthread_mutex_lock(&qlock);
	queue[(qhead + qcount++) % BROKER_CONNS_MAX] =
		(struct job){ .fn = fn, .arg = arg };
	/* idle workers already woken for queued jobs do not count */
	if ((size_t)idle_workers < qcount && workers < BROKER_CONNS_MAX &&
	    pthread_create(&t, &worker_attr, worker, NULL) == 0)
		workers++;
	pthread_cond_signal(&qwake);
	pthread_mutex_unlock(&qlock);
}

void workers_init(void (*start)(void), void (*end)(void))
{
	thread_start = start;
	thread_end = end;
	pthread_attr_init(&worker_attr);
	pthread_attr_setstacksize(&worker_attr, STACK);
	pthread_attr_setdetachstate(&worker_attr, PTHREAD_CREATE_DETACHED);
}
