/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "audit_limit.h"
#include "clock.h"
#include "log.h"
#include "worker.h"
#include "xalloc.h"

#define RING 8192		/* records waiting, at most */
#define BATCH 256		/* wake the writer early past this many */
#define PERIOD_MS 100		/* otherwise it writes this often */
#define PRUNE_EVERY 36000	/* periods: an hour */

/* Rows waiting for the writer, one ring per table. */
struct ring {
	size_t size;		/* of a row */
	uint8_t *rows, *out;
	size_t head, len;
};

static struct store store;
static bool log_allowed, stopping, started;
static unsigned retention_days;
static struct ring flows = { .size = sizeof(struct flow_record) };
static struct ring dns = { .size = sizeof(struct dns_record) };
static struct ring ends = { .size = sizeof(struct flow_end) };
static struct ring requests = { .size = sizeof(struct request_record) };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t writer;
static _Atomic uint64_t written, lost;

/* Take what is queued (under the lock) into `out'. */
static size_t take(struct ring *r)
{
	size_t n = 0;

	while (r->len) {
		size_t run = r->len < RING - r->head ? r->len : RING - r->head;

		memcpy(r->out + n * r->size, r->rows + r->head * r->size,
		       run * r->size);
		n += run;
		r->head = (r->head + run) % RING;
		r->len -= run;
	}
	return n;
}

/* The batch taken, by table: what is left of it to write. A batch that
 * fails (a lock held longer than the busy timeout, a full disk) is kept
 * and tried again each period, the rings filling meanwhile (RING rows a
 * table at most, then counted lost); each table's part goes once. */
enum { T_FLOWS, T_DNS, T_ENDS, T_REQUESTS, TABLES };

static size_t pending[TABLES];
static uint64_t failing_since;	/* ns, 0: writing */

static int write_part(int t, char *err, size_t errlen)
{
	size_t n = pending[t];

	switch (t) {
	case T_FLOWS:
		return store_flows_insert(&store, (struct flow_record *)
					  flows.out, n, err, errlen);
	case T_DNS:
		return store_dns_insert(&store, (struct dns_record *)dns.out,
					n, err, errlen);
	case T_ENDS:	/* after the rows they end */
		return store_flows_end(&store, (struct flow_end *)ends.out,
				       n, err, errlen);
	default:
		return store_requests_insert(&store, (struct request_record *)
					     requests.out, n, err, errlen);
	}
}

static size_t pending_total(void)
{
	return pending[T_FLOWS] + pending[T_DNS] + pending[T_ENDS] +
	       pending[T_REQUESTS];
}

static size_t queued(void)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = flows.len + dns.len + ends.len + requests.len;
	pthread_mutex_unlock(&lock);
	return n;
}

/* One line when writing fails, one when it works again. */
static int write_out(void)
{
	char err[256];

	for (int t = 0; t < TABLES; t++) {
		if (!pending[t])
			continue;
		if (write_part(t, err, sizeof(err)) < 0) {
			if (!failing_since) {
				failing_since = now_ns();
				log_warnx("audit: cannot write (%s): %zu records "
					  "kept, tried again every %d ms", err,
					  pending_total(), PERIOD_MS);
			}
			return -1;
		}
		written += pending[t];
		pending[t] = 0;
	}
	if (failing_since) {
		log_info("audit: written again after %llu ms",
			 (unsigned long long)((now_ns() - failing_since) /
					      1000000));
		failing_since = 0;
	}
	return 0;
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

		until = deadline_ms(PERIOD_MS);
		pthread_mutex_lock(&lock);
		while (!stopping && flows.len + dns.len < BATCH &&
		       pthread_cond_timedwait(&wake, &lock, &until) == 0)
			;
		last = stopping;
		if (!pending_total()) {	/* else the kept batch goes first */
			pending[T_FLOWS] = take(&flows);
			pending[T_DNS] = take(&dns);
			pending[T_ENDS] = take(&ends);
			pending[T_REQUESTS] = take(&requests);
		}
		pthread_mutex_unlock(&lock);
		if (write_out() < 0 && last) {
			log_warnx("audit: %zu records not written at the stop",
				  pending_total() + queued());
			lost += pending_total() + queued();
		} else if (last && queued())
			last = false;	/* at the stop, the rings' rows too */
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
	flows.rows = xcalloc(RING, flows.size);
	flows.out = xcalloc(RING, flows.size);
	dns.rows = xcalloc(RING, dns.size);
	dns.out = xcalloc(RING, dns.size);
	ends.rows = xcalloc(RING, ends.size);
	ends.out = xcalloc(RING, ends.size);
	requests.rows = xcalloc(RING, requests.size);
	requests.out = xcalloc(RING, requests.size);
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
	worker_stop(&lock, &wake, &stopping, writer);
	started = false;
	store_close(&store);
	free(flows.rows);
	free(flows.out);
	free(dns.rows);
	free(dns.out);
	free(requests.rows);
	free(requests.out);
	free(ends.rows);
	free(ends.out);
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

static void queue_row(struct ring *r, const void *row)
{
	pthread_mutex_lock(&lock);
	if (!r->rows || r->len == RING) {	/* not started, or full */
		lost++;
	} else {
		memcpy(r->rows + (r->head + r->len++) % RING * r->size, row,
		       r->size);
		if (flows.len + dns.len == BATCH)
			pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
}

void audit_flow(const struct flow_record *r)
{
	if (r->allow && !log_allowed)
		return;
	if (!r->allow && !audit_limit_take(r->sandbox, now_ns()))
		return;		/* counted, for the summary row */
	queue_row(&flows, r);
}

static void queue_end(const char *sandbox, const struct flow_key *k,
		      struct flow_end *e)
{
	struct flow_record r;

	audit_record_init(&r, sandbox, k);	/* the ends as the row has them */
	memcpy(e->time, r.time, sizeof(e->time));
	memcpy(e->sandbox, r.sandbox, sizeof(e->sandbox));
	memcpy(e->src, r.src, sizeof(e->src));
	memcpy(e->dst, r.dst, sizeof(e->dst));
	e->proto = r.proto;
	e->sport = r.sport;
	e->dport = r.dport;
	queue_row(&ends, e);
}

void audit_flow_end(const char *sandbox, const struct flow_key *k,
		    uint64_t bytes_out, uint64_t bytes_in)
{
	struct flow_end e = { .bytes_out = bytes_out, .bytes_in = bytes_in };

	queue_end(sandbox, k, &e);
}

void audit_flow_name(const char *sandbox, const struct flow_key *k,
		     const char *sni)
{
	struct flow_end e = { 0 };

	snprintf(e.sni, sizeof(e.sni), "%s", sni);
	if (*e.sni && log_allowed)
		queue_end(sandbox, k, &e);
}

void audit_tick(void)
{
	struct flow_record r = { .family = 4, .proto = "-",
				 .reason = "audit-rate-limited" };
	uint64_t n;

	while (audit_limit_suppressed(now_ns(), r.sandbox, sizeof(r.sandbox),
				      &n)) {
		store_time_now(r.time);
		snprintf(r.rule, sizeof(r.rule), "%llu denied flows not "
			 "recorded", (unsigned long long)n);
		queue_row(&flows, &r);
	}
}

void audit_request(const struct request_record *r)
{
	queue_row(&requests, r);
}

void audit_dns(const struct dns_record *r)
{
	if (r->allow && !log_allowed)
		return;
	queue_row(&dns, r);
}

uint64_t audit_written(void)
{
	return written;
}

uint64_t audit_lost(void)
{
	return lost;
}
