/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The broker's side of the socketpair: judgements asked for by flow
 * threads and answered in order of their ids, configuration pushed by
 * the daemon. Every message is checked whole; one the broker cannot read
 * is a bug in one of the two programs, and stops the broker (the daemon
 * starts a new one). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "log.h"
#include "secret.h"

#define JUDGE_WAIT_S 5

struct waiter {
	uint64_t id;
	bool done;
	struct judgement *out;
	struct waiter *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t answered = PTHREAD_COND_INITIALIZER;
static struct waiter *waiting;
static uint64_t next_id;
static bool configured;
static struct ipc_hooks hooks;

void ipc_setup(const struct ipc_hooks *h)
{
	hooks = *h;
}

static void send_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (!s)
		return;
	/* a datagram each: atomic whichever thread sends */
	if (send(BROKER_FD_IPC, s, strlen(s), MSG_NOSIGNAL) < 0)
		log_warn("broker: to the daemon");
	free(s);
}

void ipc_hello(void)
{
	send_json(json_pack("{s:s, s:i}", BROKER_F_TYPE, BROKER_MSG_HELLO,
			    BROKER_F_PID, (int)getpid()));
}

static json_t *addr_json(int family, const uint8_t *a)
{
	char text[INET6_ADDRSTRLEN];

	inet_ntop(family, a, text, sizeof(text));
	return json_string(text);
}

static json_t *sni_json(const struct judge_req *rq)
{
	static const char hex[] = "0123456789abcdef";
	char out[CH_SNI_MAX * 2 + 1];

	if (!rq->has_sni)
		return json_null();
	for (size_t i = 0; i < rq->sni_len; i++) {
		out[2 * i] = hex[(uint8_t)rq->sni[i] >> 4];
		out[2 * i + 1] = hex[(uint8_t)rq->sni[i] & 15];
	}
	out[2 * rq->sni_len] = 0;
	return json_string(out);
}

static void judge_send(uint64_t id, const struct judge_req *rq)
{
	send_json(json_pack("{s:s, s:I, s:o, s:i, s:o, s:i, s:s, s:o, s:b, "
			    "s:b}", BROKER_F_TYPE, BROKER_MSG_JUDGE,
			    BROKER_F_ID, (json_int_t)id,
			    BROKER_F_LOCAL, addr_json(rq->family, rq->local),
			    BROKER_F_LPORT, rq->lport,
			    BROKER_F_PEER, addr_json(rq->family, rq->peer),
			    BROKER_F_PPORT, rq->pport,
			    BROKER_F_STATUS, rq->status,
			    BROKER_F_SNI, sni_json(rq), BROKER_F_ECH, rq->ech,
			    BROKER_F_AGAIN, rq->again));
}

static bool all_done(const struct waiter *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!w[i].done)
			return false;
	return true;
}

static void unlink_waiter(struct waiter *w)
{
	for (struct waiter **pp = &waiting; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/* n questions at once, their answers as they come: the daemon reads
 * them in one go. 0, or -ETIMEDOUT (those not answered: deny). */
int ipc_judge_many(const struct judge_req *rq, struct judgement *out,
		   size_t n)
{
	struct waiter *w = calloc(n ? n : 1, sizeof(*w));
	struct timespec until;
	bool done;

	if (!w)
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		w[i] = (struct waiter){ .id = ++next_id, .out = &out[i],
					.next = waiting };
		waiting = &w[i];
	}
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++)
		judge_send(w[i].id, &rq[i]);
	until = deadline_ms(JUDGE_WAIT_S * 1000);
	pthread_mutex_lock(&lock);
	while (!all_done(w, n) &&
	       pthread_cond_timedwait(&answered, &lock, &until) != ETIMEDOUT)
		;
	for (size_t i = 0; i < n; i++) {
		unlink_waiter(&w[i]);
		if (!w[i].done)
			out[i].action = JA_DENY;
	}
	pthread_mutex_unlock(&lock);
	done = all_done(w, n);
	free(w);
	return done ? 0 : -ETIMEDOUT;
}

int ipc_judge(const struct judge_req *rq, struct judgement *out)
{
	return ipc_judge_many(rq, out, 1);
}

/* Request rows go in batches: one message per REQUESTS_BATCH rows or
 * REQUESTS_PERIOD_MS, whichever comes first. A row is [sandbox, host,
 * method, path, status, injected, error], null where there is none. */
#define REQUESTS_BATCH 128
#define REQUESTS_PERIOD_MS 50

static pthread_mutex_t rows_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rows_full = PTHREAD_COND_INITIALIZER;
static json_t *rows;

void ipc_request(uint32_t sandbox, const char *host, const char *method,
		 const char *path, int status, const char *injected,
		 const char *error)
{
	/* an array, not an object: the daemon reads thousands a second */
	json_t *row = json_pack("[i, s, s?, s?, i, s, s?]", (int)sandbox, host,
				method, path, status, injected, error);

	pthread_mutex_lock(&rows_lock);
	if (!rows)
		rows = json_array();
	json_array_append_new(rows, row);
	if (json_array_size(rows) >= REQUESTS_BATCH)
		pthread_cond_signal(&rows_full);
	pthread_mutex_unlock(&rows_lock);
}

void *ipc_rows_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec until;
		json_t *batch;

		until = deadline_ms(REQUESTS_PERIOD_MS);
		pthread_mutex_lock(&rows_lock);
		while ((!rows || json_array_size(rows) < REQUESTS_BATCH) &&
		       pthread_cond_timedwait(&rows_full, &rows_lock,
					      &until) == 0)
			;
		batch = rows;
		rows = NULL;
		pthread_mutex_unlock(&rows_lock);
		if (batch)
			send_json(json_pack("{s:s, s:o}", BROKER_F_TYPE,
					    BROKER_MSG_REQUESTS, BROKER_F_ROWS,
					    batch));
	}
	return NULL;
}

static int judged(json_t *m)
{
	const char *action = NULL, *dst = NULL, *host = "";
	json_int_t id = 0, sb = 0, dport = 0;
	struct judgement j = { 0 };
	struct waiter *w;

	if (json_unpack(m, "{s:I, s:s, s:I, s?s, s?I, s?s}", BROKER_F_ID, &id,
			BROKER_F_ACTION, &action, BROKER_F_SANDBOX, &sb,
			BROKER_F_DST, &dst, BROKER_F_DPORT, &dport,
			BROKER_F_HOST, &host) < 0)
		return -1;
	j.action = !strcmp(action, BROKER_ACTION_TERMINATE) ? JA_TERMINATE :
		   !strcmp(action, BROKER_ACTION_RELAY) ? JA_RELAY :
		   !strcmp(action, BROKER_ACTION_WHO) ? JA_WHO : JA_DENY;
	j.sandbox = (uint32_t)sb;
	j.dport = (uint16_t)dport;
	snprintf(j.host, sizeof(j.host), "%s", host);
	if (j.action == JA_RELAY || j.action == JA_TERMINATE) {
		if (!dst)
			return -1;
		j.family = strchr(dst, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(j.family, dst, j.dst) != 1)
			return -1;
	}
	pthread_mutex_lock(&lock);
	for (w = waiting; w; w = w->next)
		if (w->id == (uint64_t)id) {
			*w->out = j;
			w->done = true;
		}
	pthread_cond_broadcast(&answered);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The change is in force: the daemon's command may answer. */
static void taken(json_t *m)
{
	json_int_t seq = 0;

	json_unpack(m, "{s?I}", BROKER_F_SEQ, &seq);
	send_json(json_pack("{s:s, s:I}", BROKER_F_TYPE, BROKER_MSG_TAKEN,
			    BROKER_F_SEQ, seq));
}

/* A sandbox's new rules are read (regexes, its CA's key) by a thread of
 * their own, in order: the flows of a sandbox wait from the moment its
 * message arrives (flows_changing), and the daemon hears so at once,
 * whatever earlier change is still being read. */
#define CHANGES_MAX 256

static pthread_mutex_t changes_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changes_cond = PTHREAD_COND_INITIALIZER;
static json_t *changes[CHANGES_MAX];
static size_t changes_head, nchanges;

static void change_queue(json_t *m)
{
	pthread_mutex_lock(&changes_lock);
	while (nchanges == CHANGES_MAX)
		pthread_cond_wait(&changes_cond, &changes_lock);
	changes[(changes_head + nchanges++) % CHANGES_MAX] = json_incref(m);
	pthread_cond_broadcast(&changes_cond);
	pthread_mutex_unlock(&changes_lock);
}

static json_t *change_next(void)
{
	json_t *m;

	pthread_mutex_lock(&changes_lock);
	while (!nchanges)
		pthread_cond_wait(&changes_cond, &changes_lock);
	m = changes[changes_head];
	changes_head = (changes_head + 1) % CHANGES_MAX;
	nchanges--;
	pthread_cond_broadcast(&changes_cond);
	pthread_mutex_unlock(&changes_lock);
	return m;
}

static void sandbox_put(json_t *m)
{
	const char *name = "", *ca = "", *key = "";
	json_int_t id = 0;
	json_t *policy = NULL;
	char err[256];
	char *text;

	json_unpack(m, "{s:I, s:s, s:s, s:s, s:o}", BROKER_F_ID, &id,
		    BROKER_F_NAME, &name, BROKER_F_CA, &ca, BROKER_F_KEY, &key,
		    BROKER_F_POLICY, &policy);
	text = json_dumps(policy, JSON_COMPACT);
	if (config_sandbox_put((uint32_t)id, name, ca, key, text, err,
			       sizeof(err)) < 0) {
		/* never the rules it had: its flows end */
		log_warnx("broker: sandbox %s: %s", name, err);
		config_sandbox_drop((uint32_t)id);
	}
	if (text)
		wipe_free(text, strlen(text));
	hooks.changed((uint32_t)id);
}

void *ipc_changes_thread(void *arg)
{
	(void)arg;
	for (;;) {
		json_t *m = change_next();
		json_int_t id = 0;

		if (!strcmp(json_string_value(json_object_get(m,
							       BROKER_F_TYPE)),
			    BROKER_MSG_SANDBOX))
			sandbox_put(m);
		else {
			json_unpack(m, "{s:I}", BROKER_F_ID, &id);
			config_sandbox_drop((uint32_t)id);
			hooks.changed((uint32_t)id);
		}
		json_decref(m);
	}
	return NULL;
}

static int sandbox_msg(json_t *m)
{
	const char *name, *ca, *key;
	json_int_t id;
	json_t *policy;

	if (json_unpack(m, "{s:I, s:s, s:s, s:s, s:o}", BROKER_F_ID, &id,
			BROKER_F_NAME, &name, BROKER_F_CA, &ca, BROKER_F_KEY,
			&key, BROKER_F_POLICY, &policy) < 0)
		return -1;
	hooks.changing((uint32_t)id);
	taken(m);
	change_queue(m);
	return 0;
}

static int sandbox_gone_msg(json_t *m)
{
	json_int_t id;
	int destroyed = 0;

	if (json_unpack(m, "{s:I, s?b}", BROKER_F_ID, &id, BROKER_F_DESTROYED,
			&destroyed) < 0)
		return -1;
	hooks.changing((uint32_t)id);
	/* now, before the daemon forgets how the flows are mapped */
	if (destroyed)
		hooks.cut((uint32_t)id);
	taken(m);
	change_queue(m);
	return 0;
}

static int config_msg(json_t *m)
{
	const char *trust;
	json_int_t days;

	if (json_unpack(m, "{s:s, s:I}", BROKER_F_TRUST, &trust,
			BROKER_F_LEAF_DAYS, &days) < 0 || days < 1)
		return -1;
	config_set_trust(trust, (unsigned)days);
	pthread_mutex_lock(&lock);
	configured = true;
	pthread_cond_broadcast(&answered);
	pthread_mutex_unlock(&lock);
	return 0;
}

static int dispatch(json_t *m)
{
	const char *t = json_string_value(json_object_get(m, BROKER_F_TYPE));

	if (!t)
		return -1;
	if (!strcmp(t, BROKER_MSG_JUDGED))
		return judged(m);
	if (!strcmp(t, BROKER_MSG_SANDBOX))
		return sandbox_msg(m);
	if (!strcmp(t, BROKER_MSG_SANDBOX_GONE))
		return sandbox_gone_msg(m);
	if (!strcmp(t, BROKER_MSG_CONFIG))
		return config_msg(m);
	return -1;
}

void ipc_wait_config(void)
{
	pthread_mutex_lock(&lock);
	while (!configured)
		pthread_cond_wait(&answered, &lock);
	pthread_mutex_unlock(&lock);
}

void *ipc_thread(void *arg)
{
	/* messages carry CA keys and header values: pages of their own */
	char *buf = secret_alloc(BROKER_MSG_MAX + 1);
	json_error_t je;

	(void)arg;
	for (;;) {
		ssize_t n = recv(BROKER_FD_IPC, buf, BROKER_MSG_MAX, 0);
		json_t *m;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_info("broker: the daemon is gone: stopping");
			_exit(0);
		}
		m = json_loadb(buf, (size_t)n, 0, &je);
		explicit_bzero(buf, (size_t)n);
		if (!m || dispatch(m) < 0)
			fatalx("broker: unreadable message from the daemon");
		json_decref(m);
	}
	return NULL;
}
