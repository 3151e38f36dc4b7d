/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Idle TLS connections to real servers, kept for the next flow of the
 * same sandbox to the same name and address (as nginx's upstream
 * keepalive does): a new sandbox connection then costs one handshake,
 * not two. A connection goes back only between responses, with nothing
 * pending either way; one the server closed or wrote on meanwhile is
 * dropped when taken. */
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

#define POOL_MAX 64
#define IDLE_S 4	/* under the servers' usual keep-alive timeouts */

struct idle {
	bool used;
	uint32_t sandbox;
	int family;
	uint8_t dst[16];
	char host[DOMAIN_MAX + 1];
	WOLFSSL *ssl;
	int fd;
	time_t since;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct idle pool[POOL_MAX];

static void drop(struct idle *e)
{
	wolfSSL_free(e->ssl);
	close(e->fd);
	e->used = false;
}

static bool same(const struct idle *e, const struct judgement *j)
{
	return e->used && e->sandbox == j->sandbox && e->family == j->family &&
	       !memcmp(e->dst, j->dst, 16) && !strcmp(e->host, j->host);
}

/* Still open and silent: nothing to read, no EOF. */
static bool quiet(const struct idle *e)
{
	struct pollfd p = { .fd = e->fd, .events = POLLIN };

	return poll(&p, 1, 0) == 0 && !wolfSSL_has_pending(e->ssl);
}

bool pool_take(const struct judgement *j, WOLFSSL **ssl, int *fd)
{
	time_t now = time(NULL);
	bool found = false;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < POOL_MAX && !found; i++) {
		struct idle *e = &pool[i];

		if (!e->used)
			continue;
		if (now - e->since > IDLE_S || !quiet(e)) {
			drop(e);
			continue;
		}
		if (!same(e, j))
			continue;
		*ssl = e->ssl;
		*fd = e->fd;
		e->used = false;
		found = true;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void pool_put(const struct judgement *j, WOLFSSL *ssl, int fd)
{
	struct idle *slot = NULL, *oldest = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < POOL_MAX && !slot; i++) {
		if (!pool[i].used)
			slot = &pool[i];
		else if (!oldest || pool[i].since < oldest->since)
			oldest = &pool[i];
	}
	if (!slot) {
		drop(oldest);
		slot = oldest;
	}
	*slot = (struct idle){ .used = true, .sandbox = j->sandbox,
			       .family = j->family, .ssl = ssl, .fd = fd,
			       .since = time(NULL) };
	memcpy(slot->dst, j->dst, 16);
	snprintf(slot->host, sizeof(slot->host), "%s", j->host);
	pthread_mutex_unlock(&lock);
}

void pool_forget(uint32_t sandbox)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < POOL_MAX; i++)
		if (pool[i].used && pool[i].sandbox == sandbox)
			drop(&pool[i]);
	pthread_mutex_unlock(&lock);
}
