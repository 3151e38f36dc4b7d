/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The TLS terminator for injection domains: the sandbox's TLS ends here
 * with a leaf its CA signed, a verified TLS connection goes to the real
 * server, and every HTTP/1.1 request head between them is checked
 * strictly and rewritten: the first matching rule's headers replace any
 * of the same name. Bodies stream through, framed as the head says;
 * responses go back as they come, parsed only for their ends and status.
 * An upgrade (101) turns both ways into a plain relay. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "broker.h"
#include "cert.h"
#include "http1.h"
#include "http_path.h"
#include "http_rewrite.h"
#include "log.h"
#include "secret.h"
#include "xalloc.h"

#define HANDSHAKE_S 10
#define IDLE_MS (120 * 1000)
#define CLOSING_MS (5 * 1000)	/* for the last bytes to the sandbox */
#define TLS_CHUNK 16384
#define ROUNDS 16		/* reads per run: then other flows' turn */
#define NEED_UPSTREAM 1		/* a request waits for a server connection */
#define NEED_JUDGE 2		/* ...for the flow's judgement after a change */
#define FIFO 32
#define IN_CAP (HTTP_HEAD_MAX + 1)
#define SIN_CAP (HTTP_RESP_HEAD_MAX + 1)
#define OUT_CAP (HTTP_HEAD_MAX + 65536)
#define PATH_KEEP 512

enum qstate { Q_HEAD, Q_BODY, Q_WAIT_UPGRADE, Q_RAW };
enum sstate { S_HEAD, S_BODY, S_RAW };

struct pend {
	char method[24], path[PATH_KEEP], injected[256];
	bool head;
	bool upgrade;		/* it asked to switch protocols */
};

/* Plaintext for wolfSSL; what it did not take yet, it wants again. */
struct outq {
	uint8_t *b;
	size_t off, len, cap;
	bool secret;		/* secret pages: the server's side */
};

/* Each side's bytes from the socket, read ahead for wolfSSL: one recv
 * takes all there is (wolfSSL's own reads stop at each record's header
 * and body), and a short read tells the socket is empty for now. */
#define RIO_CAP (16384 + 512)

struct rio {
	int fd;
	uint8_t *b;
	size_t off, len;
	bool *rd;		/* the proxy's: the socket may have bytes */
};

struct proxy {
	struct loop_flow lf;	/* first: the loop's callbacks cast back */
	struct judgement jud;
	const struct judgement *j;
	struct bk_flow *flow;
	struct bk_sandbox *sb;
	WOLFSSL *c, *u;
	int cfd, ufd;
	enum qstate qs;
	uint8_t *in;		/* the sandbox's bytes not passed on yet */
	size_t inlen;
	struct http_framing qf;
	enum sstate ss;
	uint8_t *sin;		/* the server's */
	size_t sinlen;
	struct http_framing sf;
	struct pend fifo[FIFO];
	size_t fhead, fcount;
	struct outq cq, sq;	/* to the sandbox, to the server */
	struct rio rio[2];
	bool rd[2];		/* the sandbox's, the server's side: readable */
	bool rwant[2];		/* a read there waits to write */
	bool h11;		/* the sandbox offered ALPN http/1.1 */
	bool client_close;	/* the sandbox said close: after this one */
	bool server_close;	/* the server will not take another */
	int informational;	/* 1xx answers to the current request */
	bool done;		/* the last response is through */
	bool closing;		/* ends once cq is out */
	bool keep;		/* at the end, the server's side may be pooled */
	bool retry;		/* a request head waits in `in' */
	bool session_saved;	/* this server connection's, for resumption */
	bool upstream_failed;	/* the new server connection: why */
	char why[160];
};

/* Each thread's rewritten heads, the secrets in them; the path of the
 * request it judges, read once for all its checks. */
static __thread uint8_t *out_pages;
static __thread struct http_path *req_path;

static void q_release(struct outq *q)
{
	if (q->secret)
		secret_free(q->b);
	else
		free(q->b);
	q->b = NULL;
	q->cap = 0;
}

static int q_put(struct outq *q, const uint8_t *b, size_t n)
{
	if (q->len + n > q->cap) {
		size_t cap = q->cap ? q->cap : TLS_CHUNK;
		uint8_t *nb;
		struct outq old = *q;

		while (cap < q->len + n)
			cap *= 2;
		if (!(nb = q->secret ? secret_alloc(cap) : malloc(cap)))
			return -1;
		if (q->len)
			memcpy(nb, q->b, q->len);
		q_release(&old);
		q->b = nb;
		q->cap = cap;
	}
	memcpy(q->b + q->len, b, n);
	q->len += n;
	return 0;
}

static bool q_empty(const struct outq *q)
{
	return q->off == q->len;
}

static int chunk(size_t n)
{
	return (int)(n > TLS_CHUNK ? TLS_CHUNK : n);
}

static bool would_block(WOLFSSL *s, int rc)
{
	rc = wolfSSL_get_error(s, rc);
	return rc == WOLFSSL_ERROR_WANT_WRITE || rc == WOLFSSL_ERROR_WANT_READ;
}

/* Straight to wolfSSL while nothing waits; what it cannot take now
 * waits in q, in order. 0, or -1: failed. */
static int ssl_send(WOLFSSL *s, struct outq *q, const uint8_t *b, size_t n)
{
	if (!q_empty(q))
		return q_put(q, b, n);
	while (n > 0) {
		int w = wolfSSL_write(s, b, chunk(n));

		if (w <= 0) {
			if (!would_block(s, w))
				return -1;
			q->off = q->len = 0;
			return q_put(q, b, n);
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 1 all out, 0 the socket is full, -1 failed. */
static int q_flush(WOLFSSL *s, struct outq *q)
{
	while (!q_empty(q)) {
		int w = wolfSSL_write(s, q->b + q->off, chunk(q->len - q->off));

		if (w <= 0)
			return would_block(s, w) ? 0 : -1;
		q->off += (size_t)w;
	}
	if (q->secret && q->len)
		explicit_bzero(q->b, q->len);
	q->off = q->len = 0;
	return 1;
}

/* The sandbox's bytes wait in cq until the round's end: a response head
 * and its body go out in one record, one send. Requests go at once, with
 * their secrets: sq (secret pages) holds only what the socket refused. */
static int to_server(struct proxy *p, const uint8_t *b, size_t n)
{
	return ssl_send(p->u, &p->sq, b, n);
}

static int to_client(struct proxy *p, const uint8_t *b, size_t n)
{
	return q_put(&p->cq, b, n);
}

static void audit(struct proxy *p, const struct pend *q, int status,
		  const char *error)
{
	ipc_request(p->j->sandbox, p->j->host, q && q->method[0] ? q->method :
		    NULL, q && q->path[0] ? q->path : NULL, status,
		    q ? q->injected : "", error);
}

/* An answer of the broker's own, and the end of the connection. */
static const char *reason_phrase(int status);

static void refuse(struct proxy *p, int status, const char *why,
		   const struct pend *q)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "HTTP/1.1 %d %s\r\n"
			 "Content-Type: text/plain\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\nsbxfw: %s\n", status,
			 reason_phrase(status), strlen(why) + 8, why);

	if (p->c)
		to_client(p, (const uint8_t *)msg, (size_t)n);
	audit(p, q, status, why);
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 405: return "Method Not Allowed";
	case 421: return "Misdirected Request";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

static void consume(uint8_t *buf, size_t *len, size_t n)
{
	memmove(buf, buf + n, *len - n);
	*len -= n;
}

/* Host (without a port) names the SNI: the broker never carries a
 * request for another name over this connection. */
static bool host_ok(const struct proxy *p, const struct http_head *h)
{
	const char *v = (const char *)p->in + h->host.off;
	size_t n = h->host.len;
	const char *colon = memchr(v, ':', n);

	/* the flow's port, or none: a server may route by another */
	if (colon && ((size_t)(v + n - colon) != 4 || memcmp(colon, ":443", 4)))
		return false;
	if (colon)
		n = (size_t)(colon - v);
	return n == strlen(p->j->host) && !strncasecmp(v, p->j->host, n);
}

/* The head with the rule's headers in place of the sandbox's, in the
 * thread's secret pages or, larger, in its own (*own); NULL: no memory.
 * The size is exact before a byte is written (http_rewrite.c). */
static uint8_t *rewrite(struct proxy *p, const struct http_head *h,
			const struct inject_rule *r, size_t *len, bool *own)
{
	const struct header_kv *set = r ? r->set : NULL;
	size_t nset = r ? r->nset : 0;
	/* the sandbox's close is for its hop: the server's connection may
	 * serve the next flow */
	size_t need = http_request_rewrite_size(p->in, h, set, nset,
						p->client_close);
	uint8_t *out = out_pages;

	*own = need > OUT_CAP || !out;
	if (*own && !(out = secret_alloc(need)))
		return NULL;
	*len = http_request_rewrite(out, need, p->in, h, set, nset,
				    p->client_close);
	return out;
}

static void pend_fill(struct pend *q, const uint8_t *b,
		      const struct http_head *h, const struct inject_rule *r)
{
	const char *t = (const char *)b + h->target.off;
	const char *qm = memchr(t, '?', h->target.len);
	size_t plen = qm ? (size_t)(qm - t) : h->target.len, at = 0;

	memset(q, 0, sizeof(*q));
	snprintf(q->method, sizeof(q->method), "%.*s", (int)h->method.len,
		 (const char *)b + h->method.off);
	/* the path without its query, which may carry tokens */
	snprintf(q->path, sizeof(q->path), "%.*s", (int)plen, t);
	q->head = !strcmp(q->method, "HEAD");
	for (size_t i = 0; r && i < r->nset; i++)
		at += (size_t)snprintf(q->injected + at,
				       at < sizeof(q->injected) ?
				       sizeof(q->injected) - at : 0, "%s%s",
				       i ? "," : "", r->set[i].name);
}

static const char *connect_server(struct proxy *p);

/* The server ended its side between responses: the sandbox's connection
 * goes on, the next request opens another. */
static void upstream_drop(struct proxy *p)
{
	loop_forget_fd(&p->lf, 1);
	p->rio[1].off = p->rio[1].len = 0;
	p->session_saved = false;
	wolfSSL_free(p->u);
	flows_set_ufd(p->flow, -1);
	close(p->ufd);
	p->u = NULL;
	p->ufd = -1;
	p->server_close = false;
}

static bool has_field(const uint8_t *b, const struct http_head *h,
		      const char *name)
{
	for (size_t i = 0; i < h->nf; i++)
		if (http_field_is(b, &h->f[i], name))
			return true;
	return false;
}

static bool method_is(const uint8_t *b, const struct http_head *h,
		      const char *m)
{
	return h->method.len == strlen(m) &&
	       !strncasecmp((const char *)b + h->method.off, m, h->method.len);
}

/* Fields that make some frameworks act on another path or method than
 * the request line's, which a narrowed rule judged. */
static const char *const overrides[] = {
	"x-original-url", "x-rewrite-url", "x-http-method-override",
	"x-http-method", "x-method-override", "x-forwarded-host",
	"x-forwarded-prefix",
};

/* A rule narrowed by method, path or header judges the request line as
 * it stands: its path must read the same to every server, and no field
 * may name another. */
static const char *narrowed_refusal(const struct proxy *p,
				    const struct http_head *h,
				    const struct http_path *path)
{
	if (!config_narrowed(p->sb, p->j->host))
		return NULL;
	if (!path->canonical)
		return "request path not canonical (a narrowed rule)";
	for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
		if (has_field(p->in, h, overrides[i]))
			return "a field overriding the path or method "
			       "(a narrowed rule)";
	return NULL;
}

/* What the broker will not carry, whatever the rules: a reason and its
 * status, or NULL. Fixed strings: never a header's value. */
static const char *request_refusal(const struct proxy *p,
				   const struct http_head *h,
				   const struct http_path *path, int *status)
{
	*status = 400;
	if (p->in[h->target.off] != '/' &&
	    !(h->target.len == 1 && p->in[h->target.off] == '*'))
		return "request target not in origin form";
	if (!host_ok(p, h)) {
		*status = 421;
		return "Host is not the TLS server name";
	}
	/* a server that echoes the request would show the secret */
	if (method_is(p->in, h, "TRACE") || method_is(p->in, h, "TRACK")) {
		*status = 405;
		return "TRACE is not carried";
	}
	if (has_field(p->in, h, "max-forwards"))
		return "Max-Forwards is not carried";
	/* after a refused upgrade, heads would be read from its body */
	if (h->upgrade && h->body != BODY_NONE)
		return "Upgrade with a body";
	if (memchr(p->in + h->target.off, '#', h->target.len))
		return "a fragment in the request target";
	if (!path->ok)
		return "request path cannot be normalised";
	return narrowed_refusal(p, h, path);
}

/* A whole request head in p->in: checked, rewritten, sent; or
 * NEED_UPSTREAM, when the server's side must be connected first. */
static int head_send(struct proxy *p, const struct http_head *h)
{
	const struct inject_rule *r;
	const char *why;
	struct pend q;
	uint8_t *out;
	bool own;
	size_t n;
	int rc, status;

	pend_fill(&q, p->in, h, NULL);
	http_path_read((const char *)p->in + h->target.off, h->target.len,
		       req_path);
	if ((why = request_refusal(p, h, req_path, &status))) {
		refuse(p, status, why, &q);
		return -1;
	}
	if (!p->u) {
		if (!p->upstream_failed)
			return NEED_UPSTREAM;
		refuse(p, 502, p->why, &q);
		return -1;
	}
	/* the sandbox changed since the flow was judged: judged again
	 * before this request goes, with the rules in force now */
	if (flows_epoch(p->flow->sandbox) != p->flow->epoch)
		return NEED_JUDGE;
	r = config_match(p->sb, p->j->host, p->in, h, req_path);
	pend_fill(&q, p->in, h, r);
	q.upgrade = h->upgrade;
	p->client_close = h->close && !h->upgrade && h->minor == 1;
	/* a server that answers before it reads a body would read what
	 * follows it as a request, with the next one's secret: a body is
	 * the last thing this server connection carries */
	p->server_close |= h->minor == 0 || h->body != BODY_NONE;
	if (!(out = rewrite(p, h, r, &n, &own))) {
		refuse(p, 500, "out of memory", &q);
		return -1;
	}
	rc = to_server(p, out, n);
	explicit_bzero(out, n);
	if (own)
		secret_free(out);
	if (rc < 0)
		return -1;
	p->fifo[(p->fhead + p->fcount++) % FIFO] = q;
	return 0;
}

static int client_bytes(struct proxy *p)
{
	struct http_head h;
	const char *why;
	size_t used;
	int rc, status;

	for (;;) {
		switch (p->qs) {
		case Q_WAIT_UPGRADE:
			return 0;
		case Q_RAW:
			rc = to_server(p, p->in, p->inlen);
			p->inlen = 0;
			return rc;
		case Q_BODY:
			rc = http_framing_feed(&p->qf, p->in, p->inlen, &used);
			if (rc < 0) {
				refuse(p, 400, "malformed "
				       "chunked body", NULL);
				return -1;
			}
			/* trailer fields never reach the server: one could
			 * carry a header the rule sets */
			if (!p->qf.trailer_bytes &&
			    to_server(p, p->in, used) < 0)
				return -1;
			consume(p->in, &p->inlen, used);
			if (rc == 0) {
				if (!p->inlen)
					return 0;
				continue;
			}
			p->qs = Q_HEAD;
			continue;
		case Q_HEAD:
			break;
		}
		/* nothing more for a server connection that takes no other:
		 * the next head waits for the next connection */
		if (!p->inlen || p->fcount == FIFO || p->client_close ||
		    (p->server_close && p->u))
			return 0;
		switch (http_request_parse(p->in, p->inlen, &h, &status,
					   &why)) {
		case HTTP_PARTIAL:
			return 0;
		case HTTP_BAD:
			refuse(p, status, why, NULL);
			return -1;
		case HTTP_OK:
			break;
		}
		if ((rc = head_send(p, &h)) != 0)
			return rc;
		consume(p->in, &p->inlen, h.len);
		http_framing_init(&p->qf, &h);
		p->qf.strip_trailers = true;
		p->qs = h.upgrade ? Q_WAIT_UPGRADE :
			h.body != BODY_NONE ? Q_BODY : Q_HEAD;
	}
}

/* A final response: the audit row of its request. */
static void response_done(struct proxy *p, int status)
{
	if (!p->fcount)
		return;
	audit(p, &p->fifo[p->fhead], status, NULL);
	p->fhead = (p->fhead + 1) % FIFO;
	p->fcount--;
}

/* A response is through: the last the sandbox wanted, or the last the
 * server takes (the next request opens another connection). */
static int body_done(struct proxy *p)
{
	p->ss = S_HEAD;
	if (p->client_close && !p->fcount)
		p->done = true;
	else if (p->server_close) {
		if (p->fcount)
			return -1;	/* pipelined requests it will not read */
		upstream_drop(p);
		p->retry = p->inlen > 0;	/* a head that waited */
	}
	return 0;
}

/* Connection is per hop: the sandbox's connection closes when it asked
 * (the server's may stay for the pool), and stays open when only the
 * server's closes. So the response's Connection lines go, and
 * "Connection: close" comes in when the sandbox asked for it; the head
 * is rebuilt from its fields, its exact size known first. */
static int head_to_client(struct proxy *p, const struct http_head *h)
{
	size_t n;
	uint8_t *out;
	int rc;

	if (h->status < 200 || h->body == BODY_UNTIL_CLOSE ||
	    (!p->client_close && !has_field(p->sin, h, "connection")))
		return to_client(p, p->sin, h->len);
	n = http_response_rewrite_size(p->sin, h, p->client_close);
	if (!(out = malloc(n)))
		return -1;
	n = http_response_rewrite(out, n, p->sin, h, p->client_close);
	rc = to_client(p, out, n);
	free(out);
	return rc;
}

/* A response head the broker cannot read (or hold): the sandbox gets
 * 502 in its place, and the connection ends. */
static int bad_response(struct proxy *p, const char *why)
{
	const struct pend *q = p->fcount ? &p->fifo[p->fhead] : NULL;

	log_info("broker: %s: %s", p->j->host, why);
	refuse(p, 502, why, q);
	if (p->fcount) {
		p->fhead = (p->fhead + 1) % FIFO;
		p->fcount--;
	}
	return -1;
}

#define INFORMATIONAL_MAX 16	/* 1xx answers to one request */

/* What a response may be, for the request it answers. */
static const char *response_refusal(struct proxy *p, const struct http_head *h)
{
	bool upgrade = p->fcount && p->fifo[p->fhead].upgrade;

	if (!p->fcount)
		return "a response to no request";
	if (h->status == 101 && !upgrade)
		return "101 to a request that asked no upgrade";
	if (h->status < 200 && ++p->informational > INFORMATIONAL_MAX)
		return "too many informational responses";
	return NULL;
}

static int response_head(struct proxy *p)
{
	bool head_req = p->fcount && p->fifo[p->fhead].head;
	bool upgrade = p->fcount && p->fifo[p->fhead].upgrade;
	struct http_head h;
	const char *why;

	switch (http_response_parse(p->sin, p->sinlen, head_req, &h)) {
	case HTTP_PARTIAL:
		if (p->sinlen < SIN_CAP)
			return 0;
		return bad_response(p, "response head too large");
	case HTTP_BAD:
		return bad_response(p, "malformed response head");
	case HTTP_OK:
		break;
	}
	if ((why = response_refusal(p, &h)))
		return bad_response(p, why);
	if (head_to_client(p, &h) < 0)
		return -1;
	consume(p->sin, &p->sinlen, h.len);
	if (h.status == 101) {	/* to the upgrade: a relay from now on */
		response_done(p, 101);
		p->ss = S_RAW;
		p->qs = Q_RAW;
		return 1;
	}
	if (h.status < 200)	/* 100 Continue and the like */
		return 1;
	p->informational = 0;
	response_done(p, h.status);
	if (upgrade)
		p->qs = Q_HEAD;	/* not switched: requests go on */
	p->server_close |= h.close || h.body == BODY_UNTIL_CLOSE;
	http_framing_init(&p->sf, &h);
	if (h.body != BODY_NONE)
		p->ss = S_BODY;
	else if (body_done(p) < 0)
		return -1;
	return 1;
}

static int server_bytes(struct proxy *p)
{
	size_t used;
	int rc;

	while (p->sinlen) {
		switch (p->ss) {
		case S_RAW:
			rc = to_client(p, p->sin, p->sinlen);
			p->sinlen = 0;
			return rc;
		case S_BODY:
			rc = http_framing_feed(&p->sf, p->sin, p->sinlen,
					       &used);
			if (rc < 0) {	/* the head is out: only the end */
				log_info("broker: %s: malformed chunked "
					 "response", p->j->host);
				return -1;
			}
			if (to_client(p, p->sin, used) < 0)
				return -1;
			consume(p->sin, &p->sinlen, used);
			if (rc == 1 && body_done(p) < 0)
				return -1;
			continue;
		case S_HEAD:
			if ((rc = response_head(p)) <= 0)
				return rc;
			/* requests held back; after a 101, what the sandbox
			 * sent behind its upgrade */
			if ((p->qs == Q_HEAD || p->qs == Q_RAW) &&
			    (rc = client_bytes(p)) != 0)
				return rc;
			continue;
		}
	}
	return 0;
}

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

void proxy_thread_init(void)
{
	out_pages = secret_alloc(OUT_CAP);
	req_path = xmalloc(sizeof(*req_path));
}

void proxy_thread_fini(void)
{
	secret_free(out_pages);
	out_pages = NULL;
	free(req_path);
	req_path = NULL;
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
