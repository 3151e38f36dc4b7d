/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The resolver's upstream side: each query forwarded (UDP from a pool
 * of sockets, TCP when an answer is truncated), tried again, answered
 * and filtered; and the daemon's own resolutions, which address binding
 * waits for. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "dns_int.h"
#include "dnscache.h"
#include "log.h"
#include "policy.h"
#include "sandbox.h"
#include "upool.h"
#include "xalloc.h"

struct dns_hooks res_hooks;
struct upstream res_upstreams[CFG_UPSTREAM_MAX];
size_t res_nupstreams;

/* The upstream socket of an res_attempt: UDP ones go back to the pool (a
 * late answer there is read and dropped). */
static void pend_socket_done(struct pending *p)
{
	if (p->fd < 0)
		return;
	if (p->pooled)
		upool_give(p->slot, p->ok);
	else
		close(p->fd);	/* leaves the epoll set with it */
	p->fd = -1;
	p->pooled = false;
}

/* Entries in use: the walks below stop once they have seen them all
 * (taken lowest first, they sit at the front). */
static size_t pend_used;

void res_pend_free(struct pending *p)
{
	if (p->used)
		pend_used--;
	pend_socket_done(p);
	if (p->conn)		/* set only for FROM_TCP */
		p->conn->busy = false;
	free(p->query);
	free(p->buf);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

static void sockaddr_of(const struct upstream *u,
			struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (u->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(u->port);
		memcpy(&s4->sin_addr, u->addr, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(u->port);
		memcpy(&s6->sin6_addr, u->addr, 16);
		*len = sizeof(*s6);
	}
}

static size_t upstream_query(const struct pending *p, uint8_t *out)
{
	return dns_query_forward(p->query, &p->q, p->id, out, DNS_MSG_MAX);
}

/* Query ids from the kernel's CSPRNG, drawn 256 at a time (glibc's
 * arc4random asks the kernel on every call). */
static uint16_t random_id(void)
{
	static uint16_t ids[256];
	static size_t left;

	if (!left) {
		arc4random_buf(ids, sizeof(ids));
		left = sizeof(ids) / sizeof(ids[0]);
	}
	return ids[--left];
}

/* TCP: a fresh connection, the query sent once it is up. */
static int attempt_tcp(struct pending *p, const struct sockaddr *to,
		       socklen_t tolen)
{
	p->fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
		       SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	if (connect(p->fd, to, tolen) < 0 && errno != EINPROGRESS)
		return -errno;
	return res_ep_set(EPOLL_CTL_ADD, p->fd, EPOLLOUT, K_PEND,
			  (size_t)(p - res_pend));
}

/* UDP: a socket of the pool (see upool.h), watched for this query. */
static int attempt_udp(struct pending *p, size_t up,
		       const struct sockaddr *to, socklen_t tolen)
{
	bool fresh;
	int fd = upool_take(up, to, tolen, (size_t)(p - res_pend), &p->slot,
			    &fresh);
	size_t n;

	if (fd < 0)
		return fd;
	p->fd = fd;
	p->pooled = true;
	if (fresh &&
	    res_ep_set(EPOLL_CTL_ADD, fd, EPOLLIN, K_UPOOL, p->slot) < 0)
		return -errno;
	n = upstream_query(p, res_wbuf);
	if (!n || send(fd, res_wbuf, n, 0) < 0)
		return -EIO;
	return 0;
}

/* One res_attempt, to the next upstream, with a new random id; TCP for
 * clients that asked over TCP. */
int res_attempt(struct pending *p, uint64_t now)
{
	size_t up = p->attempt % res_nupstreams;
	struct sockaddr_storage ss;
	socklen_t sl;

	pend_socket_done(p);
	p->have = 0;
	p->connected = false;
	p->id = random_id();
	p->deadline = now + TRY_NS;
	sockaddr_of(&res_upstreams[up], &ss, &sl);
	if (p->tcp)
		return attempt_tcp(p, (struct sockaddr *)&ss, sl);
	return attempt_udp(p, up, (struct sockaddr *)&ss, sl);
}

static void own_done(struct pending *p, const struct dns_answer *a,
		     uint64_t now)
{
	int family = p->q.qtype == DNS_T_A ? AF_INET : AF_INET6;
	uint64_t keep = OWN_FAIL_NS;

	if (a) {
		keep = (uint64_t)a->min_ttl * 1000 * MS;
		keep = keep < OWN_MIN_NS ? OWN_MIN_NS :
		       keep > OWN_MAX_NS ? OWN_MAX_NS : keep;
	}
	dnscache_own_done(p->q.name, family, a ? a->addr : NULL,
			  a ? a->naddr : 0, keep, GRACE_NS, now);
	if (a)
		res_hooks.learned(NULL, p->q.name, a->addr, a->naddr, keep,
				  now);
	log_debug("dns: resolved %s %s: %zu addresses", p->q.name,
		  family == AF_INET ? "A" : "AAAA", a ? a->naddr : 0);
	res_pend_free(p);
	res_hooks.resolved();
}

/* No answer from any upstream. */
static void fail(struct pending *p, uint64_t now)
{
	res_stats.failed++;
	if (p->origin == FROM_OWN)
		return own_done(p, NULL, now);
	res_audit(p->sb, &p->q, true, p->reason, "SERVFAIL (no answer)");
	res_reply_error(p->origin, &p->to, p->conn, p->query, &p->q,
			DNS_R_SERVFAIL, -1);
	res_pend_free(p);
}

void res_retry(struct pending *p, uint64_t now)
{
	while (++p->attempt < TRIES * res_nupstreams)
		if (res_attempt(p, now) == 0)
			return;
	fail(p, now);
}

/* The upstream's answer: filtered, remembered, passed on. */
static void answered(struct pending *p, const uint8_t *m, size_t len,
		     uint64_t now)
{
	size_t limit = p->origin == FROM_UDP ? p->q.udp_size : 0;
	const struct sandbox *sb;
	struct dns_answer a;
	size_t n = dns_answer_filter(m, len, p->id, p->query, &p->q, limit,
				     res_wbuf, sizeof(res_wbuf), &a);

	if (!n)		/* not an answer to our question */
		return res_retry(p, now);
	p->ok = true;
	histogram_observe(&res_stats.upstream, now - p->started);
	if (p->origin == FROM_OWN)
		return own_done(p, &a, now);
	if ((sb = sandbox_get(p->sb))) {
		dnscache_learn(p->sb, p->q.name, a.addr, a.naddr, GRACE_NS,
			       now);
		res_hooks.learned(sb, p->q.name, a.addr, a.naddr, 0, now);
	}
	res_audit(p->sb, &p->q, true, p->reason, a.rcode == DNS_R_NOERROR ?
		  a.text : dns_rcode_name(a.rcode));
	res_reply(p->origin, &p->to, p->conn, res_wbuf, n);
	res_pend_free(p);
}

void res_pend_event(struct pending *p, uint32_t events, uint64_t now)
{
	ssize_t n;

	if (p->tcp && !p->connected) {
		int e = 0;
		socklen_t el = sizeof(e);
		size_t qn;

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e || (events & (EPOLLERR | EPOLLHUP)))
			return res_retry(p, now);
		qn = upstream_query(p, res_wbuf + 2);
		res_wbuf[0] = (uint8_t)(qn >> 8);
		res_wbuf[1] = (uint8_t)qn;
		/* a query is small: one send, or the res_attempt fails */
		if (!qn || send(p->fd, res_wbuf, qn + 2, MSG_NOSIGNAL) !=
		    (ssize_t)(qn + 2))
			return res_retry(p, now);
		p->connected = true;
		res_ep_set(EPOLL_CTL_MOD, p->fd, EPOLLIN, K_PEND,
			   (size_t)(p - res_pend));
		return;
	}
	if (!p->tcp) {
		n = recv(p->fd, res_rbuf, sizeof(res_rbuf), 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			return res_retry(p, now);
		return answered(p, res_rbuf, (size_t)n, now);
	}
	if (!p->buf)
		p->buf = xmalloc(2 + DNS_MSG_MAX);
	n = recv(p->fd, p->buf + p->have, 2 + DNS_MSG_MAX - p->have, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0)
		return res_retry(p, now);
	p->have += (size_t)n;
	n = dns_tcp_frame(p->buf, p->have);
	if (n < 0)
		return res_retry(p, now);
	if (n > 0)
		answered(p, p->buf + 2, (size_t)n - 2, now);
}

/* How many of the sandbox's queries wait, and TCP clients are open. */
size_t res_pend_of(uint32_t sb)
{
	size_t n = 0, seen = 0;

	for (size_t i = 0; i < PEND_MAX && seen < pend_used; i++) {
		seen += res_pend[i].used;
		n += res_pend[i].used && res_pend[i].sb == sb;
	}
	return n;
}

struct pending *res_pend_new(void)
{
	for (size_t i = 0; i < PEND_MAX; i++)
		if (!res_pend[i].used) {
			res_pend[i].used = true;
			pend_used++;
			res_pend[i].fd = -1;
			res_pend[i].started = now_ns();
			return &res_pend[i];
		}
	return NULL;
}

static int resolve(const char *name, int family, uint64_t now)
{
	uint8_t q[DNS_HEADER_LEN + 256 + 16];
	struct pending *p;
	size_t n;

	if (!res_nupstreams || !(n = dns_query_build(name, family == AF_INET ?
						 DNS_T_A : DNS_T_AAAA, 0, q,
						 sizeof(q))) ||
	    !(p = res_pend_new()))
		return -1;
	p->origin = FROM_OWN;
	p->query = xmalloc(n);
	memcpy(p->query, q, n);
	dns_query_parse(p->query, n, &p->q);
	dnscache_own_pending(name, family);
	if (res_attempt(p, now) < 0)
		p->deadline = now;	/* dns_tick tries again */
	return 0;
}

enum bound dns_bound(uint32_t sb, const char *name, int family,
		     const uint8_t *addr, enum bind_how how)
{
	uint64_t now = now_ns();

	if (dnscache_has(sb, name, family, addr, now) ||
	    dnscache_has(DNSCACHE_OWN, name, family, addr, now))
		return BOUND_YES;
	switch (dnscache_own(name, family, now)) {
	case OWN_KNOWN:
		return BOUND_NO;
	case OWN_PENDING:
		return how == BIND_FINAL ? BOUND_NO : BOUND_WAIT;
	case OWN_UNKNOWN:
		break;
	}
	if (how == BIND_PEEK)
		return BOUND_WAIT;
	return how == BIND_FINAL || resolve(name, family, now) < 0 ? BOUND_NO :
	       BOUND_WAIT;
}

void dns_prefetch(const char *name)
{
	uint64_t now = now_ns();

	for (int i = 0; i < 2; i++) {
		int family = i ? AF_INET6 : AF_INET;

		if (dnscache_own(name, family, now) == OWN_UNKNOWN)
			resolve(name, family, now);
	}
}

static bool still_allowed(const char *name, void *arg)
{
	struct verdict_result v;

	policy_eval_dns(arg, name, true, &v);
	return v.verdict == VERDICT_ALLOW;
}

void dns_forget(uint32_t sb, const struct policy *p)
{
	dnscache_forget(sb, p ? still_allowed : NULL, (void *)p);
}
