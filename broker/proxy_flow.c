/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A terminated flow from its start to its end: both handshakes (a leaf
 * for the sandbox, a verified connection to the real server), each
 * side's reads ahead for wolfSSL, the flow's runs in an event loop, a
 * new server connection or a judgement after a change on a worker, and
 * its end (the server's side to the pool when it may serve another). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cert.h"
#include "log.h"
#include "proxy.h"

#define HANDSHAKE_S 10
#define IDLE_MS (120 * 1000)
#define CLOSING_MS (5 * 1000)	/* for the last bytes to the sandbox */
#define ROUNDS 16		/* reads per run: then other flows' turn */
#define IN_CAP (HTTP_HEAD_MAX + 1)
#define RIO_CAP (16384 + 512)

static const char *connect_server(struct proxy *p);

static int rio_recv(WOLFSSL *s, char *buf, int sz, void *ctx)
{
	struct rio *r = ctx;
	size_t n;

	(void)s;
	if (r->off == r->len) {
		ssize_t got;

		if (!*r->rd)
			return WOLFSSL_CBIO_ERR_WANT_READ;
		got = recv(r->fd, r->b, RIO_CAP, 0);
		if (got == 0)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*r->rd = false;
				return WOLFSSL_CBIO_ERR_WANT_READ;
			}
			return errno == EINTR ? WOLFSSL_CBIO_ERR_ISR :
			       errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST :
			       WOLFSSL_CBIO_ERR_GENERAL;
		}
		r->off = 0;
		r->len = (size_t)got;
		if (r->len < RIO_CAP)
			*r->rd = false;	/* level-triggered: epoll says more */
	}
	n = r->len - r->off < (size_t)sz ? r->len - r->off : (size_t)sz;
	memcpy(buf, r->b + r->off, n);
	r->off += n;
	return (int)n;
}

/* From the hand-over to a loop on: side i reads through its rio. */
static int rio_attach(struct proxy *p, int i)
{
	struct rio *r = &p->rio[i];
	WOLFSSL *s = i ? p->u : p->c;

	if (!r->b && !(r->b = malloc(RIO_CAP)))
		return -1;
	r->fd = i ? p->ufd : p->cfd;
	r->off = r->len = 0;
	r->rd = &p->rd[i];
	p->rd[i] = true;
	wolfSSL_SSLSetIORecv(s, rio_recv);
	wolfSSL_SetIOReadCtx(s, r);
	return 0;
}

/* The server's side back to wolfSSL's own reads, for the pool (nothing
 * is left in the rio: see idle). */
static void rio_detach(struct proxy *p)
{
	wolfSSL_SSLSetIORecv(p->u, EmbedReceive);
	wolfSSL_set_fd(p->u, p->ufd);
	p->rio[1].off = p->rio[1].len = 0;
}

static bool readable(const struct proxy *p, int i)
{
	return p->rd[i] || p->rio[i].off < p->rio[i].len ||
	       wolfSSL_has_pending(i ? p->u : p->c);
}

/* Read what side i has; 1 read, 0 nothing yet, -1 it ended. */
static int ssl_read(struct proxy *p, int i, uint8_t *buf, size_t *len,
		    size_t cap)
{
	WOLFSSL *s = i ? p->u : p->c;
	int n;

	if (*len >= cap)
		return 0;
	n = wolfSSL_read(s, buf + *len, (int)(cap - *len));
	if (n > 0) {
		*len += (size_t)n;
		return 1;
	}
	n = wolfSSL_get_error(s, n);
	p->rwant[i] = n == WOLFSSL_ERROR_WANT_WRITE;
	if (n != WOLFSSL_ERROR_WANT_READ && n != WOLFSSL_ERROR_WANT_WRITE)
		return -1;
	p->rd[i] = false;
	return 0;
}

static void nonblocking(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Between responses with nothing pending: the server's side may serve
 * another flow. */
static bool idle(const struct proxy *p)
{
	return p->u && !p->server_close && p->ss == S_HEAD && !p->sinlen &&
	       !p->fcount && p->qs == Q_HEAD && !p->inlen && q_empty(&p->sq) &&
	       p->rio[1].off == p->rio[1].len;
}

static bool wants_client(const struct proxy *p)
{
	return !p->closing && p->qs != Q_WAIT_UPGRADE && p->inlen < IN_CAP &&
	       p->fcount < FIFO && !p->client_close && q_empty(&p->sq);
}

enum step { ST_WAIT, ST_AGAIN, ST_END, ST_RECONNECT, ST_JUDGE };

/* The flow ends once what the sandbox is owed is out. */
static void closing(struct proxy *p, bool keep)
{
	p->closing = true;
	p->keep = keep && idle(p);
	p->lf.deadline = loop_now_ms() + CLOSING_MS;
}

/* What the bytes a side sent did to the flow. */
static enum step after(struct proxy *p, int rc)
{
	if (rc == NEED_UPSTREAM)
		return ST_RECONNECT;
	if (rc == NEED_JUDGE)
		return ST_JUDGE;
	if (rc < 0)
		closing(p, false);
	return ST_AGAIN;
}

/* Each side's bytes in: ST_AGAIN when some came (or the side ended),
 * ST_WAIT when none had. */
static enum step from_client(struct proxy *p)
{
	int rc = ssl_read(p, 0, p->in, &p->inlen, IN_CAP);

	if (rc < 0) {	/* the sandbox left */
		p->keep = idle(p);
		return ST_END;
	}
	if (rc == 0)
		return ST_WAIT;
	return after(p, client_bytes(p));
}

static enum step from_server(struct proxy *p)
{
	int rc = ssl_read(p, 1, p->sin, &p->sinlen, SIN_CAP);

	if (rc < 0) {
		/* closed between responses: the next request opens
		 * another; else this one ends here */
		if (p->ss == S_HEAD && !p->fcount && !p->sinlen)
			upstream_drop(p);
		else {
			server_bytes(p);
			closing(p, false);
		}
		return ST_AGAIN;
	}
	if (rc == 0)
		return ST_WAIT;
	if (!p->session_saved) {	/* a TLS 1.3 ticket comes before this */
		session_save(p->j, p->u);
		p->session_saved = true;
	}
	return after(p, server_bytes(p));
}

/* A request head that waited for a new server connection. */
static enum step retry_head(struct proxy *p)
{
	p->retry = false;
	return after(p, client_bytes(p));
}

/* All that can be done without waiting: queued bytes out, then bytes in
 * from each side whose destination has room. */
static enum step step(struct proxy *p)
{
	for (int round = 0; round < ROUNDS; round++) {
		enum step a = ST_WAIT, b = ST_WAIT;

		if (atomic_load(&p->flow->cut))	/* a change cut it */
			return ST_END;
		if (q_flush(p->c, &p->cq) < 0)
			return ST_END;
		if (p->u && q_flush(p->u, &p->sq) < 0)
			closing(p, false);
		if (p->closing)
			return q_empty(&p->cq) ? ST_END : ST_WAIT;
		if (p->done) {
			closing(p, true);
			continue;
		}
		if (p->retry)
			a = retry_head(p);
		else if (wants_client(p) && readable(p, 0))
			a = from_client(p);
		if (a == ST_END || a == ST_RECONNECT || a == ST_JUDGE)
			return a;
		if (p->u && !p->closing && q_empty(&p->cq) && readable(p, 1))
			b = from_server(p);
		if (b == ST_END || b == ST_RECONNECT || b == ST_JUDGE)
			return b;
		if (a == ST_WAIT && b == ST_WAIT)
			return ST_WAIT;
	}
	return ST_AGAIN;
}

/* What the flow waits for, with its deadline. */
static void arm(struct proxy *p)
{
	struct loop_flow *f = &p->lf;

	f->fd[0] = p->cfd;
	f->fd[1] = p->u ? p->ufd : -1;
	f->want[0] = (wants_client(p) ? EPOLLIN : 0) |
		     (!q_empty(&p->cq) || p->rwant[0] ? EPOLLOUT : 0);
	f->want[1] = !p->u ? 0 :
		     (!p->closing && q_empty(&p->cq) ? EPOLLIN : 0) |
		     (!q_empty(&p->sq) || p->rwant[1] ? EPOLLOUT : 0);
	if (!p->closing)
		f->deadline = loop_now_ms() + IDLE_MS;
	loop_sync(f);
}

static void proxy_free(struct proxy *p)
{
	if (p->c) {
		wolfSSL_shutdown(p->c);
		wolfSSL_free(p->c);
	}
	if (p->u) {
		wolfSSL_shutdown(p->u);
		wolfSSL_free(p->u);
	}
	if (p->ufd >= 0) {
		flows_set_ufd(p->flow, -1);
		close(p->ufd);
	}
	free(p->in);
	free(p->sin);
	free(p->rio[0].b);
	free(p->rio[1].b);
	q_release(&p->cq);
	q_release(&p->sq);
	config_sandbox_put_ref(p->sb);
	free(p);
}

/* After the loop let it go. */
static void proxy_end(struct loop_flow *f)
{
	struct proxy *p = (struct proxy *)f;
	struct bk_flow *flow = p->flow;

	if (p->keep && idle(p) && !atomic_load(&flow->cut)) {
		rio_detach(p);
		flows_set_ufd(flow, -1);
		pool_put(p->j, p->u, p->ufd);
		p->u = NULL;
		p->ufd = -1;
	}
	proxy_free(p);
	conn_done(flow);
}

static void reconnect_job(void *arg)
{
	struct proxy *p = arg;
	const char *why = connect_server(p);

	if (!why && rio_attach(p, 1) < 0) {
		upstream_drop(p);
		why = "out of memory";
	}
	if (why) {
		log_info("broker: %s: %s", p->j->host, why);
		snprintf(p->why, sizeof(p->why), "%s", why);
		p->upstream_failed = true;
	}
	p->retry = true;
	loop_add(&p->lf);
}

static void reconnect(struct loop_flow *f)
{
	work_submit(reconnect_job, f);
}

/* After a change: the same name terminated here goes on with the rules
 * in force now (a rotated secret from this request on); anything else
 * is cut. */
static void judge_job(void *arg)
{
	struct proxy *p = arg;
	struct judgement j;
	struct bk_sandbox *sb;

	flows_judge(p->flow, true, &j);
	if (j.action == JA_TERMINATE && j.sandbox == p->j->sandbox &&
	    !strcmp(j.host, p->j->host) &&
	    (sb = config_sandbox_get(j.sandbox))) {
		config_sandbox_put_ref(p->sb);
		p->sb = sb;
	} else
		atomic_store(&p->flow->cut, true);
	p->retry = true;
	loop_add(&p->lf);
}

static void judge_again(struct loop_flow *f)
{
	work_submit(judge_job, f);
}

static void proxy_run(struct loop_flow *f)
{
	struct proxy *p = (struct proxy *)f;

	for (int i = 0; i < 2; i++)
		if ((f->ready[i] & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
		    ((f->ready[i] & EPOLLOUT) && p->rwant[i]))
			p->rd[i] = true;
	if (f->expired) {
		loop_remove(f, proxy_end);
		return;
	}
	switch (step(p)) {
	case ST_AGAIN:
		f->again = true;
		__attribute__((fallthrough));
	case ST_WAIT:
		arm(p);
		break;
	case ST_RECONNECT:
		loop_remove(f, reconnect);
		break;
	case ST_JUDGE:
		loop_remove(f, judge_again);
		break;
	case ST_END:
		loop_remove(f, proxy_end);
		break;
	}
}

static void timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static bool offers_http11(const struct client_hello *ch)
{
	for (size_t i = 0; i < ch->nalpn; i++)
		if (!strcmp(ch->alpn[i], "http/1.1"))
			return true;
	return false;
}

/* The sandbox's side: a leaf for the name, http/1.1 as the only ALPN. */
static int accept_client(struct proxy *p)
{
	uint8_t der[CERT_DER_MAX], key[256];
	size_t dl, kl;
	int ok;

	if (config_leaf(p->sb, p->j->host, der, &dl, key, &kl) < 0 ||
	    !(p->c = wolfSSL_new(config_server_ctx())))
		return -1;
	ok = wolfSSL_use_certificate_buffer(p->c, der, (long)dl,
					    WOLFSSL_FILETYPE_ASN1) ==
	     WOLFSSL_SUCCESS &&
	     wolfSSL_use_PrivateKey_buffer(p->c, key, (long)kl,
					   WOLFSSL_FILETYPE_ASN1) ==
	     WOLFSSL_SUCCESS;
	explicit_bzero(key, sizeof(key));
	if (!ok)
		return -1;
	wolfSSL_UseALPN(p->c, (char *)"http/1.1", 8,
			WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
	wolfSSL_set_fd(p->c, p->cfd);
	timeouts(p->cfd, HANDSHAKE_S);
	if (wolfSSL_accept(p->c) != WOLFSSL_SUCCESS) {
		log_debug("broker: %s: the sandbox's handshake failed: %s",
			  p->j->host, wolfSSL_ERR_reason_error_string(
				  (unsigned long)wolfSSL_get_error(p->c, 0)));
		return -1;
	}
	return 0;
}

/* The real server's side, verified; the reason when it fails. */
static const char *connect_server(struct proxy *p)
{
	static __thread char why[160];
	long v;

	/* a change's cut shuts it down too: the flow wakes on either side */
	if (pool_take(p->j, &p->u, &p->ufd)) {
		flows_set_ufd(p->flow, p->ufd);
		return NULL;	/* non-blocking, from an earlier flow */
	}
	if ((p->ufd = upstream_connect(p->j)) < 0)
		return "upstream connection failed";
	flows_set_ufd(p->flow, p->ufd);
	if (!(p->u = wolfSSL_new(config_client_ctx())))
		return "upstream TLS failed";
	wolfSSL_UseSNI(p->u, WOLFSSL_SNI_HOST_NAME, p->j->host,
		       (unsigned short)strlen(p->j->host));
	wolfSSL_check_domain_name(p->u, p->j->host);
	/* X25519 first: this wolfSSL's P-256 is generic code */
	wolfSSL_UseKeyShare(p->u, WOLFSSL_ECC_X25519);
	if (p->h11)
		wolfSSL_UseALPN(p->u, (char *)"http/1.1", 8,
				WOLFSSL_ALPN_CONTINUE_ON_MISMATCH);
	wolfSSL_set_fd(p->u, p->ufd);
	session_offer(p->j, p->u);
	timeouts(p->ufd, HANDSHAKE_S);
	if (wolfSSL_connect(p->u) == WOLFSSL_SUCCESS) {
		/* TLS 1.3's ticket comes with the first read (from_server):
		 * now there is only its compatibility session id */
		if (wolfSSL_version(p->u) != TLS1_3_VERSION)
			session_save(p->j, p->u);
		timeouts(p->ufd, 0);
		nonblocking(p->ufd);
		return NULL;
	}
	v = wolfSSL_get_verify_result(p->u);
	if (v != 0)
		snprintf(why, sizeof(why), "upstream certificate: %s",
			 wolfSSL_X509_verify_cert_error_string(v));
	else
		snprintf(why, sizeof(why), "upstream TLS: %s",
			 wolfSSL_ERR_reason_error_string((unsigned long)
			 wolfSSL_get_error(p->u, 0)));
	return why;
}

bool proxy_start(struct bk_flow *f, const struct judgement *j,
		 const struct client_hello *ch)
{
	struct proxy *p = calloc(1, sizeof(*p));
	const char *why;

	if (!p)
		return false;
	p->jud = *j;
	p->j = &p->jud;
	p->flow = f;
	p->cfd = f->cfd;
	p->ufd = -1;
	p->sq.secret = true;
	p->lf.run = proxy_run;
	/* the sandbox's own bytes: no secret of ours */
	if (!(p->sb = config_sandbox_get(j->sandbox)) ||
	    !(p->in = malloc(IN_CAP)) || !(p->sin = malloc(SIN_CAP)) ||
	    accept_client(p) < 0)
		goto fail;
	p->h11 = offers_http11(ch);
	if ((why = connect_server(p))) {
		log_info("broker: %s: %s", j->host, why);
		refuse(p, 502, why, NULL);
		q_flush(p->c, &p->cq);	/* blocking, with its timeouts */
		goto fail;
	}
	timeouts(p->cfd, 0);
	nonblocking(p->cfd);
	if (rio_attach(p, 0) < 0 || rio_attach(p, 1) < 0)
		goto fail;
	loop_add(&p->lf);
	return true;
fail:
	proxy_free(p);
	return false;
}
