/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One redirected flow: its ClientHello read without consuming it
 * (MSG_PEEK), the daemon's judgement, then a refusal (a reset), a relay
 * of the untouched bytes, or the TLS terminator. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "log.h"

#define HELLO_WAIT_MS 10000
#define PEEK_MAX (CH_MAX + 5 * 8)

/* An IPv4 peer of the dual-stack listener comes as ::ffff:a.b.c.d. */
static int addr_of(const struct sockaddr_storage *ss, uint8_t *addr,
		   uint16_t *port)
{
	const struct sockaddr_in6 *s6 = (const void *)ss;
	const struct sockaddr_in *s4 = (const void *)ss;

	if (ss->ss_family == AF_INET) {
		memcpy(addr, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		return AF_INET;
	}
	*port = ntohs(s6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(addr, s6->sin6_addr.s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(addr, &s6->sin6_addr, 16);
	return AF_INET6;
}

static int ends(int fd, struct judge_req *rq)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);

	if (getsockname(fd, (struct sockaddr *)&l, &ll) < 0 ||
	    getpeername(fd, (struct sockaddr *)&p, &pl) < 0)
		return -1;
	rq->family = addr_of(&l, rq->local, &rq->lport);
	return addr_of(&p, rq->peer, &rq->pport) == rq->family ? 0 : -1;
}

/* The ClientHello, peeked: the bytes stay for the relay or wolfSSL.
 * SO_RCVLOWAT makes poll wait for more than what was seen. */
static const char *hello_peek(int fd, struct client_hello *ch)
{
	uint8_t buf[PEEK_MAX];
	uint64_t until = now_ns() + (uint64_t)HELLO_WAIT_MS * 1000000;
	int seen = 0, low;
	enum ch_status st = CH_NEED_MORE;

	while (st == CH_NEED_MORE) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t n;

		if (now >= until || seen >= PEEK_MAX)
			return BROKER_STATUS_INCOMPLETE;
		low = seen + 1;
		setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &low, sizeof(low));
		if (poll(&pfd, 1, (int)((until - now) / 1000000) + 1) < 0 &&
		    errno != EINTR)
			return BROKER_STATUS_INCOMPLETE;
		n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return NULL;	/* gone before its hello */
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return NULL;
		}
		seen = (int)n;
		st = ch_parse(buf, (size_t)n, ch);
	}
	low = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &low, sizeof(low));
	if (st == CH_NOT_TLS)
		return BROKER_STATUS_NOT_TLS;
	if (st == CH_MALFORMED)
		return BROKER_STATUS_MALFORMED;
	return BROKER_STATUS_TLS;
}

/* A refusal the client notices at once. */
static void reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static atomic_int conns;	/* queued and being served */
static struct conn_handlers handlers;

void conn_setup(const struct conn_handlers *h)
{
	handlers = *h;
}

bool conn_refused_early(int fd, const struct sockaddr_storage *peer)
{
	uint8_t addr[16] = { 0 };
	uint16_t port;
	uint32_t sandbox;
	int family = addr_of(peer, addr, &port);

	if (!who_cached(family, addr, &sandbox) || !share_full(sandbox))
		return false;
	log_debug("broker: sandbox %u holds its share: refused at once",
		  sandbox);
	reset(fd);
	close(fd);
	return true;
}

bool conn_admit(void)
{
	if (atomic_fetch_add(&conns, 1) < BROKER_CONNS_MAX)
		return true;
	atomic_fetch_sub(&conns, 1);
	return false;
}

void conn_done(struct bk_flow *f)
{
	flows_del(f);
	if (f->shared)
		share_give(f->sandbox);
	close(f->cfd);
	free(f);
	atomic_fetch_sub(&conns, 1);
}

/* Which sandbox the flow is, before it may wait for its hello: as its
 * address was last time, or as the daemon says. */
static bool take_share(struct bk_flow *f)
{
	struct judgement j;
	uint32_t sandbox;

	if (!who_cached(f->rq.family, f->rq.peer, &sandbox)) {
		f->rq.status = BROKER_STATUS_WHO;
		ipc_judge(&f->rq, &j);
		if (j.action != JA_WHO) {
			log_debug("broker: a flow of no sandbox the daemon "
				  "names: refused (%d)", (int)j.action);
			return false;
		}
		sandbox = j.sandbox;
		who_learn(f->rq.family, f->rq.peer, sandbox);
	}
	f->sandbox = sandbox;
	return (f->shared = share_take(sandbox));
}

/* The judgement named another sandbox than the address did (it moved
 * meanwhile): the flow counts against that one's share. */
static bool share_move(struct bk_flow *f, uint32_t sandbox)
{
	if (!share_take(sandbox))
		return false;
	share_give(f->sandbox);
	flows_set_sandbox(f, sandbox);
	who_learn(f->rq.family, f->rq.peer, sandbox);
	return true;
}

#define JUDGE_TRIES 3

/* The daemon's word on a peeked flow, its sandbox's epoch unchanged
 * from the question to the answer (else a change may have come between:
 * asked again). Listed first, so a change after the answer finds it. */
static void judge(struct bk_flow *f, struct judgement *j)
{
	bool steady = false;

	flows_add(f);
	for (int tries = 0; tries < JUDGE_TRIES && !steady; tries++) {
		flows_judge(f, tries > 0, j);
		if (j->action == JA_DENY)
			break;
		if (j->sandbox != f->sandbox) {
			if (!share_move(f, j->sandbox))
				break;
			continue;	/* under its own sandbox's epoch */
		}
		/* the sweep sees the flow from here on; a change before
		 * that is seen here */
		flows_set_judged(f, j);
		steady = flows_epoch(f->sandbox) == f->epoch;
	}
	if (!steady) {
		log_debug("broker: sandbox %u: %s", f->sandbox,
			  j->action == JA_DENY ? "refused by the daemon" :
			  "kept changing: refused");
		j->action = JA_DENY;
	}
	flows_set_judged(f, j);
}

/* Done with a judged flow; true when a loop ends it. */
static bool serve_judged(struct bk_flow *f, const struct client_hello *ch)
{
	struct judgement j;

	judge(f, &j);
	switch (j.action) {
	case JA_RELAY:
		handlers.relay(f, &j);
		break;
	case JA_TERMINATE:
		return handlers.terminate(f, &j, ch);
	default:
		reset(f->cfd);
		break;
	}
	return false;
}

static void hello_keep(struct judge_req *rq, const struct client_hello *ch)
{
	if (strcmp(rq->status, BROKER_STATUS_TLS))
		return;
	rq->has_sni = ch->has_sni;
	rq->sni_len = ch->sni_len;
	memcpy(rq->sni, ch->sni, ch->sni_len);
	rq->ech = ch->ech;
}

void conn_serve(int fd)
{
	int one = 1;
	struct client_hello ch;
	struct bk_flow *f = calloc(1, sizeof(*f));

	if (!f) {
		reset(fd);
		close(fd);
		atomic_fetch_sub(&conns, 1);
		return;
	}
	f->cfd = fd;
	f->ufd = -1;
	memset(&ch, 0, sizeof(ch));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (ends(fd, &f->rq) < 0 || !take_share(f)) {
		reset(fd);
		conn_done(f);
		return;
	}
	if ((f->rq.status = hello_peek(fd, &ch))) {
		hello_keep(&f->rq, &ch);
		if (serve_judged(f, &ch))
			return;
	}
	conn_done(f);
}
