/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "audit_query.h"
#include "store.h"
#include "worker.h"

#define WAITING_MAX 16

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct audit_counts asked[WAITING_MAX], answered[WAITING_MAX];
static size_t nasked, nanswered;
static bool stopping, started;
static int efd = -1;
static struct store ro;

static void count_row(const char *sandbox, const char *verdict,
		      const char *reason, int64_t n, void *arg)
{
	json_t *sbs = arg, *o = json_object_get(sbs, sandbox), *v;

	if (!o) {
		o = json_pack("{s:I, s:I, s:{}}", "allow", (json_int_t)0,
			      "deny", (json_int_t)0, "reasons");
		json_object_set_new(sbs, sandbox, o);
	}
	v = json_object_get(o, verdict);
	json_object_set_new(o, verdict, json_integer(json_integer_value(v) +
						     (json_int_t)n));
	json_object_set_new(json_object_get(o, "reasons"), reason,
			    json_integer((json_int_t)n));
}

static void answer(struct audit_counts *q)
{
	const char *name = q->sandbox[0] ? q->sandbox : NULL;

	q->flows = json_object();
	q->dns = json_object();
	if (store_audit_counts(&ro, false, name, count_row, q->flows, q->err,
			       sizeof(q->err)) < 0 ||
	    store_audit_counts(&ro, true, name, count_row, q->dns, q->err,
			       sizeof(q->err)) < 0) {
		json_decref(q->flows);
		json_decref(q->dns);
		q->flows = q->dns = NULL;
	}
}

static void *run(void *arg)
{
	struct audit_counts q;
	uint64_t one = 1;

	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!nasked && !stopping)
			pthread_cond_wait(&wake, &lock);
		if (stopping)
			break;
		q = asked[0];
		memmove(asked, asked + 1, --nasked * sizeof(asked[0]));
		pthread_mutex_unlock(&lock);
		answer(&q);
		pthread_mutex_lock(&lock);
		answered[nanswered++] = q;	/* room: asked + answered
						 * never pass WAITING_MAX */
		if (write(efd, &one, sizeof(one)) < 0)
			continue;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int audit_query_start(const char *database, char *err, size_t errlen)
{
	if (sqlite3_open_v2(database, &ro.db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", database,
			 sqlite3_errmsg(ro.db));
		sqlite3_close(ro.db);
		return -1;
	}
	sqlite3_busy_timeout(ro.db, 2000);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0 || pthread_create(&thread, NULL, run, NULL)) {
		snprintf(err, errlen, "audit query thread: %m");
		return -1;
	}
	started = true;
	return efd;
}

bool audit_query_ask(uint64_t tag, const char *sandbox)
{
	bool ok;

	pthread_mutex_lock(&lock);
	ok = nasked + nanswered < WAITING_MAX;
	if (ok) {
		memset(&asked[nasked], 0, sizeof(asked[0]));
		asked[nasked].tag = tag;
		snprintf(asked[nasked].sandbox, sizeof(asked[0].sandbox), "%s",
			 sandbox ? sandbox : "");
		nasked++;
		pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

bool audit_query_take(struct audit_counts *out)
{
	uint64_t n;
	bool got;

	if (read(efd, &n, sizeof(n)) < 0) {
		/* nothing signalled: answers may wait all the same */
	}
	pthread_mutex_lock(&lock);
	got = nanswered > 0;
	if (got) {
		*out = answered[0];
		memmove(answered, answered + 1,
			--nanswered * sizeof(answered[0]));
	}
	pthread_mutex_unlock(&lock);
	return got;
}

void audit_query_stop(void)
{
	if (!started)
		return;
	worker_stop(&lock, &wake, &stopping, thread);
	for (size_t i = 0; i < nanswered; i++) {
		json_decref(answered[i].flows);
		json_decref(answered[i].dns);
	}
	close(efd);
	sqlite3_close(ro.db);
	started = false;
}
