/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-flow state while a flow waits for its verdict, until the server
 * has acknowledged the bytes it was judged on, and a short memory of the
 * verdict afterwards for packets queued before the ct mark was set. */
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "xalloc.h"

#define BUCKETS 16384

static struct flow **buckets;
static struct flow *oldest, *newest;
static size_t nflows, nundecided, max_flows, nheld, mem;

/* Flows per sandbox: open addressing on the id, twice the table's size
 * (every flow's sandbox fits), removal by backward shift. */
#define PER_SB_SLOTS 8192
static struct { uint32_t id, n; } per_sb[PER_SB_SLOTS];

static size_t per_sb_slot(uint32_t id)
{
	size_t i = (id * 2654435761u) % PER_SB_SLOTS;

	while (per_sb[i].n && per_sb[i].id != id)
		i = (i + 1) % PER_SB_SLOTS;
	return i;
}

static void per_sb_add(uint32_t id, int d)
{
	size_t i = per_sb_slot(id), j = i, k;

	per_sb[i].id = id;
	per_sb[i].n = (uint32_t)((int)per_sb[i].n + d);
	if (per_sb[i].n)
		return;
	/* emptied: later entries of the run move up where they belong */
	for (;;) {
		j = (j + 1) % PER_SB_SLOTS;
		if (!per_sb[j].n)
			return;
		k = (per_sb[j].id * 2654435761u) % PER_SB_SLOTS;
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			per_sb[i] = per_sb[j];
			per_sb[j].n = 0;
			i = j;
		}
	}
}

size_t flow_sandbox_count(uint32_t id)
{
	return per_sb[per_sb_slot(id)].n;
}
static uint64_t hold_timeout;

void flow_init(size_t max, uint64_t hold_timeout_ns)
{
	buckets = xcalloc(BUCKETS, sizeof(*buckets));
	max_flows = max;
	hold_timeout = hold_timeout_ns;
}

void flow_fini(void)
{
	while (oldest)
		flow_destroy(oldest);
	free(buckets);
	buckets = NULL;
}

uint32_t flow_key_hash(const struct flow_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;	/* FNV-1a */

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static uint32_t key_hash(const struct flow_key *k)
{
	return flow_key_hash(k) % BUCKETS;
}

void flow_key_of(const struct pkt *p, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)p->family;
	k->proto = p->proto;
	k->sport = p->sport;
	k->dport = p->dport;
	memcpy(k->src, p->src, 16);
	memcpy(k->dst, p->dst, 16);
}

void flow_key_reverse(const struct flow_key *k, struct flow_key *out)
{
	*out = *k;
	memcpy(out->src, k->dst, 16);
	memcpy(out->dst, k->src, 16);
	out->sport = k->dport;
	out->dport = k->sport;
}

struct flow *flow_lookup(const struct flow_key *k)
{
	for (struct flow *f = buckets[key_hash(k)]; f; f = f->hnext)
		if (!memcmp(&f->key, k, sizeof(*k)))
			return f;
	return NULL;
}

static void list_unlink(struct flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		oldest = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		newest = f->prev;
	f->prev = f->next = NULL;
}

static void list_append(struct flow *f)
{
	f->prev = newest;
	f->next = NULL;
	if (newest)
		newest->next = f;
	else
		oldest = f;
	newest = f;
}

/* What a flow holds: itself, its reassembly, its early copies. */
static void account(struct flow *f)
{
	size_t now = sizeof(*f) + (f->r.buf ? f->r.cap + (f->r.cap + 7) / 8 :
				    0) + f->early_bytes +
		     (f->qi ? quic_initial_bytes(f->qi) : 0);

	mem = mem - f->mem + now;
	f->mem = now;
}

struct flow *flow_create(const struct flow_key *k, uint32_t sandbox,
			 uint64_t now_ns)
{
	struct flow *f;
	uint32_t h = key_hash(k);

	if (nflows >= max_flows)
		return NULL;	/* the caller evicts and retries */
	f = xcalloc(1, sizeof(*f));
	f->key = *k;
	f->sandbox = sandbox;
	f->deadline_ns = now_ns + hold_timeout;
	f->last_ns = now_ns;
	f->hnext = buckets[h];
	buckets[h] = f;
	list_append(f);
	nflows++;
	nundecided++;
	per_sb_add(sandbox, 1);
	account(f);
	return f;
}

void flow_touch(struct flow *f, uint64_t now_ns)
{
	f->last_ns = now_ns;
	list_unlink(f);
	list_append(f);
}

static void early_free(struct flow *f)
{
	for (size_t i = 0; i < f->nearly; i++)
		free(f->early[i].data);
	free(f->early);
	f->early = NULL;
	f->nearly = f->early_bytes = 0;
}

void flow_destroy(struct flow *f)
{
	struct flow **pp = &buckets[key_hash(&f->key)];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	list_unlink(f);
	reasm_fini(&f->r);
	quic_initial_free(f->qi);
	early_free(f);
	nheld -= f->nheld;
	nflows--;
	if (!flow_is_decided(f)) {
		per_sb_add(f->sandbox, -1);
		nundecided--;
	}
	mem -= f->mem;
	free(f);
}

struct flow *flow_oldest(void)
{
	return oldest;
}

size_t flow_undecided(void)
{
	return nundecided;
}

size_t flow_count(void)
{
	return nflows;
}

size_t flow_held_count(void)
{
	return nheld;
}

size_t flow_bytes(void)
{
	return mem;
}

bool flow_hold(struct flow *f, const struct held *h)
{
	if (f->nheld == FLOW_HELD_MAX)
		return false;
	f->held[f->nheld++] = *h;
	nheld++;
	if (f->qi)
		account(f);	/* a datagram's Initials grew its state */
	return true;
}

enum reasm_state flow_feed(struct flow *f, uint32_t seq, const uint8_t *data,
			   size_t len, uint64_t now_ns)
{
	enum reasm_state st;
	struct early *e;

	if (f->have_base) {
		st = reasm_add(&f->r, seq, data, len, now_ns, fb_judge, &f->fb);
		account(f);
		return st;
	}
	/* before the first byte is known: keep a copy, within the bound */
	if (f->early_bytes + len > REASM_LIMIT_DEFAULT)
		return REASM_GIVE_UP;
	f->early = xreallocarray(f->early, f->nearly + 1, sizeof(*f->early));
	e = &f->early[f->nearly++];
	e->seq = seq;
	e->len = len;
	e->data = xmalloc(len ? len : 1);
	memcpy(e->data, data, len);
	f->early_bytes += len;
	account(f);
	return REASM_NEED_MORE;
}

enum reasm_state flow_set_base(struct flow *f, uint32_t base, uint64_t now_ns)
{
	enum reasm_state st = REASM_NEED_MORE;

	f->have_base = true;
	f->base = base;
	reasm_init(&f->r, base, REASM_LIMIT_DEFAULT, now_ns,
		   f->deadline_ns > now_ns ? f->deadline_ns - now_ns : 0);
	for (size_t i = 0; i < f->nearly && st == REASM_NEED_MORE; i++)
		st = reasm_add(&f->r, f->early[i].seq, f->early[i].data,
			       f->early[i].len, now_ns, fb_judge, &f->fb);
	early_free(f);
	account(f);
	return st;
}

/* A packet's end, counted from the stream's first byte. */
static uint32_t held_end(const struct flow *f, const struct held *h)
{
	return h->seq + h->len - f->base;
}

static int held_cmp(const void *a, const void *b, void *base)
{
	uint32_t x = ((const struct held *)a)->seq - *(uint32_t *)base;
	uint32_t y = ((const struct held *)b)->seq - *(uint32_t *)base;

	return x < y ? -1 : x > y;
}

size_t flow_take_held(struct flow *f, size_t upto, struct held *out,
		      bool *straddle)
{
	size_t n = 0, kept = 0;

	qsort_r(f->held, f->nheld, sizeof(f->held[0]), held_cmp, &f->base);
	*straddle = false;
	for (size_t i = 0; i < f->nheld; i++) {
		const struct held *h = &f->held[i];

		if (held_end(f, h) <= upto) {
			out[n++] = *h;
			continue;
		}
		if ((uint32_t)(h->seq - f->base) < upto)
			*straddle = true;
		f->held[kept++] = *h;
	}
	f->nheld = kept;
	nheld -= n;
	return n;
}

size_t flow_take_all(struct flow *f, struct held *out)
{
	size_t n = f->nheld;

	qsort_r(f->held, n, sizeof(f->held[0]), held_cmp, &f->base);
	memcpy(out, f->held, n * sizeof(*out));
	nheld -= n;
	f->nheld = 0;
	return n;
}

static bool final(enum flow_phase p)
{
	return p == PH_ALLOWED || p == PH_DENIED;
}

bool flow_is_decided(const struct flow *f)
{
	return final(f->phase);
}

void flow_decided(struct flow *f, enum flow_phase phase)
{
	if (!final(f->phase) && final(phase)) {
		per_sb_add(f->sandbox, -1);	/* no longer its share */
		nundecided--;
	} else if (final(f->phase) && !final(phase)) {
		per_sb_add(f->sandbox, 1);
		nundecided++;
	}
	f->phase = phase;
	f->waiting = false;
	if (phase != PH_JUDGED) {
		reasm_fini(&f->r);
		f->judged = 0;
	}
	quic_initial_free(f->qi);
	f->qi = NULL;
	early_free(f);
	account(f);
}

enum flow_match flow_match_judged(const struct flow *f, uint32_t seq,
				  const uint8_t *data, size_t len)
{
	uint32_t off = seq - f->base;

	if ((int32_t)off < 0) {		/* from before the first byte */
		uint32_t skip = -off;

		if (skip >= len)
			return FM_WITHIN;
		data += skip;
		len -= skip;
		off = 0;
	}
	if (off >= f->judged)
		return FM_BEYOND;
	size_t n = f->judged - off < len ? f->judged - off : len;

	if (memcmp(f->r.buf + off, data, n))
		return FM_CONFLICT;
	return n == len ? FM_WITHIN : FM_BEYOND;
}

/* How far from its first byte a segment of the same connection may lie:
 * far more than the hold ever covers, far less than a random ISN's odds. */
#define SEQ_NEAR (16u << 20)

bool flow_seq_near(const struct flow *f, uint32_t seq)
{
	uint32_t off = seq - f->base;

	return off < SEQ_NEAR || -off <= 65536u;
}
