/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sandboxes' resolver: queries judged, forwarded, answers filtered. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "ct.h"
#include "broker.h"
#include "dns.h"
#include "dns_msg.h"
#include "dnscache.h"
#include "log.h"
#include "policy.h"
#include "peers.h"
#include "sandbox.h"
#include "upool.h"
#include "wire.h"
#include "xalloc.h"

#define MS 1000000ull
#define PEND_MAX 256		/* queries waiting for an upstream */
#define CONN_MAX 64		/* sandbox TCP connections */
/* Each sandbox's share of them (past it: REFUSED, flow-limit) */
#define PEND_PER_SANDBOX (PEND_MAX / 4)
#define CONN_PER_SANDBOX (CONN_MAX / 4)
#define TRY_NS (1500 * MS)	/* one upstream attempt */
#define TRIES 2			/* attempts per upstream */
#define IDLE_NS (10000 * MS)	/* an idle TCP client is closed */
#define GRACE_NS (300000 * MS)	/* past an answer's TTL, for binding */
#define OWN_MIN_NS (5000 * MS)	/* our own answers kept at least, */
#define OWN_MAX_NS (3600000 * MS)	/* at most, */
#define OWN_FAIL_NS (5000 * MS)	/* and a failure */
#define RECV_BURST 64
#define CACHE_NAMES 65536
#define BLOCKED_TEXT "blocked by sbxfw policy"

/* epoll tags: kind << 32 | index */
enum kind { K_LISTEN = 1, K_PEND, K_CONN, K_UPOOL };
enum { L_UDP4, L_UDP6, L_TCP4, L_TCP6, L_MAX };

/* A sandbox's TCP connection: one query at a time (RFC 7766 allows it). */
struct conn {
	int fd;
	size_t slot;
	bool dead;
	uint32_t sb;
	uint8_t in[2 + DNS_MSG_MAX];
	size_t have;
	uint8_t *out;		/* what is left to write */
	size_t outlen, outoff;
	bool busy;		/* a query is out */
	uint64_t deadline;
};

enum origin { FROM_UDP, FROM_TCP, FROM_OWN };

/* Where a UDP answer goes: the client, from the address it reached. */
struct udp_peer {
	int family;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint8_t local[16];
};

struct pending {
	bool used;
	int fd;			/* to the upstream */
	bool pooled, ok;	/* UDP: the pool's socket; it answered */
	size_t slot;
	enum origin origin;
	uint32_t sb;
	struct udp_peer to;	/* FROM_UDP */
	struct conn *conn;	/* FROM_TCP; NULL once it closed */
	uint8_t *query;		/* the client's, for its question */
	struct dns_query q;
	const char *reason;	/* why the policy allowed it */
	uint16_t id;		/* ours, upstream */
	size_t attempt;
	uint64_t deadline;
	/* TCP upstream */
	bool tcp, connected;
	uint8_t *buf;
	size_t have;
};

static const struct marks *marks;
static void (*on_resolved)(void);
static int ep = -1, lfd[L_MAX] = { -1, -1, -1, -1 };
static uint16_t port;
static struct upstream upstreams[CFG_UPSTREAM_MAX];
static size_t nupstreams;
static struct pending pend[PEND_MAX];
static struct conn *conns[CONN_MAX];
static struct dns_stats stats;
static uint8_t rbuf[DNS_MSG_MAX + 1], wbuf[2 + DNS_MSG_MAX];

const struct dns_stats *dns_stats(void)
{
	return &stats;
}

static int ep_set(int op, int fd, uint32_t events, enum kind k, size_t i)
{
	struct epoll_event ev = { .events = events,
				  .data.u64 = (uint64_t)k << 32 | i };

	return epoll_ctl(ep, op, fd, &ev);
}

/* ---- the audit ---- */

static void audit(uint32_t sb, const struct dns_query *q, bool allow,
		  const char *reason, const char *answers)
{
	const struct sandbox *s = sandbox_get(sb);
	struct dns_record r = { .allow = allow, .reason = reason };
	char tb[12], name[WIRE_TEXT_MAX(DNS_NAME_TEXT)];

	if (allow)
		stats.allowed++;
	else
		stats.denied++;
	store_time_now(r.time);
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", s ? s->name : "?");
	snprintf(r.name, sizeof(r.name), "%s", q->name);
	snprintf(r.type, sizeof(r.type), "%s", dns_type_name(q->qtype, tb));
	snprintf(r.answers, sizeof(r.answers), "%s", answers ? answers : "");
	audit_dns(&r);
	log_debug("dns %s %s %s %s: %s", s ? s->name : "?", r.type,
		  wire_text(q->name, strlen(q->name), name, sizeof(name)),
		  allow ? "allow" : "deny", reason);
}

/* ---- answers to the sandbox ---- */

/* One control message of `len' bytes into mh's buffer. */
static void cmsg_put(struct msghdr *mh, int level, int type, const void *data,
		     size_t len)
{
	struct cmsghdr *cm;

	mh->msg_controllen = CMSG_SPACE(len);
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
}

static void udp_send(const struct udp_peer *to, const uint8_t *m, size_t len)
{
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { (void *)m, len };
	struct msghdr mh = { .msg_name = (void *)&to->peer,
			     .msg_namelen = to->peerlen, .msg_iov = &iov,
			     .msg_iovlen = 1, .msg_control = c.b };

	memset(&c, 0, sizeof(c));
	/* from the address the query reached, for conntrack to map back */
	if (to->family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		memcpy(&pi.ipi_spec_dst, to->local, 4);
		cmsg_put(&mh, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		memcpy(&pi.ipi6_addr, to->local, 16);
		cmsg_put(&mh, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof(pi));
	}
	if (sendmsg(lfd[to->family == AF_INET ? L_UDP4 : L_UDP6], &mh,
		    MSG_DONTWAIT) < 0)
		log_debug("dns: answer to the sandbox: %s", strerror(errno));
}

static void conn_interest(struct conn *c)
{
	ep_set(EPOLL_CTL_MOD, c->fd, c->out ? EPOLLOUT : c->busy ? 0 : EPOLLIN,
	       K_CONN, c->slot);
}

/* Writes what it can, the rest on EPOLLOUT; a failure marks it dead (its
 * owner closes it: never under the caller's feet). */
static void conn_flush(struct conn *c)
{
	while (c->out && c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff,
				 c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->dead = true;
			return;
		}
		c->outoff += (size_t)n;
	}
	if (c->out && c->outoff == c->outlen) {
		free(c->out);
		c->out = NULL;
	}
	conn_interest(c);
}

static void conn_send(struct conn *c, const uint8_t *m, size_t len)
{
	c->out = xmalloc(len + 2);
	c->out[0] = (uint8_t)(len >> 8);
	c->out[1] = (uint8_t)len;
	memcpy(c->out + 2, m, len);
	c->outlen = len + 2;
	c->outoff = 0;
	conn_flush(c);
}

/* An answer for a client, whichever way it came. */
static void reply(enum origin o, const struct udp_peer *to, struct conn *c,
		  const uint8_t *m, size_t len)
{
	if (!len)
		return;
	if (o == FROM_UDP)
		udp_send(to, m, len);
	else if (o == FROM_TCP && c)
		conn_send(c, m, len);
}

static void reply_error(enum origin o, const struct udp_peer *to,
			struct conn *c, const uint8_t *query,
			const struct dns_query *q, uint16_t rcode, int ede)
{
	size_t n = dns_reply_error(query, q, rcode, ede,
				   ede >= 0 ? BLOCKED_TEXT : NULL, wbuf,
				   sizeof(wbuf));

	reply(o, to, c, wbuf, n);
}

/* ---- upstream ---- */

/* The upstream socket of an attempt: UDP ones go back to the pool (a
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

static void pend_free(struct pending *p)
{
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
	return ep_set(EPOLL_CTL_ADD, p->fd, EPOLLOUT, K_PEND,
		      (size_t)(p - pend));
}

/* UDP: a socket of the pool (see upool.h), watched for this query. */
static int attempt_udp(struct pending *p, size_t up,
		       const struct sockaddr *to, socklen_t tolen)
{
	bool fresh;
	int fd = upool_take(up, to, tolen, (size_t)(p - pend), &p->slot,
			    &fresh);
	size_t n;

	if (fd < 0)
		return fd;
	p->fd = fd;
	p->pooled = true;
	if (fresh && ep_set(EPOLL_CTL_ADD, fd, EPOLLIN, K_UPOOL, p->slot) < 0)
		return -errno;
	n = upstream_query(p, wbuf);
	if (!n || send(fd, wbuf, n, 0) < 0)
		return -EIO;
	return 0;
}

/* One attempt, to the next upstream, with a new random id; TCP for
 * clients that asked over TCP. */
static int attempt(struct pending *p, uint64_t now)
{
	size_t up = p->attempt % nupstreams;
	struct sockaddr_storage ss;
	socklen_t sl;

	pend_socket_done(p);
	p->have = 0;
	p->connected = false;
	p->id = random_id();
	p->deadline = now + TRY_NS;
	sockaddr_of(&upstreams[up], &ss, &sl);
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
			  a ? a->naddr : 0, keep, now);
	if (a)
		broker_learn_own(p->q.name, a->addr, a->naddr, keep, now);
	log_debug("dns: resolved %s %s: %zu addresses", p->q.name,
		  family == AF_INET ? "A" : "AAAA", a ? a->naddr : 0);
	pend_free(p);
	on_resolved();
}

/* No answer from any upstream. */
static void fail(struct pending *p, uint64_t now)
{
	stats.failed++;
	if (p->origin == FROM_OWN)
		return own_done(p, NULL, now);
	audit(p->sb, &p->q, true, p->reason, "SERVFAIL (no answer)");
	reply_error(p->origin, &p->to, p->conn, p->query, &p->q,
		    DNS_R_SERVFAIL, -1);
	pend_free(p);
}

static void retry(struct pending *p, uint64_t now)
{
	while (++p->attempt < TRIES * nupstreams)
		if (attempt(p, now) == 0)
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
				     wbuf, sizeof(wbuf), &a);

	if (!n)		/* not an answer to our question */
		return retry(p, now);
	p->ok = true;
	if (p->origin == FROM_OWN)
		return own_done(p, &a, now);
	if ((sb = sandbox_get(p->sb))) {
		dnscache_learn(p->sb, p->q.name, a.addr, a.naddr, GRACE_NS,
			       now);
		broker_learn(sb, p->q.name, a.addr, a.naddr, now);
	}
	audit(p->sb, &p->q, true, p->reason, a.rcode == DNS_R_NOERROR ?
	      a.text : dns_rcode_name(a.rcode));
	reply(p->origin, &p->to, p->conn, wbuf, n);
	pend_free(p);
}

static void pend_event(struct pending *p, uint32_t events, uint64_t now)
{
	ssize_t n;

	if (p->tcp && !p->connected) {
		int e = 0;
		socklen_t el = sizeof(e);
		size_t qn;

		getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el);
		if (e || (events & (EPOLLERR | EPOLLHUP)))
			return retry(p, now);
		qn = upstream_query(p, wbuf + 2);
		wbuf[0] = (uint8_t)(qn >> 8);
		wbuf[1] = (uint8_t)qn;
		/* a query is small: one send, or the attempt fails */
		if (!qn || send(p->fd, wbuf, qn + 2, MSG_NOSIGNAL) !=
		    (ssize_t)(qn + 2))
			return retry(p, now);
		p->connected = true;
		ep_set(EPOLL_CTL_MOD, p->fd, EPOLLIN, K_PEND,
		       (size_t)(p - pend));
		return;
	}
	if (!p->tcp) {
		n = recv(p->fd, rbuf, sizeof(rbuf), 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			return retry(p, now);
		return answered(p, rbuf, (size_t)n, now);
	}
	if (!p->buf)
		p->buf = xmalloc(2 + DNS_MSG_MAX);
	n = recv(p->fd, p->buf + p->have, 2 + DNS_MSG_MAX - p->have, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0)
		return retry(p, now);
	p->have += (size_t)n;
	n = dns_tcp_frame(p->buf, p->have);
	if (n < 0)
		return retry(p, now);
	if (n > 0)
		answered(p, p->buf + 2, (size_t)n - 2, now);
}

/* How many of the sandbox's queries wait, and TCP clients are open. */
static size_t pend_of(uint32_t sb)
{
	size_t n = 0;

	for (size_t i = 0; i < PEND_MAX; i++)
		n += pend[i].used && pend[i].sb == sb;
	return n;
}

static size_t conns_of(uint32_t sb)
{
	size_t n = 0;

	for (size_t i = 0; i < CONN_MAX; i++)
		n += conns[i] && conns[i]->sb == sb;
	return n;
}

static struct pending *pend_new(void)
{
	for (size_t i = 0; i < PEND_MAX; i++)
		if (!pend[i].used) {
			pend[i].used = true;
			pend[i].fd = -1;
			return &pend[i];
		}
	return NULL;
}

/* ---- queries from sandboxes ---- */

static void query(uint32_t sb, enum origin o, const struct udp_peer *to,
		  struct conn *c, const uint8_t *m, size_t len, uint64_t now)
{
	struct sandbox *s = sandbox_get(sb);
	struct verdict_result v;
	struct dns_query q;
	struct pending *p;

	switch (dns_query_parse(m, len, &q)) {
	case DNS_DROP:
		if (c)
			c->dead = true;	/* a client that sends answers */
		return;
	case DNS_FORMERR:
		audit(sb, &q, false, "dns-malformed", NULL);
		return reply_error(o, to, c, m, &q, DNS_R_FORMERR, -1);
	case DNS_NOTIMP:
		audit(sb, &q, false, "dns-not-a-query", NULL);
		return reply_error(o, to, c, m, &q, DNS_R_NOTIMP, -1);
	case DNS_OK:
		break;
	}
	if (!s) {
		audit(sb, &q, false, "no-sandbox", NULL);
		return reply_error(o, to, c, m, &q, DNS_R_REFUSED, -1);
	}
	policy_eval_dns(s->policy, q.name, q.host, &v);
	if (s->policy->mode == MODE_DENY_ALL) {
		/* nothing to resolve at all: refused, at once */
		audit(sb, &q, false, v.reason, NULL);
		return reply_error(o, to, c, m, &q, DNS_R_REFUSED,
				   DNS_EDE_PROHIBITED);
	}
	if (v.verdict != VERDICT_ALLOW) {
		/* answered here, never forwarded: nothing leaves */
		audit(sb, &q, false, v.reason, NULL);
		return reply_error(o, to, c, m, &q, DNS_R_NXDOMAIN,
				   DNS_EDE_BLOCKED);
	}
	if (pend_of(sb) >= PEND_PER_SANDBOX) {
		/* its share is taken: the others' queries still go */
		audit(sb, &q, false, "flow-limit", NULL);
		return reply_error(o, to, c, m, &q, DNS_R_REFUSED, -1);
	}
	if (!nupstreams || !(p = pend_new())) {
		stats.failed++;
		audit(sb, &q, true, v.reason, nupstreams ?
		      "SERVFAIL (too many queries)" : "SERVFAIL (no upstream)");
		return reply_error(o, to, c, m, &q, DNS_R_SERVFAIL, -1);
	}
	p->origin = o;
	p->reason = v.reason;
	p->sb = sb;
	if (to)
		p->to = *to;
	p->conn = c;
	p->q = q;
	p->query = xmalloc(len);
	memcpy(p->query, m, len);
	p->tcp = o == FROM_TCP;
	p->attempt = 0;
	if (c)
		c->busy = true;
	/* a failure is taken up by dns_tick, never from here */
	if (attempt(p, now) < 0)
		p->deadline = now;
}

/* Which sandbox a redirected flow comes from: conntrack knows the flow
 * by its reply tuple, which is what the local socket sees (UDP clients'
 * next queries from the same port: see peers.h). */
static int sandbox_of(int family, uint8_t proto, const uint8_t *local,
		      const struct sockaddr_storage *peer, uint64_t now,
		      uint32_t *sb)
{
	struct flow_key reply = { .family = (uint8_t)family, .proto = proto,
				  .sport = port }, orig;
	uint32_t mark;

	memcpy(reply.src, local, family == AF_INET ? 4 : 16);
	if (family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)peer;

		memcpy(reply.dst, &s4->sin_addr, 4);
		reply.dport = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)peer;

		memcpy(reply.dst, &s6->sin6_addr, 16);
		reply.dport = ntohs(s6->sin6_port);
	}
	if (proto == IPPROTO_UDP && peers_get(&reply, now, sb) == 0)
		return 0;
	if (ct_get_reply(&reply, &orig, &mark) < 0 || orig.dport != 53 ||
	    !(*sb = mark_get_id(marks, mark)))
		return -1;	/* not redirected from a sandbox */
	if (proto == IPPROTO_UDP)
		peers_put(&reply, *sb, now);
	return 0;
}

static bool local_addr(struct msghdr *mh, int family, uint8_t *out)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (family == AF_INET && cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memcpy(out, &pi.ipi_addr, 4);
			return true;
		}
		if (family == AF_INET6 && cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			memcpy(out, &pi.ipi6_addr, 16);
			return true;
		}
	}
	return false;
}

static void udp_readable(int family, uint64_t now)
{
	for (int i = 0; i < RECV_BURST; i++) {
		union {
			char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} c;
		struct udp_peer to = { .family = family };
		struct iovec iov = { rbuf, sizeof(rbuf) };
		struct msghdr mh = { .msg_name = &to.peer,
				     .msg_namelen = sizeof(to.peer),
				     .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = c.b,
				     .msg_controllen = sizeof(c.b) };
		ssize_t n = recvmsg(lfd[family == AF_INET ? L_UDP4 : L_UDP6],
				    &mh, MSG_DONTWAIT);
		uint32_t sb;

		if (n < 0)
			return;
		to.peerlen = mh.msg_namelen;
		if (!local_addr(&mh, family, to.local) ||
		    sandbox_of(family, IPPROTO_UDP, to.local, &to.peer, now,
			       &sb) < 0)
			continue;
		query(sb, FROM_UDP, &to, NULL, rbuf, (size_t)n, now);
	}
}

/* ---- sandbox TCP connections ---- */

static void conn_close(struct conn *c)
{
	for (size_t i = 0; i < PEND_MAX; i++)
		if (pend[i].used && pend[i].conn == c)
			pend[i].conn = NULL;	/* its answer is dropped */
	close(c->fd);
	conns[c->slot] = NULL;
	free(c->out);
	free(c);
}

/* The queries buffered, one at a time, for as long as each is answered
 * at once; then the connection waits (for an upstream, or to write). */
static void conn_pump(struct conn *c, uint64_t now)
{
	static uint8_t msg[DNS_MSG_MAX];
	long n;

	while (!c->dead && !c->busy && !c->out) {
		if ((n = dns_tcp_frame(c->in, c->have)) <= 0) {
			c->dead = n < 0;
			break;
		}
		memcpy(msg, c->in + 2, (size_t)n - 2);
		memmove(c->in, c->in + n, c->have - (size_t)n);
		c->have -= (size_t)n;
		c->deadline = now + IDLE_NS;
		query(c->sb, FROM_TCP, NULL, c, msg, (size_t)n - 2, now);
	}
	if (c->dead)
		conn_close(c);
	else
		conn_interest(c);
}

static void conn_event(struct conn *c, uint32_t events, uint64_t now)
{
	if (events & EPOLLOUT)
		conn_flush(c);
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		ssize_t n = recv(c->fd, c->in + c->have,
				 sizeof(c->in) - c->have, 0);

		if (n > 0)
			c->have += (size_t)n;
		else if (n == 0 || errno != EAGAIN)
			c->dead = true;
	}
	conn_pump(c, now);
}

static void tcp_accept(int family, uint64_t now)
{
	for (int i = 0; i < RECV_BURST; i++) {
		struct sockaddr_storage peer, local;
		socklen_t pl = sizeof(peer), ll = sizeof(local);
		int fd = accept4(lfd[family == AF_INET ? L_TCP4 : L_TCP6],
				 (struct sockaddr *)&peer, &pl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		const void *la = family == AF_INET ?
			(const void *)&((struct sockaddr_in *)&local)->sin_addr :
			(const void *)&((struct sockaddr_in6 *)&local)->sin6_addr;
		size_t slot;
		struct conn *c;
		uint32_t sb;

		if (fd < 0)
			return;
		for (slot = 0; slot < CONN_MAX && conns[slot]; slot++)
			;
		if (slot == CONN_MAX ||
		    getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
		    sandbox_of(family, IPPROTO_TCP, la, &peer, now, &sb) < 0 ||
		    conns_of(sb) >= CONN_PER_SANDBOX) {
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->slot = slot;
		c->sb = sb;
		c->deadline = now + IDLE_NS;
		conns[slot] = c;
		if (ep_set(EPOLL_CTL_ADD, fd, EPOLLIN, K_CONN, slot) < 0)
			conn_close(c);
	}
}

/* ---- the event loop's side ---- */

/* An upstream's event (0: its time is up); a TCP client that got its
 * answer goes on with the queries it sent meanwhile. */
static void pend_handle(struct pending *p, uint32_t events, uint64_t now)
{
	struct conn *c = p->origin == FROM_TCP ? p->conn : NULL;

	if (events)
		pend_event(p, events, now);
	else
		retry(p, now);
	if (c && !c->busy)
		conn_pump(c, now);
}

/* A pooled upstream socket: its query's answer, or a late one to a
 * query that is done (read and dropped). */
static void upool_event(size_t slot, uint32_t events, uint64_t now)
{
	size_t o = upool_owner(slot);

	if (o != UPOOL_IDLE && pend[o].used && pend[o].pooled &&
	    pend[o].slot == slot)
		return pend_handle(&pend[o], events, now);
	while (recv(upool_fd(slot), rbuf, sizeof(rbuf), MSG_DONTWAIT) >= 0)
		;
}

void dns_event(void)
{
	struct epoll_event evs[64];
	uint64_t now = now_ns();
	int n = epoll_wait(ep, evs, 64, 0);

	for (int i = 0; i < n; i++) {
		size_t idx = (uint32_t)evs[i].data.u64;

		switch ((enum kind)(evs[i].data.u64 >> 32)) {
		case K_LISTEN:
			if (idx == L_UDP4 || idx == L_UDP6)
				udp_readable(idx == L_UDP4 ? AF_INET : AF_INET6,
					     now);
			else
				tcp_accept(idx == L_TCP4 ? AF_INET : AF_INET6,
					   now);
			break;
		case K_PEND:
			if (pend[idx].used)
				pend_handle(&pend[idx], evs[i].events, now);
			break;
		case K_CONN:
			if (conns[idx])
				conn_event(conns[idx], evs[i].events, now);
			break;
		case K_UPOOL:
			upool_event(idx, evs[i].events, now);
			break;
		}
	}
}

void dns_tick(uint64_t now)
{
	for (size_t i = 0; i < PEND_MAX; i++)
		if (pend[i].used && now >= pend[i].deadline)
			pend_handle(&pend[i], 0, now);
	for (size_t i = 0; i < CONN_MAX; i++)
		if (conns[i] && !conns[i]->busy && now >= conns[i]->deadline)
			conn_close(conns[i]);
}

/* ---- address binding ---- */

static int resolve(const char *name, int family, uint64_t now)
{
	uint8_t q[DNS_HEADER_LEN + 256 + 16];
	struct pending *p;
	size_t n;

	if (!nupstreams || !(n = dns_query_build(name, family == AF_INET ?
						 DNS_T_A : DNS_T_AAAA, 0, q,
						 sizeof(q))) ||
	    !(p = pend_new()))
		return -1;
	p->origin = FROM_OWN;
	p->query = xmalloc(n);
	memcpy(p->query, q, n);
	dns_query_parse(p->query, n, &p->q);
	dnscache_own_pending(name, family);
	if (attempt(p, now) < 0)
		p->deadline = now;	/* dns_tick tries again */
	return 0;
}

enum dns_bound dns_bound(uint32_t sb, const char *name, int family,
			 const uint8_t *addr, enum dns_bind_how how)
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

/* ---- set-up ---- */

static int opt_on(int fd, int level, int name)
{
	int one = 1;

	return setsockopt(fd, level, name, &one, sizeof(one));
}

static int listener(int family, int type, uint16_t want)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t sl = family == AF_INET ? sizeof(struct sockaddr_in) :
		       sizeof(struct sockaddr_in6);
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int buf = 1 << 20;

	if (fd < 0)
		return -errno;
	/* sin_port and sin6_port sit at the same offset */
	((struct sockaddr_in *)&ss)->sin_port = htons(want);
	if ((family == AF_INET6 && opt_on(fd, IPPROTO_IPV6, IPV6_V6ONLY) < 0) ||
	    (type == SOCK_DGRAM && family == AF_INET &&
	     opt_on(fd, IPPROTO_IP, IP_PKTINFO) < 0) ||
	    (type == SOCK_DGRAM && family == AF_INET6 &&
	     opt_on(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO) < 0) ||
	    (type == SOCK_DGRAM &&
	     setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void listeners_close(void)
{
	for (int i = 0; i < L_MAX; i++) {
		if (lfd[i] >= 0)
			close(lfd[i]);
		lfd[i] = -1;
	}
}

/* One port for all four: the first bound picks it. */
static int listeners_open(char *err, size_t errlen)
{
	static const struct {
		int family, type;
	} l[L_MAX] = { { AF_INET, SOCK_DGRAM }, { AF_INET6, SOCK_DGRAM },
		       { AF_INET, SOCK_STREAM }, { AF_INET6, SOCK_STREAM } };
	int rc = 0;

	for (int tries = 0; tries < 32; tries++) {
		port = 0;
		for (int i = 0; i < L_MAX; i++) {
			struct sockaddr_in sin;
			socklen_t sl = sizeof(sin);

			rc = listener(l[i].family, l[i].type, port);
			if (rc == -EAFNOSUPPORT && l[i].family == AF_INET6)
				continue;	/* no IPv6 here */
			if (rc < 0)
				break;
			lfd[i] = rc;
			rc = 0;
			if (!port && getsockname(lfd[i], (struct sockaddr *)&sin,
						 &sl) == 0)
				port = ntohs(sin.sin_port);
		}
		if (rc == 0)
			return 0;
		listeners_close();
		if (rc != -EADDRINUSE)
			break;
	}
	snprintf(err, errlen, "dns: listening socket: %s", strerror(-rc));
	return rc;
}

int dns_open(const struct marks *m, void (*resolved)(void), uint16_t *out,
	     char *err, size_t errlen)
{
	marks = m;
	on_resolved = resolved;
	for (size_t i = 0; i < PEND_MAX; i++)
		pend[i].fd = -1;
	upool_init();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "dns: epoll: %s", strerror(errno));
		return -1;
	}
	if (listeners_open(err, errlen) < 0)
		return -1;
	for (int i = 0; i < L_MAX; i++)
		if (lfd[i] >= 0 && ep_set(EPOLL_CTL_ADD, lfd[i], EPOLLIN,
					  K_LISTEN, (size_t)i) < 0) {
			snprintf(err, errlen, "dns: epoll: %s",
				 strerror(errno));
			return -1;
		}
	dnscache_init(CACHE_NAMES);
	*out = port;
	return ep;
}

void dns_configure(const struct upstream *up, size_t n)
{
	memcpy(upstreams, up, n * sizeof(*up));
	nupstreams = n;
	upool_flush();	/* sockets to the old ones */
}

void dns_close(void)
{
	for (size_t i = 0; i < CONN_MAX; i++)
		if (conns[i])
			conn_close(conns[i]);
	for (size_t i = 0; i < PEND_MAX; i++)
		if (pend[i].used)
			pend_free(&pend[i]);
	upool_flush();
	listeners_close();
	if (ep >= 0)
		close(ep);
	ep = -1;
	dnscache_fini();
}
