/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "log.h"
#include "xalloc.h"

#define RING 8192		/* records waiting, at most */
#define BATCH 256		/* wake the writer early past this many */
#define PERIOD_MS 100		/* otherwise it writes this often */
#define PRUNE_EVERY 36000	/* periods: an hour */

static struct store store;
static bool log_allowed, stopping, started;
static unsigned retention_days;
static struct flow_record *ring, *out;
static size_t head, len;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t writer;
static _Atomic uint64_t written, lost;

/* Take what is queued (under the lock) into `out'. */
static size_t take(void)
{
	size_t n = 0;

	while (len) {
		size_t run = len < RING - head ? len : RING - head;

		memcpy(out + n, ring + head, run * sizeof(*out));
		n += run;
		head = (head + run) % RING;
		len -= run;
	}
	return n;
}

static void write_out(size_t n)
{
	char err[256];

	if (!n)
		return;
	if (store_flows_insert(&store, out, n, err, sizeof(err)) < 0) {
		log_warnx("audit: %zu records not written: %s", n, err);
		lost += n;
	} else {
		written += n;
	}
}

static void prune(void)
{
	char err[256];

	if (store_audit_prune(&store, retention_days, err, sizeof(err)) < 0)
		log_warnx("audit: pruning: %s", err);
}

static void *writer_main(void *arg)
{
	unsigned periods = 0;
	bool last = false;

	(void)arg;
	prune();
	while (!last) {
		struct timespec until;
		size_t n;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += PERIOD_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&lock);
		while (!stopping && len < BATCH &&
		       pthread_cond_timedwait(&wake, &lock, &until) == 0)
			;
		last = stopping;
		n = take();
		pthread_mutex_unlock(&lock);
		write_out(n);
		if (++periods % PRUNE_EVERY == 0)
			prune();
	}
	return NULL;
}

int audit_init(const char *database, bool allowed, unsigned days, char *err,
	       size_t errlen)
{
	int rc;

	log_allowed = allowed;
	retention_days = days;
	if ((rc = store_open(&store, database, false, err, errlen)) < 0)
		return rc;
	ring = xcalloc(RING, sizeof(*ring));
	out = xcalloc(RING, sizeof(*out));
	if ((rc = pthread_create(&writer, NULL, writer_main, NULL))) {
		snprintf(err, errlen, "audit: thread: %s", strerror(rc));
		return -rc;
	}
	started = true;
	return 0;
}

void audit_fini(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(writer, NULL);
	started = false;
	store_close(&store);
	free(ring);
	free(out);
}

void audit_record_init(struct flow_record *r, const char *sandbox,
		       const struct flow_key *k)
{
	memset(r, 0, sizeof(*r));
	store_time_now(r->time);
	snprintf(r->sandbox, sizeof(r->sandbox), "%s", sandbox);
	r->family = k->family == AF_INET ? 4 : 6;
	r->proto = k->proto == IPPROTO_TCP ? "tcp" :
		   k->proto == IPPROTO_UDP ? "udp" : "other";
	addr_format(k->family, k->src, r->src);
	addr_format(k->family, k->dst, r->dst);
	r->sport = k->sport;
	r->dport = k->dport;
}

void audit_flow(const struct flow_record *r)
{
	if (r->allow && !log_allowed)
		return;
	pthread_mutex_lock(&lock);
	if (len == RING) {
		lost++;
	} else {
		ring[(head + len++) % RING] = *r;
		if (len == BATCH)
			pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
}

uint64_t audit_written(void)
{
	return written;
}

uint64_t audit_lost(void)
{
	return lost;
}
