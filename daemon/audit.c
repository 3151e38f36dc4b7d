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
#include "journal.h"
#include "log.h"
#include "strcopy.h"
#include "worker.h"
#include "xalloc.h"

#define RING 8192		/* records waiting, at most */
#define BATCH 256		/* wake the writer early past this many */
#define PERIOD_MS 100		/* otherwise it writes this often */
#define PRUNE_EVERY 36000	/* periods: an hour */
#define TRIM_ROWS 500		/* rows deleted a table, a transaction */
#define TRIM_MS 20		/* such transactions a period: begun within */
#define RELEASE_PAGES 1024	/* free pages given back a period, at most */
#define WAL_MAX (4u << 20)	/* bytes of WAL between checkpoints */
#define SINCE_MARGIN_NS 1000000ull	/* a row is no older than its entry */
#define END_WAIT_NS 300000000ull	/* an end waits for its row this long */

/* Rows waiting for the writer, one ring per table. */
struct ring {
	size_t size;		/* of a row */
	uint8_t *rows, *out;
	size_t head, len;
};

static struct store store;
static bool log_allowed, stopping, started;
/* the bounds (audit_limits), under the lock; the writer's copy */
static unsigned retention_days;
static uint64_t max_size;
static bool limits_changed;
static struct ring flows = { .size = sizeof(struct flow_record) };
static struct ring dns = { .size = sizeof(struct dns_record) };
static struct ring ends = { .size = sizeof(struct flow_end) };
static struct ring requests = { .size = sizeof(struct request_record) };
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t writer;
static _Atomic uint64_t written, lost, deleted_for_size, db_size;

/* Take what is queued (under the lock), max rows at most, into `out'. */
static size_t take(struct ring *r, size_t max)
{
	size_t n = 0;

	while (r->len && n < max) {
		size_t run = r->len < RING - r->head ? r->len : RING - r->head;

		if (run > max - n)
			run = max - n;
		memcpy(r->out + n * r->size, r->rows + r->head * r->size,
		       run * r->size);
		n += run;
		r->head = (r->head + run) % RING;
		r->len -= run;
	}
	return n;
}

/* Ends read END_WAIT_NS ago or more (all of them at the stop): by then
 * the rows they end are in the rings too (conntrack's events are read
 * apart from NFLOG's rows, which its batches hold up to 50 ms). */
static size_t ends_due(bool all)
{
	uint64_t now = now_ns();
	size_t n = 0;

	while (n < ends.len && (all || ((const struct flow_end *)
		(ends.rows + (ends.head + n) % RING * ends.size))->read_ns +
		END_WAIT_NS <= now))
		n++;
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

/* The writer's side of the bounds: rows past retention_days (at the
 * start, then hourly) and past max_size deleted, oldest first. */
static unsigned days;
static uint64_t max;
static bool retention_due = true, trimming, trim_failing;

/* The pages in use against max_size (the WAL is bound apart: a reader
 * that holds it back must not make rows go). Deleting starts past it
 * and goes on down to 15/16 of it, in runs rather than a few rows a
 * period; the rows that come reuse the pages that frees, and only free
 * pages past that 1/16 are given back (a database made with auto_vacuum
 * = incremental), so the file stays near max_size. */
static int trim_size(uint64_t until, char *err, size_t errlen)
{
	struct store_size sz = { 0 };
	uint64_t n, reserve = max / 16;
	int rc;

	while ((rc = store_size(&store, &sz, err, errlen)) == 0) {
		db_size = sz.used;
		if (sz.used <= (trimming ? max - reserve : max)) {
			trimming = false;
			break;
		}
		if (!trimming && !deleted_for_size)
			log_info("audit: the database passed max_size (%llu "
				 "bytes in use, of %llu): the oldest rows "
				 "are deleted", (unsigned long long)sz.used,
				 (unsigned long long)max);
		trimming = true;
		if (now_ns() > until)
			return 0;	/* the rest next period */
		if ((rc = store_audit_delete(&store, NULL, TRIM_ROWS, &n, err,
					     errlen)) < 0)
			return rc;
		deleted_for_size += n;
		if (!n) {	/* the policies alone are past it */
			log_warnx("audit: no audit row left to delete, the "
				  "database still past max_size (%llu bytes "
				  "in use)", (unsigned long long)sz.used);
			trimming = false;
			break;
		}
	}
	if (rc == 0 && sz.releasable && sz.free > reserve)
		rc = store_release(&store, (sz.free - reserve) / sz.page >
				   RELEASE_PAGES ? RELEASE_PAGES :
				   (sz.free - reserve) / sz.page, err, errlen);
	return rc;
}

/* A few short transactions a period, between the writes: a day of rows
 * deleted at once would hold the write lock for seconds, and a change
 * that waits for it 200 ms at most must find it free most of the period
 * (a batch of 500 rows a table takes 5-30 ms in a table of a million). */
static void trim(void)
{
	uint64_t n = 1, until = now_ns() + TRIM_MS * 1000000ull;
	char err[256], before[STORE_TIME_LEN];
	int rc = 0;

	if (retention_due && days) {
		store_time_ago(days, before);
		while (rc == 0 && n && now_ns() < until)
			rc = store_audit_delete(&store, before, TRIM_ROWS, &n,
						err, sizeof(err));
		retention_due = rc < 0 || n;
	} else {
		retention_due = false;
	}
	if (rc == 0 && max) {
		rc = trim_size(until, err, sizeof(err));
	} else if (rc == 0) {
		struct store_size sz;

		if ((rc = store_size(&store, &sz, err, sizeof(err))) == 0)
			db_size = sz.used;
	}
	if (rc < 0 && !trim_failing)
		log_warnx("audit: deleting past retention_days or max_size: "
			  "%s", err);
	trim_failing = rc < 0;
}

/* The limits as audit_limits set them last, from the writer's thread
 * (the connection is its own). */
static void limits_apply(void)
{
	char err[256];

	pthread_mutex_lock(&lock);
	days = retention_days;
	max = max_size;
	limits_changed = false;
	pthread_mutex_unlock(&lock);
	retention_due = true;
	/* the WAL beside the pages: checkpointed every 4 MiB (SQLite's own
	 * 1,000 pages), or max_size/16 when that is less, and cut back to
	 * that size after */
	if (store_wal_bound(&store, max && max / 16 < WAL_MAX ? max / 16 :
			    WAL_MAX, err, sizeof(err)) < 0)
		log_warnx("audit: %s", err);
}

static void *writer_main(void *arg)
{
	unsigned periods = 0;
	bool last = false, changed;

	(void)arg;
	limits_apply();
	while (!last) {
		struct timespec until;

		until = deadline_ms(PERIOD_MS);
		pthread_mutex_lock(&lock);
		while (!stopping && flows.len + dns.len < BATCH &&
		       pthread_cond_timedwait(&wake, &lock, &until) == 0)
			;
		last = stopping;
		changed = limits_changed;
		if (!pending_total()) {	/* else the kept batch goes first */
			pending[T_FLOWS] = take(&flows, RING);
			pending[T_DNS] = take(&dns, RING);
			pending[T_ENDS] = take(&ends, ends_due(last));
			pending[T_REQUESTS] = take(&requests, RING);
		}
		pthread_mutex_unlock(&lock);
		if (changed)
			limits_apply();
		if (write_out() < 0 && last) {
			log_warnx("audit: %zu records not written at the stop",
				  pending_total() + queued());
			lost += pending_total() + queued();
		} else if (last && queued()) {
			last = false;	/* at the stop, the rings' rows too */
		} else if (!last && !failing_since) {
			trim();
		}
		if (++periods % PRUNE_EVERY == 0)
			retention_due = true;
	}
	return NULL;
}

void audit_limits(unsigned retention, uint64_t max_bytes)
{
	pthread_mutex_lock(&lock);
	retention_days = retention;
	max_size = max_bytes;
	limits_changed = true;
	pthread_mutex_unlock(&lock);
}

int audit_init(const char *database, bool allowed, unsigned retention,
	       uint64_t max_bytes, char *err, size_t errlen)
{
	int rc;

	log_allowed = allowed;
	audit_limits(retention, max_bytes);
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
	str_set(r->sandbox, sizeof(r->sandbox), sandbox);
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
	journal_flow(r);
}

void audit_flow_end(const char *sandbox, const struct flow_key *k,
		    uint64_t bytes_out, uint64_t bytes_in, uint64_t start_ns)
{
	struct flow_end e = { .bytes_out = bytes_out, .bytes_in = bytes_in,
			      .read_ns = now_ns() };
	struct flow_record r;

	audit_record_init(&r, sandbox, k);	/* the ends as the row has them */
	memcpy(e.time, r.time, sizeof(e.time));
	memcpy(e.sandbox, r.sandbox, sizeof(e.sandbox));
	memcpy(e.src, r.src, sizeof(e.src));
	memcpy(e.dst, r.dst, sizeof(e.dst));
	e.proto = r.proto;
	e.sport = r.sport;
	e.dport = r.dport;
	/* its row was written after the entry began: a millisecond's
	 * margin, for two CPUs' clocks read within one */
	if (start_ns > SINCE_MARGIN_NS)
		store_time_at(start_ns - SINCE_MARGIN_NS, e.since);
	queue_row(&ends, &e);
	if (log_allowed)	/* mostly allowed flows' ends */
		journal_flow_end(&e);
}

void audit_flow_name(const char *sandbox, const struct flow_key *k,
		     const char *sni)
{
	struct flow_record r;

	/* in the rows' own order: it names the flow's row, never the row
	 * of a flow after it on the same ends (a port used again) */
	audit_record_init(&r, sandbox, k);
	str_set(r.sni, sizeof(r.sni), sni);
	r.allow = true;
	r.name_only = true;
	if (*r.sni && log_allowed)
		queue_row(&flows, &r);
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
		journal_flow(&r);
	}
}

void audit_request(const struct request_record *r)
{
	queue_row(&requests, r);
	journal_request(r);
}

void audit_dns(const struct dns_record *r)
{
	if (r->allow && !log_allowed)
		return;
	queue_row(&dns, r);
	journal_dns(r);
}

uint64_t audit_written(void)
{
	return written;
}

uint64_t audit_lost(void)
{
	return lost;
}

uint64_t audit_deleted_for_size(void)
{
	return deleted_for_size;
}

uint64_t audit_size(void)
{
	return db_size;
}
