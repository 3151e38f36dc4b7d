/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The response side of the TLS terminator: the server's bytes, parsed
 * only for their ends and status, each final response the audit row of
 * its request; Connection is per hop; a 101 to an upgrade turns both
 * ways into a plain relay. */
#include <stdlib.h>

#include "http_rewrite.h"
#include "log.h"
#include "proxy.h"


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

int server_bytes(struct proxy *p)
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
