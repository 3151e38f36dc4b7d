/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The event loops that carry brokered connections once their handshakes
 * are done: one thread per online CPU, each with its own epoll set, so a
 * flow is only ever touched by the loop that owns it. A worker hands a
 * flow over with loop_add; the flow says which of its two descriptors it
 * waits on and how (want), and runs when they are ready, when it asked
 * to run again, or when its deadline passes. A flow leaves with
 * loop_remove; what then becomes of it waits for the end of the round,
 * when no event of that round can still name it. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "log.h"

#define LOOPS_MAX 8
#define EVENTS 64
#define SCAN_MS 1000

struct loop {
	int ep, wake;
	pthread_mutex_t lock;
	struct loop_flow *incoming;	/* handed over, not attached yet */
	struct loop_flow *flows;	/* attached: for their deadlines */
};

static struct loop loops[LOOPS_MAX];
static int nloops;
static atomic_uint next_loop;
static void (*thread_start)(void);

uint64_t loop_now_ms(void)
{
	return now_ns() / 1000000;
}

static void unlink_flow(struct loop_flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		f->l->flows = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
}

void loop_forget_fd(struct loop_flow *f, int i)
{
	if (f->l && f->armed[i])
		epoll_ctl(f->l->ep, EPOLL_CTL_DEL, f->fd[i], NULL);
	f->armed[i] = 0;
	f->fd[i] = -1;
}

void loop_sync(struct loop_flow *f)
{
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = f->want[i],
					  .data.ptr = &f->side[i] };
		int op;

		if (f->fd[i] < 0 || f->want[i] == f->armed[i])
			continue;
		op = !f->armed[i] ? EPOLL_CTL_ADD : !f->want[i] ?
		     EPOLL_CTL_DEL : EPOLL_CTL_MOD;
		if (epoll_ctl(f->l->ep, op, f->fd[i], &ev) < 0)
			log_warn("broker: epoll_ctl");
		f->armed[i] = f->want[i];
	}
}

void loop_remove(struct loop_flow *f, void (*then)(struct loop_flow *))
{
	for (int i = 0; i < 2; i++)
		if (f->armed[i]) {
			epoll_ctl(f->l->ep, EPOLL_CTL_DEL, f->fd[i], NULL);
			f->armed[i] = 0;
		}
	unlink_flow(f);
	f->then = then;
	f->dead = true;
}

void loop_add(struct loop_flow *f)
{
	struct loop *l = &loops[atomic_fetch_add(&next_loop, 1) % nloops];
	uint64_t one = 1;

	f->l = l;
	f->dead = false;
	f->armed[0] = f->armed[1] = 0;
	for (int i = 0; i < 2; i++)
		f->side[i] = (struct loop_side){ .f = f, .i = i };
	pthread_mutex_lock(&l->lock);
	f->next = l->incoming;
	l->incoming = f;
	pthread_mutex_unlock(&l->lock);
	if (write(l->wake, &one, sizeof(one)) < 0)
		log_warn("broker: loop wake");
}

/* The flows due to run this round. */
struct round {
	struct loop_flow *run, *gone;
};

static void due(struct round *r, struct loop_flow *f)
{
	if (!f->due) {
		f->due = true;
		f->run_next = r->run;
		r->run = f;
	}
}

static void attach_incoming(struct loop *l, struct round *r)
{
	struct loop_flow *f, *next;
	uint64_t n;

	if (read(l->wake, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("broker: loop wake");
	pthread_mutex_lock(&l->lock);
	f = l->incoming;
	l->incoming = NULL;
	pthread_mutex_unlock(&l->lock);
	for (; f; f = next) {
		next = f->next;
		f->prev = NULL;
		f->next = l->flows;
		if (l->flows)
			l->flows->prev = f;
		l->flows = f;
		f->ready[0] = f->ready[1] = 0;
		due(r, f);	/* it may have bytes already */
	}
}

static void expire(struct loop *l, struct round *r)
{
	uint64_t now = loop_now_ms();

	for (struct loop_flow *f = l->flows; f; f = f->next)
		if (f->deadline && f->deadline <= now) {
			f->expired = true;
			due(r, f);
		}
}

/* Runs the round's flows; those asking again run in the next one. */
static bool run_round(struct round *r)
{
	struct loop_flow *f = r->run, *next, *again = NULL;

	r->run = NULL;
	for (; f; f = next) {
		next = f->run_next;
		f->due = false;
		if (f->dead)
			continue;
		f->again = false;
		f->run(f);
		f->ready[0] = f->ready[1] = 0;
		f->expired = false;
		if (f->dead) {
			f->run_next = r->gone;
			r->gone = f;
		} else if (f->again) {
			f->run_next = again;
			again = f;
		}
	}
	for (f = r->gone; f; f = next) {
		next = f->run_next;
		if (f->then)
			f->then(f);
	}
	r->gone = NULL;
	for (f = again; f; f = next) {
		next = f->run_next;
		due(r, f);
	}
	return r->run != NULL;
}

static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	struct epoll_event ev[EVENTS];
	struct round r = { 0 };
	uint64_t scan = loop_now_ms() + SCAN_MS;
	bool pending = false;

	thread_start();
	for (;;) {
		int n = epoll_wait(l->ep, ev, EVENTS, pending ? 0 : SCAN_MS);

		if (n < 0 && errno != EINTR)
			fatal("broker: epoll_wait");
		for (int i = 0; i < n; i++) {
			struct loop_side *s = ev[i].data.ptr;

			if (!s) {
				attach_incoming(l, &r);
				continue;
			}
			s->f->ready[s->i] |= ev[i].events;
			due(&r, s->f);
		}
		if (loop_now_ms() >= scan) {
			expire(l, &r);
			scan = loop_now_ms() + SCAN_MS;
		}
		pending = run_round(&r);
	}
	return NULL;
}

void loop_start(void (*start)(void))
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t t;

	thread_start = start;
	nloops = cpus < 1 ? 1 : cpus > LOOPS_MAX ? LOOPS_MAX : (int)cpus;
	for (int i = 0; i < nloops; i++) {
		struct loop *l = &loops[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

		pthread_mutex_init(&l->lock, NULL);
		if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		    (l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
		    epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &ev) < 0)
			fatal("broker: event loop");
		if (pthread_create(&t, NULL, loop_thread, l) != 0)
			fatalx("broker: thread");
		pthread_detach(t);
	}
}
