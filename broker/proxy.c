/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the parts of the TLS terminator share (proxy.h): the queues of
 * plaintext for wolfSSL on both sides, the broker's own answers and the
 * audit rows of requests, and the end of a server connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"
#include "secret.h"

#define TLS_CHUNK 16384

void q_release(struct outq *q)
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

bool q_empty(const struct outq *q)
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
int q_flush(WOLFSSL *s, struct outq *q)
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
int to_server(struct proxy *p, const uint8_t *b, size_t n)
{
	return ssl_send(p->u, &p->sq, b, n);
}

int to_client(struct proxy *p, const uint8_t *b, size_t n)
{
	return q_put(&p->cq, b, n);
}

void audit(struct proxy *p, const struct pend *q, int status,
	   const char *error)
{
	ipc_request(p->j->sandbox, p->j->host, q && q->method[0] ? q->method :
		    NULL, q && q->path[0] ? q->path : NULL, status,
		    q ? q->injected : "", error);
}

/* An answer of the broker's own, and the end of the connection. */
static const char *reason_phrase(int status);

void refuse(struct proxy *p, int status, const char *why,
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

void consume(uint8_t *buf, size_t *len, size_t n)
{
	memmove(buf, buf + n, *len - n);
	*len -= n;
}

/* The server ended its side between responses: the sandbox's connection
 * goes on, the next request opens another. */
void upstream_drop(struct proxy *p)
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

bool has_field(const uint8_t *b, const struct http_head *h,
	       const char *name)
{
	for (size_t i = 0; i < h->nf; i++)
		if (http_field_is(b, &h->f[i], name))
			return true;
	return false;
}
