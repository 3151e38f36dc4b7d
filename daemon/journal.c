/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Audit rows to journald (journal_send.c), off the event loop. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>

#include "clock.h"
#include "journal.h"
#include "journal_send.h"
#include "log.h"
#include "wire.h"
#include "xalloc.h"

#define SLOTS 4096		/* 2 s of rows at 2,000 a second */
#define FIELDS 20
#define FIELD_MAX 2200		/* the longest: an escaped 512-byte path */
/* each field's NAME, length and newline: one datagram */
_Static_assert(FIELDS * (FIELD_MAX + 10) <= JOURNAL_ENTRY_MAX, "entry");
#define WARN_NS (10 * 1000000000ull)
#define BATCH 64
#define WAIT_MS 100

enum kind { K_FLOW, K_END, K_DNS, K_REQUEST };

struct slot {
	enum kind kind;
	union {
		struct flow_record flow;
		struct flow_end end;
		struct dns_record dns;
		struct request_record request;
	} u;
};

static struct slot *ring;
static size_t head, len;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_t thread;
static bool running, stopping;
static _Atomic uint64_t dropped, sent_failed;

static void put(enum kind k, const void *row, size_t size)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	if (len == SLOTS) {
		dropped++;
	} else {
		struct slot *s = &ring[(head + len++) % SLOTS];

		s->kind = k;
		memcpy(&s->u, row, size);
		/* a wake-up a batch, not a row: the thread also looks every
		 * WAIT_MS */
		if (len == BATCH)
			pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&mu);
}

void journal_flow(const struct flow_record *r)
{
	put(K_FLOW, r, sizeof(*r));
}

void journal_flow_end(const struct flow_end *e)
{
	put(K_END, e, sizeof(*e));
}

void journal_dns(const struct dns_record *r)
{
	put(K_DNS, r, sizeof(*r));
}

void journal_request(const struct request_record *r)
{
	put(K_REQUEST, r, sizeof(*r));
}

uint64_t journal_dropped(void)
{
	return dropped + sent_failed;
}

/* ---- one entry (the export thread) ---- */

struct entry {
	struct iovec iov[FIELDS];
	char text[FIELDS][FIELD_MAX];
	int n;
};

__attribute__((format(printf, 2, 3)))
static void field(struct entry *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->n == FIELDS)
		return;
	va_start(ap, fmt);
	n = vsnprintf(e->text[e->n], FIELD_MAX, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->iov[e->n].iov_base = e->text[e->n];
	e->iov[e->n].iov_len = (size_t)n < FIELD_MAX ? (size_t)n :
			       FIELD_MAX - 1;
	e->n++;
}

/* A field whose text lives as long as the entry: not copied. */
static void field_const(struct entry *e, const char *text)
{
	if (e->n == FIELDS)
		return;
	e->iov[e->n].iov_base = (void *)text;
	e->iov[e->n].iov_len = strlen(text);
	e->n++;
}

/* NAME=v, copied without printf's cost (most of a row's fields) */
static void field_s(struct entry *e, const char *name, const char *v)
{
	size_t nl = strlen(name), vl = strlen(v);

	if (e->n == FIELDS)
		return;
	if (nl + 1 + vl > FIELD_MAX - 1)
		vl = FIELD_MAX - 2 - nl;
	memcpy(e->text[e->n], name, nl);
	e->text[e->n][nl] = '=';
	memcpy(e->text[e->n] + nl + 1, v, vl);
	e->iov[e->n].iov_base = e->text[e->n];
	e->iov[e->n].iov_len = nl + 1 + vl;
	e->n++;
}

/* A field of bytes a sandbox or a server chose, escaped. */
static void wire_field(struct entry *e, const char *name, const char *v)
{
	char esc[WIRE_TEXT_MAX(512)];

	if (*v) {
		wire_text(v, strlen(v), esc, sizeof(esc));
		field_s(e, name, esc);
	}
}

static void common(struct entry *e, const char *kind, const char *sandbox,
		   const char *time)
{
	field_const(e, "SYSLOG_IDENTIFIER=sbxfwd");
	field_s(e, "SBXFW_KIND", kind);
	field_s(e, "SBXFW_SANDBOX", sandbox);
	field_s(e, "SBXFW_TIME", time);
}

static void verdict(struct entry *e, bool allow, const char *reason)
{
	/* info, warning */
	field_const(e, allow ? "PRIORITY=6" : "PRIORITY=4");
	field_s(e, "SBXFW_VERDICT", allow ? "allow" : "deny");
	if (reason)
		field_s(e, "SBXFW_REASON", reason);
}

static void flow(struct entry *e, const struct flow_record *r)
{
	char sni[WIRE_TEXT_MAX(256)];

	wire_text(r->sni, strlen(r->sni), sni, sizeof(sni));
	common(e, "flow", r->sandbox, r->time);
	verdict(e, r->allow, r->reason);
	field(e, "MESSAGE=sandbox %s: %s %s %s %s:%u %s %s:%u%s%s (%s%s%s)",
	      r->sandbox, r->allow ? "allow" : "deny", r->proto,
	      r->inbound ? "from" : "to", r->src, r->sport,
	      r->inbound ? "to" : "from", r->dst, r->dport, *sni ? " sni " :
	      "", sni, r->reason, *r->rule ? ", rule " : "", r->rule);
	wire_field(e, "SBXFW_SNI", r->sni);
	field_s(e, "SBXFW_RULE", r->rule);
	field_s(e, "SBXFW_PROTO", r->proto);
	field_s(e, "SBXFW_SRC", r->src);
	field(e, "SBXFW_SPORT=%u", r->sport);
	field_s(e, "SBXFW_DST", r->dst);
	field(e, "SBXFW_DPORT=%u", r->dport);
	field_s(e, "SBXFW_DIRECTION", r->inbound ? "in" : "out");
}

static void end(struct entry *e, const struct flow_end *r)
{
	common(e, "flow", r->sandbox, r->time);
	field_const(e, "PRIORITY=6");
	field_const(e, "SBXFW_EVENT=end");
	field(e, "MESSAGE=sandbox %s: %s %s:%u to %s:%u ended, %llu bytes "
	      "out, %llu in", r->sandbox, r->proto, r->src, r->sport, r->dst,
	      r->dport, (unsigned long long)r->bytes_out,
	      (unsigned long long)r->bytes_in);
	field_s(e, "SBXFW_PROTO", r->proto);
	field_s(e, "SBXFW_SRC", r->src);
	field(e, "SBXFW_SPORT=%u", r->sport);
	field_s(e, "SBXFW_DST", r->dst);
	field(e, "SBXFW_DPORT=%u", r->dport);
	field(e, "SBXFW_BYTES_OUT=%llu", (unsigned long long)r->bytes_out);
	field(e, "SBXFW_BYTES_IN=%llu", (unsigned long long)r->bytes_in);
}

static void dns(struct entry *e, const struct dns_record *r)
{
	char name[WIRE_TEXT_MAX(256)];

	wire_text(r->name, strlen(r->name), name, sizeof(name));
	common(e, "dns", r->sandbox, r->time);
	verdict(e, r->allow, r->reason);
	field(e, "MESSAGE=sandbox %s: dns %s %s %s (%s)", r->sandbox, r->type,
	      name, r->allow ? "answered" : "blocked",
	      r->reason ? r->reason : "");
	field_s(e, "SBXFW_NAME", name);
	field_s(e, "SBXFW_TYPE", r->type);
	wire_field(e, "SBXFW_ANSWERS", r->answers);
}

static void request(struct entry *e, const struct request_record *r)
{
	char host[WIRE_TEXT_MAX(256)], path[WIRE_TEXT_MAX(512)];
	char method[WIRE_TEXT_MAX(24)], error[WIRE_TEXT_MAX(160)];

	wire_text(r->host, strlen(r->host), host, sizeof(host));
	wire_text(r->path, strlen(r->path), path, sizeof(path));
	common(e, "request", r->sandbox, r->time);
	field_const(e, r->status >= 500 || *r->error ? "PRIORITY=4" :
		    "PRIORITY=6");
	wire_text(r->method, strlen(r->method), method, sizeof(method));
	wire_text(r->error, strlen(r->error), error, sizeof(error));
	field(e, "MESSAGE=sandbox %s: %s https://%s%s %d%s%s", r->sandbox,
	      *method ? method : "-", host, path, r->status,
	      *error ? " " : "", error);
	field_s(e, "SBXFW_HOST", host);
	wire_field(e, "SBXFW_METHOD", r->method);
	field_s(e, "SBXFW_PATH", path);
	field(e, "SBXFW_STATUS=%d", r->status);
	/* header names only: their values never leave the broker */
	wire_field(e, "SBXFW_INJECTED", r->injected);
	wire_field(e, "SBXFW_ERROR", r->error);
}

static void send_one(const struct slot *s)
{
	static struct entry e;

	e.n = 0;
	switch (s->kind) {
	case K_FLOW: flow(&e, &s->u.flow); break;
	case K_END: end(&e, &s->u.end); break;
	case K_DNS: dns(&e, &s->u.dns); break;
	case K_REQUEST: request(&e, &s->u.request); break;
	}
	if (journal_send(e.iov, e.n) < 0)
		sent_failed++;
}

/* One line when rows go unexported, at most every 10 s. */
static void say_dropped(uint64_t *said, uint64_t *at)
{
	uint64_t n = journal_dropped(), now = now_ns();

	if (n != *said && now - *at > WARN_NS) {
		log_warnx("audit: %llu not exported to the journal",
			  (unsigned long long)n);
		*said = n;
		*at = now;
	}
}

static void *run(void *arg)
{
	static struct slot batch[BATCH];
	uint64_t said = 0, at = 0;
	struct timespec ts;
	size_t n;

	(void)arg;
	/* its own name: its CPU is the export's (make bench reads it) */
	prctl(PR_SET_NAME, "sbxfwd-journal");
	for (;;) {
		pthread_mutex_lock(&mu);
		if (len < BATCH && !stopping) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += WAIT_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&wake, &mu, &ts);
		}
		if (!len && stopping) {
			pthread_mutex_unlock(&mu);
			break;
		}
		for (n = 0; n < BATCH && len; n++, len--) {
			batch[n] = ring[head];
			head = (head + 1) % SLOTS;
		}
		pthread_mutex_unlock(&mu);
		for (size_t i = 0; i < n; i++)
			send_one(&batch[i]);
		say_dropped(&said, &at);
	}
	journal_send_close();
	return NULL;
}

int journal_start(char *err, size_t errlen)
{
	pthread_condattr_t ca;

	/* its waits measured by a clock no one sets back */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wake, &ca);
	pthread_condattr_destroy(&ca);
	ring = xcalloc(SLOTS, sizeof(*ring));
	if (pthread_create(&thread, NULL, run, NULL) != 0) {
		snprintf(err, errlen, "journal: no thread");
		free(ring);
		ring = NULL;
		return -1;
	}
	running = true;
	log_info("audit: rows exported to the journal too");
	return 0;
}

/* A journal that does not read (stopped) holds its sender: the stop
 * waits 2 s for the queue, then goes without it. */
void journal_stop(void)
{
	struct timespec ts;

	if (!running)
		return;
	running = false;
	pthread_mutex_lock(&mu);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&mu);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(thread, NULL, &ts) != 0) {
		size_t left;

		pthread_mutex_lock(&mu);
		left = len;
		pthread_mutex_unlock(&mu);
		log_warnx("audit: the journal takes nothing: %zu rows not "
			  "exported", left);
		return;		/* the thread and its ring end with us */
	}
	free(ring);
	ring = NULL;
}
