/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conns.h"
#include "quic.h"
#include "xalloc.h"

#define BUCKETS 65536

struct conn {
	struct conn *hnext;		/* hash chain */
	struct conn *prev, *next;	/* oldest first */
	struct flow_key key;
	char *sni;
	struct quic_conn *quic;
};

static struct conn **buckets, *oldest, *newest;
static size_t count, max_conns, bytes;

void conns_init(size_t max)
{
	buckets = xcalloc(BUCKETS, sizeof(*buckets));
	max_conns = max;
}

static uint32_t hash(const struct flow_key *k)
{
	return flow_key_hash(k) % BUCKETS;
}

static void forget(struct conn *c)
{
	struct conn **pp = &buckets[hash(&c->key)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		oldest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		newest = c->prev;
	bytes -= sizeof(*c) + strlen(c->sni) + 1 + quic_conn_bytes(c->quic);
	quic_conn_free(c->quic);
	free(c->sni);
	free(c);
	count--;
}

void conns_fini(void)
{
	while (oldest)
		forget(oldest);
	free(buckets);
	buckets = NULL;
}

static struct conn *find(const struct flow_key *k)
{
	for (struct conn *c = buckets[hash(k)]; c; c = c->hnext)
		if (!memcmp(&c->key, k, sizeof(*k)))
			return c;
	return NULL;
}

void conns_add(const struct flow_key *k, const char *sni, size_t len)
{
	struct conn *c;
	uint32_t h = hash(k);

	/* the same ends again: a new flow, its own name */
	if ((c = find(k))) {
		bytes -= strlen(c->sni);
		free(c->sni);
		c->sni = xstrndup(sni, len);
		bytes += strlen(c->sni);
		bytes -= quic_conn_bytes(c->quic);
		quic_conn_free(c->quic);
		c->quic = NULL;
		return;
	}
	while (oldest && (count == max_conns ||
			  bytes + sizeof(*c) + len + 1 > CONNS_BYTES_MAX))
		forget(oldest);
	c = xcalloc(1, sizeof(*c));
	c->key = *k;
	c->sni = xstrndup(sni, len);
	bytes += sizeof(*c) + strlen(c->sni) + 1;
	c->hnext = buckets[h];
	buckets[h] = c;
	c->prev = newest;
	if (newest)
		newest->next = c;
	else
		oldest = c;
	newest = c;
	count++;
}

size_t conns_count(void)
{
	return count;
}

size_t conns_bytes(void)
{
	return bytes;
}

void conns_forget(const struct flow_key *k)
{
	struct conn *c = find(k);

	if (c)
		forget(c);
}

const char *conns_sni(const struct flow_key *k)
{
	struct conn *c = find(k);

	return c ? c->sni : NULL;
}

void conns_set_quic(const struct flow_key *k, struct quic_conn *q)
{
	struct conn *c = find(k);

	if (!c) {
		quic_conn_free(q);
		return;
	}
	bytes -= quic_conn_bytes(c->quic);
	quic_conn_free(c->quic);
	c->quic = q;
	bytes += quic_conn_bytes(q);
	while (bytes > CONNS_BYTES_MAX && oldest && oldest != c)
		forget(oldest);
}

const struct quic_conn *conns_quic(const struct flow_key *k)
{
	struct conn *c = find(k);

	return c ? c->quic : NULL;
}

/* A record of the file: the key as it is in memory (written and read by
 * the same build), the name's length, the name. */
int conns_save(const char *path)
{
	char tmp[4096];
	FILE *f;

	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		       0600)) < 0)
		return -errno;
	if (!(f = fdopen(fd, "wb"))) {
		close(fd);
		return -errno;
	}
	for (struct conn *c = oldest; c; c = c->next) {
		uint8_t n = (uint8_t)strnlen(c->sni, 255);

		fwrite(&c->key, sizeof(c->key), 1, f);
		fwrite(&n, 1, 1, f);
		fwrite(c->sni, 1, n, f);
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return -errno;
	}
	return 0;
}

int conns_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct flow_key k;
	char sni[256];
	uint8_t n;
	int loaded = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fread(&k, sizeof(k), 1, f) == 1 && fread(&n, 1, 1, f) == 1 &&
	       fread(sni, 1, n, f) == n) {
		conns_add(&k, sni, n);
		loaded++;
	}
	fclose(f);
	unlink(path);	/* read once: a later start must not trust it */
	return loaded;
}
