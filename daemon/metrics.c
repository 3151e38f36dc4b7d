/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prometheus metrics: counters kept by the event loop, rendered by it
 * into a text shared (reference counted) with libmicrohttpd's thread. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "conns.h"
#include "dns.h"
#include "dnscache.h"
#include "flow.h"
#include "histogram.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "queue.h"
#include "sandbox.h"
#include "xalloc.h"

#define REASONS_MAX 64
#define RENDER_TICKS 10		/* ticks of 100 ms: once a second */
static struct {
	const char *reason[REASONS_MAX];
	bool allow[REASONS_MAX];
	uint64_t n[REASONS_MAX];
	size_t nreasons;
	uint64_t (*by_sb)[REASONS_MAX];	/* per_sandbox: by id */
	uint32_t max_id;
	struct histogram verdict;
	uint64_t requests[6];		/* 1xx..5xx by class; 0: other */
	unsigned ticks;
} m;

/* ---- counting (the event loop) ---- */

static size_t reason_index(const char *reason, bool allow)
{
	size_t i;

	/* the judge's reasons are static strings: their address first */
	for (i = 0; i < m.nreasons; i++)
		if (m.reason[i] == reason && m.allow[i] == allow)
			return i;
	for (i = 0; i < m.nreasons; i++)
		if (m.allow[i] == allow && !strcmp(m.reason[i], reason))
			return i;
	if (m.nreasons == REASONS_MAX)
		return REASONS_MAX;
	m.reason[i] = reason;	/* the judge's static strings */
	m.allow[i] = allow;
	return m.nreasons++;
}

void metrics_verdict(const struct sandbox *sb, bool allow,
		     const char *reason)
{
	size_t i = reason_index(reason ? reason : "none", allow);

	if (i == REASONS_MAX)
		return;
	m.n[i]++;
	if (m.by_sb && sb && sb->id <= m.max_id)
		m.by_sb[sb->id][i]++;
}

void metrics_verdict_duration(uint64_t ns)
{
	histogram_observe(&m.verdict, ns);
}

void metrics_broker_request(int status)
{
	m.requests[status >= 100 && status < 600 ? status / 100 : 0]++;
}

void metrics_sandbox_gone(uint32_t id)
{
	if (m.by_sb && id <= m.max_id)
		memset(m.by_sb[id], 0, sizeof(m.by_sb[id]));
}

/* ---- rendering (the event loop) ---- */

struct text {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < t->cap - t->len)
			break;
		t->cap = t->cap * 2 + (size_t)n;
		t->buf = xreallocarray(t->buf, t->cap, 1);
	}
	t->len += (size_t)n;
}

static void head(struct text *t, const char *name, const char *type,
		 const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(struct text *t, const char *name, const char *help,
		      const struct histogram *h)
{
	uint64_t cum = 0;

	head(t, name, "histogram", help);
	for (size_t b = 0; b < HISTOGRAM_BUCKETS; b++) {
		cum += h->n[b];
		put(t, "%s_bucket{le=\"%g\"} %llu\n", name,
		    histogram_bounds[b],
		    (unsigned long long)cum);
	}
	put(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
	    name, (unsigned long long)h->count, name, h->sum, name,
	    (unsigned long long)h->count);
}

static void verdicts(struct text *t)
{
	uint64_t limit = 0;

	head(t, "sbxfw_verdicts_total", "counter",
	     "Flow verdicts by verdict and reason (with per_sandbox, by "
	     "sandbox too).");
	for (size_t i = 0; i < m.nreasons; i++) {
		const char *v = m.allow[i] ? "allow" : "deny";

		if (!strcmp(m.reason[i], "flow-limit"))
			limit += m.n[i];
		if (!m.by_sb) {
			put(t, "sbxfw_verdicts_total{verdict=\"%s\",reason="
			    "\"%s\"} %llu\n", v, m.reason[i],
			    (unsigned long long)m.n[i]);
			continue;
		}
		for (struct sandbox *sb = sandbox_next(NULL); sb;
		     sb = sandbox_next(sb))
			if (sb->id <= m.max_id && m.by_sb[sb->id][i])
				put(t, "sbxfw_verdicts_total{sandbox=\"%s\","
				    "verdict=\"%s\",reason=\"%s\"} %llu\n",
				    sb->name, v, m.reason[i],
				    (unsigned long long)m.by_sb[sb->id][i]);
	}
	head(t, "sbxfw_flow_limit_total", "counter",
	     "New flows refused because their sandbox was past its share.");
	put(t, "sbxfw_flow_limit_total %llu\n", (unsigned long long)limit);
}

static void counter(struct text *t, const char *name, const char *help,
		    uint64_t v)
{
	head(t, name, "counter", help);
	put(t, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct text *t, const char *name, const char *help,
		  uint64_t v)
{
	head(t, name, "gauge", help);
	put(t, "%s %llu\n", name, (unsigned long long)v);
}

static void render(struct text *t)
{
	const struct dns_stats *ds = dns_stats();
	static const char *const cls[] = { "other", "1xx", "2xx", "3xx",
					   "4xx", "5xx" };

	gauge(t, "sbxfw_up", "1: sbxfwd is running.", 1);
	head(t, "sbxfw_build_info", "gauge", "sbxfwd's version.");
	put(t, "sbxfw_build_info{version=\"%s\"} 1\n", SBXFW_VERSION);
	gauge(t, "sbxfw_sandboxes", "Sandboxes.", sandbox_count());
	verdicts(t);
	histogram(t, "sbxfw_verdict_duration_seconds",
		  "Time from a queued packet's arrival to its verdict.",
		  &m.verdict);
	counter(t, "sbxfw_queue_dropped_total", "Packets the kernel dropped "
		"because the queue was full.", queue_drops());
	gauge(t, "sbxfw_flows_held", "Flows whose packets wait for a "
	      "verdict.", flow_held_count());
	head(t, "sbxfw_dns_queries_total", "counter",
	     "Sandboxes' DNS queries, answered (allow) or blocked (deny).");
	put(t, "sbxfw_dns_queries_total{verdict=\"allow\"} %llu\n"
	    "sbxfw_dns_queries_total{verdict=\"deny\"} %llu\n",
	    (unsigned long long)ds->allowed, (unsigned long long)ds->denied);
	counter(t, "sbxfw_dns_upstream_failures_total", "Allowed queries no "
		"upstream answered (SERVFAIL given).", ds->failed);
	histogram(t, "sbxfw_dns_upstream_duration_seconds",
		  "Time an upstream resolver took to answer.", &ds->upstream);
	head(t, "sbxfw_broker_requests_total", "counter",
	     "Requests the broker served, by status class.");
	for (size_t i = 0; i < 6; i++)
		put(t, "sbxfw_broker_requests_total{status=\"%s\"} %llu\n",
		    cls[i], (unsigned long long)m.requests[i]);
	head(t, "sbxfw_audit_rows_total", "counter",
	     "Audit rows written, lost (not written), deleted for size, not "
	     "exported to the journal.");
	put(t, "sbxfw_audit_rows_total{state=\"written\"} %llu\n"
	    "sbxfw_audit_rows_total{state=\"lost\"} %llu\n"
	    "sbxfw_audit_rows_total{state=\"deleted_for_size\"} %llu\n"
	    "sbxfw_audit_rows_total{state=\"not_exported\"} %llu\n",
	    (unsigned long long)audit_written(),
	    (unsigned long long)audit_lost(),
	    (unsigned long long)audit_deleted_for_size(),
	    (unsigned long long)journal_dropped());
	head(t, "sbxfw_cache_bytes", "gauge", "Bytes each bounded cache "
	     "holds.");
	put(t, "sbxfw_cache_bytes{cache=\"flows\"} %zu\n"
	    "sbxfw_cache_bytes{cache=\"dns_names\"} %zu\n"
	    "sbxfw_cache_bytes{cache=\"flow_names\"} %zu\n", flow_bytes(),
	    dnscache_bytes(), conns_bytes());
}

/* ---- the text shared with the HTTP thread ---- */

struct snap {
	char *text;
	size_t len;
	int refs;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct snap *cur;
static struct MHD_Daemon *mhd;
static char sock_path[108];

static void snap_put(void *arg)
{
	struct snap *s = arg;
	bool last;

	pthread_mutex_lock(&mu);
	last = --s->refs == 0;
	pthread_mutex_unlock(&mu);
	if (last) {
		free(s->text);
		free(s);
	}
}

static void publish(void)
{
	struct snap *s = xcalloc(1, sizeof(*s)), *old;
	struct text t = { .cap = 16384 };

	t.buf = xmalloc(t.cap);
	render(&t);
	s->text = t.buf;
	s->len = t.len;
	s->refs = 1;
	pthread_mutex_lock(&mu);
	old = cur;
	cur = s;
	pthread_mutex_unlock(&mu);
	if (old)
		snap_put(old);
}

void metrics_tick(void)
{
	if (mhd && ++m.ticks % RENDER_TICKS == 0)
		publish();
}

/* ---- HTTP (libmicrohttpd's thread) ---- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *data,
			      size_t *size, void **state)
{
	static const char nf[] = "not found: /metrics\n";
	struct MHD_Response *r;
	struct snap *s;
	enum MHD_Result rc;
	unsigned status = MHD_HTTP_OK;

	(void)cls, (void)version, (void)data, (void)size, (void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		r = MHD_create_response_from_buffer(0, NULL,
						    MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	} else if (strcmp(url, "/metrics")) {
		r = MHD_create_response_from_buffer(sizeof(nf) - 1,
						    (void *)nf,
						    MHD_RESPMEM_PERSISTENT);
		status = MHD_HTTP_NOT_FOUND;
	} else {
		pthread_mutex_lock(&mu);
		if ((s = cur))
			s->refs++;
		pthread_mutex_unlock(&mu);
		if (!s)
			return MHD_NO;
		r = MHD_create_response_from_buffer_with_free_callback_cls(
			s->len, s->text, snap_put, s);
		if (!r) {
			snap_put(s);
			return MHD_NO;
		}
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; version=0.0.4; "
					"charset=utf-8");
	}
	if (!r)
		return MHD_NO;
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static int unix_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "[metrics] listen %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(sock_path, sizeof(sock_path), "%.107s", path);
	return fd;
}

int metrics_start(struct daemon *d, char *err, size_t errlen)
{
	const char *listen_at = d->cfg.metrics_listen;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD;
	struct sockaddr_storage ss;
	int fd = -1;

	if (!*listen_at)
		return 0;
	if (d->cfg.metrics_per_sandbox) {
		m.max_id = d->marks.max_id;
		m.by_sb = xcalloc((size_t)m.max_id + 1, sizeof(*m.by_sb));
	}
	if (listen_at[0] == '/') {
		if ((fd = unix_listen(listen_at, err, errlen)) < 0)
			return -1;
	} else if (cfg_listen_addr(listen_at, &ss) < 0) {
		snprintf(err, errlen, "[metrics] listen %s: not an address",
			 listen_at);
		return -1;
	}
	if (fd < 0 && ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	publish();
	mhd = fd >= 0 ?
		MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
				 MHD_OPTION_LISTEN_SOCKET, fd,
				 MHD_OPTION_CONNECTION_LIMIT, 64u,
				 MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				 MHD_OPTION_END) :
		MHD_start_daemon(flags, 0, NULL, NULL, answer, NULL,
				 MHD_OPTION_SOCK_ADDR, &ss,
				 MHD_OPTION_CONNECTION_LIMIT, 64u,
				 MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u,
				 MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				 MHD_OPTION_END);
	if (!mhd) {
		snprintf(err, errlen, "[metrics] listen %s: %s", listen_at,
			 strerror(errno ? errno : EADDRINUSE));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	log_info("metrics on %s (Prometheus text format, /metrics)",
		 listen_at);
	return 0;
}

void metrics_stop(void)
{
	if (mhd)
		MHD_stop_daemon(mhd);
	mhd = NULL;
	if (*sock_path)
		unlink(sock_path);
	if (cur)
		snap_put(cur);
	cur = NULL;
	free(m.by_sb);
	m.by_sb = NULL;
}
