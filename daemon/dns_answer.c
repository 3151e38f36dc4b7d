/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The resolver's state, and what goes back to a sandbox: answers by
 * UDP (from the address it asked) or on its TCP connection, and the
 * audit row of each query. */
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
#include "dns_int.h"
#include "log.h"
#include "sandbox.h"
#include "strcopy.h"
#include "wire.h"
#include "xalloc.h"

int res_ep = -1, res_lfd[L_MAX] = { -1, -1, -1, -1 };
struct pending res_pend[PEND_MAX];
struct dns_stats res_stats;
uint8_t res_rbuf[DNS_MSG_MAX + 1], res_wbuf[2 + DNS_MSG_MAX];

const struct dns_stats *dns_stats(void)
{
	return &res_stats;
}

int res_ep_set(int op, int fd, uint32_t events, enum kind k, size_t i)
{
	struct epoll_event ev = { .events = events,
				  .data.u64 = (uint64_t)k << 32 | i };

	return epoll_ctl(res_ep, op, fd, &ev);
}

void res_audit(uint32_t sb, const struct dns_query *q, bool allow,
	       const char *reason, const char *answers)
{
	const struct sandbox *s = sandbox_get(sb);
	struct dns_record r = { .allow = allow, .reason = reason };
	char tb[12], name[WIRE_TEXT_MAX(DNS_NAME_TEXT)];

	if (allow)
		res_stats.allowed++;
	else
		res_stats.denied++;
	store_time_now(r.time);
	str_set(r.sandbox, sizeof(r.sandbox), s ? s->name : "?");
	str_set(r.name, sizeof(r.name), q->name);
	str_set(r.type, sizeof(r.type), dns_type_name(q->qtype, tb));
	str_set(r.answers, sizeof(r.answers), answers ? answers : "");
	audit_dns(&r);
	if (log_enabled(LOG_LVL_DEBUG))
		log_debug("dns %s %s %s %s: %s", s ? s->name : "?", r.type,
			  wire_text(q->name, strlen(q->name), name,
				    sizeof(name)), allow ? "allow" : "deny",
			  reason);
}

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
	if (sendmsg(res_lfd[to->family == AF_INET ? L_UDP4 : L_UDP6], &mh,
		    MSG_DONTWAIT) < 0)
		log_debug("dns: answer to the sandbox: %s", strerror(errno));
}

void res_conn_interest(struct conn *c)
{
	res_ep_set(EPOLL_CTL_MOD, c->fd,
		   c->out ? EPOLLOUT : c->busy ? 0 : EPOLLIN, K_CONN, c->slot);
}

/* Writes what it can, the rest on EPOLLOUT; a failure marks it dead (its
 * owner closes it: never under the caller's feet). */
void res_conn_flush(struct conn *c)
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
	res_conn_interest(c);
}

static void conn_send(struct conn *c, const uint8_t *m, size_t len)
{
	c->out = xmalloc(len + 2);
	c->out[0] = (uint8_t)(len >> 8);
	c->out[1] = (uint8_t)len;
	memcpy(c->out + 2, m, len);
	c->outlen = len + 2;
	c->outoff = 0;
	res_conn_flush(c);
}

/* An answer for a client, whichever way it came. */
void res_reply(enum origin o, const struct udp_peer *to, struct conn *c,
	       const uint8_t *m, size_t len)
{
	if (!len)
		return;
	if (o == FROM_UDP)
		udp_send(to, m, len);
	else if (o == FROM_TCP && c)
		conn_send(c, m, len);
}

void res_reply_error(enum origin o, const struct udp_peer *to,
		     struct conn *c, const uint8_t *query,
		     const struct dns_query *q, uint16_t rcode, int ede)
{
	size_t n = dns_reply_error(query, q, rcode, ede,
				   ede >= 0 ? BLOCKED_TEXT : NULL, res_wbuf,
				   sizeof(res_wbuf));

	res_reply(o, to, c, res_wbuf, n);
}
