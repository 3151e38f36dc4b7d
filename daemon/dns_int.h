/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_DNS_INT_H
#define SBXFWD_DNS_INT_H

/* What the parts of the resolver share (dns.c: its sockets and the
 * queries that come in; dns_answer.c: its state, answers and audit;
 * dns_upstream.c: forwarding and the daemon's own resolutions). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "dns.h"
#include "dns_msg.h"

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
	uint64_t started;	/* for the upstream's time to answer */
	/* TCP upstream */
	bool tcp, connected;
	uint8_t *buf;
	size_t have;
};

extern int res_ep, res_lfd[L_MAX];
extern struct pending res_pend[PEND_MAX];
extern struct dns_stats res_stats;
extern uint8_t res_rbuf[DNS_MSG_MAX + 1], res_wbuf[2 + DNS_MSG_MAX];
extern struct dns_hooks res_hooks;
extern struct upstream res_upstreams[CFG_UPSTREAM_MAX];
extern size_t res_nupstreams;

/* dns_answer.c */
int res_ep_set(int op, int fd, uint32_t events, enum kind k, size_t i);
void res_audit(uint32_t sb, const struct dns_query *q, bool allow,
	       const char *reason, const char *answers);
void res_conn_interest(struct conn *c);
void res_conn_flush(struct conn *c);
void res_reply(enum origin o, const struct udp_peer *to, struct conn *c,
	       const uint8_t *m, size_t len);
void res_reply_error(enum origin o, const struct udp_peer *to,
		     struct conn *c, const uint8_t *query,
		     const struct dns_query *q, uint16_t rcode, int ede);

/* dns_upstream.c */
void res_pend_free(struct pending *p);
int res_attempt(struct pending *p, uint64_t now);
void res_retry(struct pending *p, uint64_t now);
void res_pend_event(struct pending *p, uint32_t events, uint64_t now);
size_t res_pend_of(uint32_t sb);
struct pending *res_pend_new(void);

#endif
