/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The request side of the TLS terminator: the sandbox's bytes, each
 * request head checked strictly (what the broker never carries, what a
 * narrowed rule asks), rewritten with the first matching rule's headers
 * and sent to the server, its body streamed as the head frames it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_path.h"
#include "http_rewrite.h"
#include "proxy.h"
#include "secret.h"
#include "xalloc.h"

#define OUT_CAP (HTTP_HEAD_MAX + 65536)

/* Each thread's rewritten heads, the secrets in them; the path of the
 * request it judges, read once for all its checks. */
static __thread uint8_t *out_pages;
static __thread struct http_path *req_path;

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

int client_bytes(struct proxy *p)
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
