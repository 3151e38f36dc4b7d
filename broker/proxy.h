/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_BROKER_PROXY_H
#define SBXFW_BROKER_PROXY_H

/* The TLS terminator for injection domains: the sandbox's TLS ends here
 * with a leaf its CA signed, a verified TLS connection goes to the real
 * server, and every HTTP/1.1 request head between them is checked
 * strictly and rewritten: the first matching rule's headers replace any
 * of the same name. Bodies stream through, framed as the head says;
 * responses go back as they come, parsed only for their ends and status.
 * An upgrade (101) turns both ways into a plain relay.
 *
 * A terminated flow, shared by its parts: proxy.c (its queues, the
 * broker's own answers), proxy_request.c (the sandbox's requests),
 * proxy_response.c (the server's responses), proxy_flow.c (handshakes,
 * the flow's runs in an event loop, its end). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "http1.h"

#define NEED_UPSTREAM 1		/* a request waits for a server connection */
#define NEED_JUDGE 2		/* ...for the flow's judgement after a change */
#define FIFO 32
#define SIN_CAP (HTTP_RESP_HEAD_MAX + 1)
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

/* ---- shared by the parts (proxy.c) ---- */
void q_release(struct outq *q);
bool q_empty(const struct outq *q);
int q_flush(WOLFSSL *s, struct outq *q);
/* Requests to the server at once, responses to the sandbox queued. */
int to_server(struct proxy *p, const uint8_t *b, size_t n);
int to_client(struct proxy *p, const uint8_t *b, size_t n);
/* The audit row of a request (q: NULL, none known). */
void audit(struct proxy *p, const struct pend *q, int status,
	   const char *error);
/* The broker's own answer (a status, why), and the end of the flow. */
void refuse(struct proxy *p, int status, const char *why,
	    const struct pend *q);
void consume(uint8_t *buf, size_t *len, size_t n);
/* The server's side closes; the sandbox's goes on. */
void upstream_drop(struct proxy *p);
bool has_field(const uint8_t *b, const struct http_head *h,
	       const char *name);

/* ---- the sandbox's bytes: requests (proxy_request.c) ---- */
/* 0, -1 (the flow ends), NEED_UPSTREAM or NEED_JUDGE. */
int client_bytes(struct proxy *p);

/* ---- the server's bytes: responses (proxy_response.c) ---- */
/* 0, -1 (the flow ends), or what client_bytes returned. */
int server_bytes(struct proxy *p);

#endif
