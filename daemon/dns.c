/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The sandboxes' resolver: queries judged, forwarded, answers filtered
 * (dns.h). Here: its sockets, the queries that come in on them, and the
 * event loop's side. */
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
#include "ct.h"
#include "dns_int.h"
#include "dnscache.h"
#include "log.h"
#include "peers.h"
#include "policy.h"
#include "sandbox.h"
#include "upool.h"
#include "xalloc.h"

static const struct marks *marks;
static uint16_t port;
static struct conn *conns[CONN_MAX];

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
		res_audit(sb, &q, false, "dns-malformed", NULL);
		return res_reply_error(o, to, c, m, &q, DNS_R_FORMERR, -1);
	case DNS_NOTIMP:
		res_audit(sb, &q, false, "dns-not-a-query", NULL);
		return res_reply_error(o, to, c, m, &q, DNS_R_NOTIMP, -1);
	case DNS_OK:
		break;
	}
	if (!s) {
		res_audit(sb, &q, false, "no-sandbox", NULL);
		return res_reply_error(o, to, c, m, &q, DNS_R_REFUSED, -1);
	}
	policy_eval_dns(s->policy, q.name, q.host, &v);
	if (s->policy->mode == MODE_DENY_ALL) {
		/* nothing to resolve at all: refused, at once */
		res_audit(sb, &q, false, v.reason, NULL);
		return res_reply_error(o, to, c, m, &q, DNS_R_REFUSED,
				       DNS_EDE_PROHIBITED);
	}
	if (v.verdict != VERDICT_ALLOW) {
		/* answered here, never forwarded: nothing leaves */
		res_audit(sb, &q, false, v.reason, NULL);
		return res_reply_error(o, to, c, m, &q, DNS_R_NXDOMAIN,
				       DNS_EDE_BLOCKED);
	}
	if (res_pend_of(sb) >= PEND_PER_SANDBOX) {
		/* its share is taken: the others' queries still go */
		res_audit(sb, &q, false, "flow-limit", NULL);
		return res_reply_error(o, to, c, m, &q, DNS_R_REFUSED, -1);
	}
	if (!res_nupstreams || !(p = res_pend_new())) {
		res_stats.failed++;
		res_audit(sb, &q, true, v.reason, res_nupstreams ?
			  "SERVFAIL (too many queries)" :
			  "SERVFAIL (no upstream)");
		return res_reply_error(o, to, c, m, &q, DNS_R_SERVFAIL, -1);
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
	if (res_attempt(p, now) < 0)
		p->deadline = now;
}

/* Which sandbox a redirected flow comes from: conntrack knows the flow
 * by its res_reply tuple, which is what the local socket sees (UDP clients'
 * next queries from the same port: see peers.h). */
static int sandbox_of(int family, uint8_t proto, const uint8_t *local,
		      const struct sockaddr_storage *peer, uint64_t now,
		      uint32_t *sb)
{
	struct flow_key res_reply = { .family = (uint8_t)family, .proto = proto,
				  .sport = port }, orig;
	uint32_t mark;

	memcpy(res_reply.src, local, family == AF_INET ? 4 : 16);
	if (family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)peer;

		memcpy(res_reply.dst, &s4->sin_addr, 4);
		res_reply.dport = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)peer;

		memcpy(res_reply.dst, &s6->sin6_addr, 16);
		res_reply.dport = ntohs(s6->sin6_port);
	}
	if (proto == IPPROTO_UDP && peers_get(&res_reply, now, sb) == 0)
		return 0;
	if (ct_get_reply(&res_reply, &orig, &mark) < 0 || orig.dport != 53 ||
	    !(*sb = mark_get_id(marks, mark)))
		return -1;	/* not redirected from a sandbox */
	if (proto == IPPROTO_UDP)
		peers_put(&res_reply, *sb, now);
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
		struct iovec iov = { res_rbuf, sizeof(res_rbuf) };
		struct msghdr mh = { .msg_name = &to.peer,
				     .msg_namelen = sizeof(to.peer),
				     .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = c.b,
				     .msg_controllen = sizeof(c.b) };
		int fd = res_lfd[family == AF_INET ? L_UDP4 : L_UDP6];
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		uint32_t sb;

		if (n < 0)
			return;
		to.peerlen = mh.msg_namelen;
		if (!local_addr(&mh, family, to.local) ||
		    sandbox_of(family, IPPROTO_UDP, to.local, &to.peer, now,
			       &sb) < 0)
			continue;
		query(sb, FROM_UDP, &to, NULL, res_rbuf, (size_t)n, now);
	}
}

static size_t conns_of(uint32_t sb)
{
	size_t n = 0;

	for (size_t i = 0; i < CONN_MAX; i++)
		n += conns[i] && conns[i]->sb == sb;
	return n;
}

static void conn_close(struct conn *c)
{
	for (size_t i = 0; i < PEND_MAX; i++)
		if (res_pend[i].used && res_pend[i].conn == c)
			res_pend[i].conn = NULL;	/* answer dropped */
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
		res_conn_interest(c);
}

static void conn_event(struct conn *c, uint32_t events, uint64_t now)
{
	if (events & EPOLLOUT)
		res_conn_flush(c);
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
		int fd = accept4(res_lfd[family == AF_INET ? L_TCP4 : L_TCP6],
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
		if (res_ep_set(EPOLL_CTL_ADD, fd, EPOLLIN, K_CONN, slot) < 0)
			conn_close(c);
	}
}

/* An upstream's event (0: its time is up); a TCP client that got its
 * answer goes on with the queries it sent meanwhile. */
static void pend_handle(struct pending *p, uint32_t events, uint64_t now)
{
	struct conn *c = p->origin == FROM_TCP ? p->conn : NULL;

	if (events)
		res_pend_event(p, events, now);
	else
		res_retry(p, now);
	if (c && !c->busy)
		conn_pump(c, now);
}

/* A pooled upstream socket: its query's answer, or a late one to a
 * query that is done (read and dropped). */
static void upool_event(size_t slot, uint32_t events, uint64_t now)
{
	size_t o = upool_owner(slot);

	if (o != UPOOL_IDLE && res_pend[o].used && res_pend[o].pooled &&
	    res_pend[o].slot == slot)
		return pend_handle(&res_pend[o], events, now);
	while (recv(upool_fd(slot), res_rbuf, sizeof(res_rbuf),
		    MSG_DONTWAIT) >= 0)
		;
}

void dns_event(void)
{
	struct epoll_event evs[64];
	uint64_t now = now_ns();
	int n = epoll_wait(res_ep, evs, 64, 0);

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
			if (res_pend[idx].used)
				pend_handle(&res_pend[idx], evs[i].events, now);
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
		if (res_pend[i].used && now >= res_pend[i].deadline)
			pend_handle(&res_pend[i], 0, now);
	for (size_t i = 0; i < CONN_MAX; i++)
		if (conns[i] && !conns[i]->busy && now >= conns[i]->deadline)
			conn_close(conns[i]);
}

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
		if (res_lfd[i] >= 0)
			close(res_lfd[i]);
		res_lfd[i] = -1;
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
			res_lfd[i] = rc;
			if (!port && getsockname(rc, (struct sockaddr *)&sin,
						 &sl) == 0)
				port = ntohs(sin.sin_port);
			rc = 0;
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

int dns_open(const struct marks *m, const struct dns_hooks *h, uint16_t *out,
	     char *err, size_t errlen)
{
	marks = m;
	res_hooks = *h;
	for (size_t i = 0; i < PEND_MAX; i++)
		res_pend[i].fd = -1;
	upool_init();
	if ((res_ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		snprintf(err, errlen, "dns: epoll: %s", strerror(errno));
		return -1;
	}
	if (listeners_open(err, errlen) < 0)
		return -1;
	for (int i = 0; i < L_MAX; i++)
		if (res_lfd[i] >= 0 &&
		    res_ep_set(EPOLL_CTL_ADD, res_lfd[i], EPOLLIN, K_LISTEN,
			       (size_t)i) < 0) {
			snprintf(err, errlen, "dns: epoll: %s",
				 strerror(errno));
			return -1;
		}
	dnscache_init(CACHE_NAMES);
	*out = port;
	return res_ep;
}

void dns_configure(const struct upstream *up, size_t n)
{
	memcpy(res_upstreams, up, n * sizeof(*up));
	res_nupstreams = n;
	upool_flush();	/* sockets to the old ones */
}

void dns_close(void)
{
	for (size_t i = 0; i < CONN_MAX; i++)
		if (conns[i])
			conn_close(conns[i]);
	for (size_t i = 0; i < PEND_MAX; i++)
		if (res_pend[i].used)
			res_pend_free(&res_pend[i]);
	upool_flush();
	listeners_close();
	if (res_ep >= 0)
		close(res_ep);
	res_ep = -1;
	dnscache_fini();
}
