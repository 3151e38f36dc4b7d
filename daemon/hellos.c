/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "hellos.h"
#include "reasm.h"
#include "xalloc.h"

#define PENDING 32
#define TCP_HELLO_NS (3ull * 1000000000)	/* as long as a verdict waits */
#define TLS_HANDSHAKE 0x16
#define TLS_CLIENT_HELLO 0x01

static struct pending {
	struct flow_key k;
	struct quic_initial *qi;	/* QUIC: its Initials */
	struct reasm *ra;		/* TCP: from the hello's first byte */
	unsigned age;
} pending[PENDING];
static unsigned ages;

static bool used(const struct pending *e)
{
	return e->qi || e->ra;
}

static void done(struct pending *e)
{
	quic_initial_free(e->qi);
	e->qi = NULL;
	if (e->ra) {
		reasm_fini(e->ra);
		free(e->ra);
		e->ra = NULL;
	}
}

static struct pending *find(const struct flow_key *k)
{
	for (size_t i = 0; i < PENDING; i++)
		if (used(&pending[i]) && !memcmp(&pending[i].k, k, sizeof(*k)))
			return &pending[i];
	return NULL;
}

/* A free place, else the oldest's. */
static struct pending *take(const struct flow_key *k)
{
	struct pending *e = &pending[0];

	for (size_t i = 0; i < PENDING && used(e); i++)
		if (!used(&pending[i]) || pending[i].age < e->age)
			e = &pending[i];
	done(e);
	e->k = *k;
	e->age = ++ages;
	return e;
}

/* Enough once the server_name is whole, or the hello without one. */
static enum reasm_state judge(const uint8_t *buf, size_t len, void *arg)
{
	struct client_hello *ch = arg;

	if (ch_peek_sni(buf, len, ch) == CH_NEED_MORE && !ch->has_sni)
		return REASM_NEED_MORE;
	return REASM_COMPLETE;
}

/* What the kernel's rule looks for: a handshake record, client_hello. */
static bool starts_hello(const struct pkt *p)
{
	return p->payload_len > 5 && p->payload[0] == TLS_HANDSHAKE &&
	       p->payload[5] == TLS_CLIENT_HELLO;
}

enum hello_step hellos_tcp(const struct flow_key *k, const struct pkt *p,
			   uint64_t now_ns, struct client_hello *ch)
{
	struct pending *e = find(k);
	enum reasm_state st;

	memset(ch, 0, sizeof(*ch));
	/* a hello starting past the one gathered: another connection's */
	if (e && e->ra && starts_hello(p) &&
	    p->seq - e->ra->base >= e->ra->limit) {
		done(e);
		e = NULL;
	}
	if (!e) {
		if (!starts_hello(p))	/* after a hello named at once */
			return HELLO_NONE;
		if (judge(p->payload, p->payload_len, ch) == REASM_COMPLETE)
			return ch->has_sni ? HELLO_NAMED : HELLO_NONE;
		e = take(k);
		e->ra = xmalloc(sizeof(*e->ra));
		reasm_init(e->ra, p->seq, REASM_LIMIT_DEFAULT, now_ns,
			   TCP_HELLO_NS);
	}
	st = reasm_add(e->ra, p->seq, p->payload, p->payload_len, now_ns,
		       judge, ch);
	if (st == REASM_NEED_MORE)
		return HELLO_MORE;
	done(e);
	return st == REASM_COMPLETE && ch->has_sni ? HELLO_NAMED : HELLO_NONE;
}

enum hello_step hellos_quic(const struct flow_key *k, const struct pkt *p,
			    struct client_hello *ch, struct quic_conn **conn)
{
	enum hello_step step = HELLO_NONE;
	struct pending *e;

	memset(ch, 0, sizeof(*ch));
	*conn = NULL;
	if (!quic_is_initial(p->payload, p->payload_len))
		return HELLO_NONE;
	if (!(e = find(k))) {
		e = take(k);
		e->qi = quic_initial_new();
	}
	switch (quic_initial_add(e->qi, p->payload, p->payload_len, ch)) {
	case QUIC_NEED_MORE:
		return HELLO_MORE;
	case QUIC_OK:
		if (ch->has_sni) {
			*conn = quic_conn_new(e->qi);
			step = HELLO_NAMED;
		}
		break;
	default:
		break;
	}
	done(e);
	return step;
}

void hellos_forget(const struct flow_key *k)
{
	struct pending *e = find(k);

	if (e)
		done(e);
}

size_t hellos_count(void)
{
	size_t n = 0;

	for (size_t i = 0; i < PENDING; i++)
		n += used(&pending[i]);
	return n;
}

void hellos_fini(void)
{
	for (size_t i = 0; i < PENDING; i++)
		done(&pending[i]);
}
