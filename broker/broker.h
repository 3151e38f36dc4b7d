/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_BROKER_H
#define SBXFW_BROKER_H

/* sbxfw-broker: the credentials broker (SPEC §6). An unprivileged process
 * with no capabilities, no file access and a system call allowlist, fed
 * by sbxfwd over a socketpair (descriptor 3) with the flows the ruleset
 * redirected to its listener (descriptor 4). For each it asks the daemon
 * what to do: terminate TLS and rewrite HTTP/1.1 requests (an injection
 * domain), relay the bytes unchanged (another name on the same address),
 * or refuse. Messages are JSON, one per SOCK_SEQPACKET datagram. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "broker_proto.h"
#include "clienthello.h"
#include "policy.h"

#define BROKER_CONNS_MAX 1024

/* ---- what the daemon said about a flow (ipc.c) ---- */
enum judge_action { JA_DENY, JA_RELAY, JA_TERMINATE, JA_WHO };

struct judgement {
	enum judge_action action;
	uint32_t sandbox;
	int family;
	uint8_t dst[16];	/* the flow's original destination */
	uint16_t dport;
	char host[DOMAIN_MAX + 1];	/* normalised SNI (terminate) */
};

/* What the daemon judges a flow by: its ends as the broker's socket sees
 * them, and what its first bytes were. */
struct judge_req {
	int family;
	uint8_t local[16], peer[16];
	uint16_t lport, pport;
	/* "who" (its sandbox only), "tls", "not-tls", "malformed",
	 * "incomplete" */
	const char *status;
	bool has_sni, ech;
	char sni[CH_SNI_MAX + 1];	/* raw bytes */
	size_t sni_len;
	bool again;		/* after a change: a row only for a refusal */
};

/* What a message about a sandbox does to its open flows (flows.c's
 * flows_changing, flows_changed, flows_cut), given before the threads
 * that read the daemon's messages start. */
struct ipc_hooks {
	void (*changing)(uint32_t sandbox);
	void (*changed)(uint32_t sandbox);
	void (*cut)(uint32_t sandbox);
};

void ipc_setup(const struct ipc_hooks *h);
/* A new broker says so: the daemon sends its configuration. */
void ipc_hello(void);
/* Blocks until the daemon answers (or 5 s: deny). */
int ipc_judge(const struct judge_req *rq, struct judgement *out);
/* n questions sent at once, then their answers. */
int ipc_judge_many(const struct judge_req *rq, struct judgement *out,
		   size_t n);
/* One brokered request for the audit (never a header value). */
void ipc_request(uint32_t sandbox, const char *host, const char *method,
		 const char *path, int status, const char *injected,
		 const char *error);
/* Sends the request rows in batches. */
void *ipc_rows_thread(void *arg);
/* Reads sandboxes' new rules, in order (a thread of its own). */
void *ipc_changes_thread(void *arg);
/* Reads the daemon's messages until it goes away (then exits). */
void *ipc_thread(void *arg);
/* Waits for the first configuration. */
void ipc_wait_config(void);

/* ---- the sandboxes' rules and certificates (config.c) ---- */
struct bk_sandbox;

void config_set_trust(const char *pem, unsigned leaf_days);
WOLFSSL_CTX *config_server_ctx(void);
WOLFSSL_CTX *config_client_ctx(void);
/* From the daemon's "sandbox" message (the object), or its removal. */
int config_sandbox_put(uint32_t id, const char *name, const char *ca_pem,
		       const char *key_pem, const char *policy_json,
		       char *err, size_t errlen);
void config_sandbox_drop(uint32_t id);
/* A reference to a sandbox's rules (NULL: none), released with _put. */
struct bk_sandbox *config_sandbox_get(uint32_t id);
void config_sandbox_put_ref(struct bk_sandbox *sb);
/* A leaf certificate for host (DER) and its key (DER); 0 or -1. */
int config_leaf(struct bk_sandbox *sb, const char *host, uint8_t *der,
		size_t *derlen, uint8_t *key, size_t *keylen);

/* Whether a rule for host is narrowed (by method, path or a header). */
bool config_narrowed(const struct bk_sandbox *sb, const char *host);
/* The request's first matching rule for host, or NULL. */
struct http_head;
struct http_path;
const struct inject_rule *config_match(const struct bk_sandbox *sb,
				       const char *host, const uint8_t *b,
				       const struct http_head *h,
				       const struct http_path *path);

/* ---- open flows, judged again when their sandbox changes (flows.c) ---- */
struct bk_flow {
	int cfd;		/* the sandbox's side */
	int ufd;		/* a relay's server side, -1: none */
	uint32_t sandbox;
	bool shared;		/* it counts against its sandbox's share */
	bool listed;
	uint64_t serial;	/* which flow, whatever its address */
	enum judge_action action;	/* JA_DENY until judged */
	uint64_t epoch;		/* its sandbox's, when it was judged */
	_Atomic bool cut;	/* no longer allowed: nothing more passes */
	struct judge_req rq;
	char host[DOMAIN_MAX + 1];
	struct bk_flow *next, *prev;
};

/* The change count of a sandbox's policy as the broker knows it. */
uint64_t flows_epoch(uint32_t sandbox);
/* A message about the sandbox came: its flows wait until it is taken in,
 * then (flows_changed) every open flow of it is judged again, and those
 * no longer allowed are cut (both sides). */
void flows_changing(uint32_t sandbox);
void flows_changed(uint32_t sandbox);
/* The sandbox is gone: its flows are cut now (between flows_changing
 * and flows_changed). */
void flows_cut(uint32_t sandbox);
void flows_add(struct bk_flow *f);
void flows_del(struct bk_flow *f);
/* Judged as the policy stands now, with the epoch it was judged at
 * (again: judged before, a row only for a refusal). */
void flows_judge(struct bk_flow *f, bool again, struct judgement *j);
/* What the flow is allowed as, where the sweep reads it. */
void flows_set_judged(struct bk_flow *f, const struct judgement *j);
void flows_set_ufd(struct bk_flow *f, int fd);
void flows_set_sandbox(struct bk_flow *f, uint32_t sandbox);
/* Moves on with every change to any sandbox. */
uint64_t flows_generation(void);
/* Judges again the flows of changed sandboxes (a thread of its own). */
void *flows_thread(void *arg);

/* ---- each sandbox's share of the broker (shares.c) ---- */
bool share_take(uint32_t sandbox);
bool share_full(uint32_t sandbox);
void share_give(uint32_t sandbox);
/* The sandbox a source address was, until any sandbox changes. */
bool who_cached(int family, const uint8_t *addr, uint32_t *sandbox);
void who_learn(int family, const uint8_t *addr, uint32_t sandbox);

/* ---- flows (conn.c): peeked, judged, then handed over ---- */
/* What a judged flow becomes, given before the first is served. */
struct conn_handlers {
	/* a relay of the untouched bytes (relay.c) */
	void (*relay)(struct bk_flow *f, const struct judgement *j);
	/* the TLS terminator (proxy_flow.c); true: it owns the flow from
	 * there on and ends it with conn_done */
	bool (*terminate)(struct bk_flow *f, const struct judgement *j,
			  const struct client_hello *ch);
};

void conn_setup(const struct conn_handlers *h);
/* A new flow within BROKER_CONNS_MAX, to be served, or false. */
bool conn_admit(void);
/* In the accept loop, before any worker: a flow of a sandbox known to
 * hold its share already is reset and closed (true). */
bool conn_refused_early(int fd, const struct sockaddr_storage *peer);
void conn_serve(int fd);
/* A flow served elsewhere ended: its descriptor closes, it counts no
 * more against its sandbox's share and the limit. */
void conn_done(struct bk_flow *f);

/* ---- a relay (relay.c) ---- */
void relay_run(struct bk_flow *f, const struct judgement *j);

/* ---- the TLS terminator (proxy*.c, proxy.h) ---- */
/* Each thread's buffer for rewritten heads (secret pages), made once
 * (proxy_request.c). */
void proxy_thread_init(void);
void proxy_thread_fini(void);
/* The handshakes on both sides, then the flow goes to an event loop
 * (true: it owns the flow from there on and ends it; proxy_flow.c). */
bool proxy_start(struct bk_flow *f, const struct judgement *j,
		 const struct client_hello *ch);

/* ---- connections to real servers (upstream.c) ---- */
/* Connect to the flow's destination within a few seconds; -1 on error. */
int upstream_connect(const struct judgement *j);

/* ---- the worker threads (workers.c): blocking work, handshakes ---- */
/* Before the first job: what each worker runs first and last. */
void workers_init(void (*start)(void), void (*end)(void));
void work_submit(void (*fn)(void *), void *arg);

/* ---- the event loops (loop.c) ---- */
struct loop;
struct loop_flow;

struct loop_side {
	struct loop_flow *f;
	int i;
};

struct loop_flow {
	int fd[2];		/* the flow's descriptors, -1: none */
	uint32_t want[2];	/* EPOLLIN, EPOLLOUT: what it waits for */
	uint32_t ready[2];	/* when it runs: what happened on each */
	uint64_t deadline;	/* loop_now_ms(): then it runs expired */
	bool expired;		/* it runs because its deadline passed */
	bool again;		/* set by run: run again in the next round */
	void (*run)(struct loop_flow *f);
	/* the loop's own */
	struct loop *l;
	struct loop_flow *next, *prev, *run_next;
	struct loop_side side[2];
	uint32_t armed[2];
	void (*then)(struct loop_flow *f);
	bool due, dead;
};

/* One loop per online CPU; each thread runs start first. */
void loop_start(void (*start)(void));
uint64_t loop_now_ms(void);
/* From any thread: the flow belongs to a loop, which runs it once. */
void loop_add(struct loop_flow *f);
/* From the flow's run: its registrations follow fd[] and want[]. */
void loop_sync(struct loop_flow *f);
/* Before closing fd[i]. */
void loop_forget_fd(struct loop_flow *f, int i);
/* The flow leaves its loop; `then' runs at the end of the round. */
void loop_remove(struct loop_flow *f, void (*then)(struct loop_flow *));

/* ---- idle connections to real servers (pool.c) ---- */
/* One for this sandbox, name and address, taken out of the pool. */
bool pool_take(const struct judgement *j, WOLFSSL **ssl, int *fd);
/* Between responses, nothing pending: kept for the next flow. */
void pool_put(const struct judgement *j, WOLFSSL *ssl, int fd);
/* A sandbox's rules changed or it is gone: its connections end. */
void pool_forget(uint32_t sandbox);

/* ---- TLS sessions with real servers, resumed (sessions.c) ---- */
/* Before the handshake: the newest session for this sandbox and name. */
void session_offer(const struct judgement *j, WOLFSSL *ssl);
/* After it, and as the connection ends (a TLS 1.3 ticket comes late). */
void session_save(const struct judgement *j, WOLFSSL *ssl);
void session_forget(uint32_t sandbox);

/* ---- confinement ---- */
/* The system call allowlist (filter.c). */
int broker_filter_install(char *err, size_t errlen);
/* Landlock (landlock.c): the ABI version in force, 0 when the kernel has
 * none (err says so), -1 on error. */
int broker_landlock(char *err, size_t errlen);

#endif
