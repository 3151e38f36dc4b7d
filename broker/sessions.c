/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TLS sessions with the real servers, per sandbox and name, so that a
 * new connection (a server ending its keep-alive, a new flow) resumes
 * instead of a full handshake: no key exchange in TLS 1.2, no signature
 * to check in either version. The newest resumable session is kept. A
 * sandbox's rules changing, or its end, forgets its sessions. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "broker.h"

#define SESSIONS_MAX 256

struct saved {
	uint32_t sandbox;
	char host[DOMAIN_MAX + 1];
	WOLFSSL_SESSION *s;
	time_t at;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct saved saved[SESSIONS_MAX];

static struct saved *find(const struct judgement *j)
{
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (saved[i].s && saved[i].sandbox == j->sandbox &&
		    !strcmp(saved[i].host, j->host))
			return &saved[i];
	return NULL;
}

void session_offer(const struct judgement *j, WOLFSSL *ssl)
{
	struct saved *e;

	pthread_mutex_lock(&lock);
	if ((e = find(j)))
		wolfSSL_set_session(ssl, e->s);	/* a copy */
	pthread_mutex_unlock(&lock);
}

void session_save(const struct judgement *j, WOLFSSL *ssl)
{
	WOLFSSL_SESSION *s = wolfSSL_get1_session(ssl);
	struct saved *e, *oldest = &saved[0];

	if (!s || !wolfSSL_SESSION_is_resumable(s)) {
		wolfSSL_SESSION_free(s);
		return;
	}
	pthread_mutex_lock(&lock);
	if (!(e = find(j)))
		for (size_t i = 0; i < SESSIONS_MAX && !e; i++) {
			if (!saved[i].s)
				e = &saved[i];
			else if (saved[i].at < oldest->at)
				oldest = &saved[i];
		}
	if (!e)
		e = oldest;
	wolfSSL_SESSION_free(e->s);
	*e = (struct saved){ .sandbox = j->sandbox, .s = s, .at = time(NULL) };
	snprintf(e->host, sizeof(e->host), "%s", j->host);
	pthread_mutex_unlock(&lock);
}

void session_forget(uint32_t sandbox)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (saved[i].s && saved[i].sandbox == sandbox) {
			wolfSSL_SESSION_free(saved[i].s);
			saved[i].s = NULL;
		}
	pthread_mutex_unlock(&lock);
}
