/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The table's sets and their elements: what each set is (set_defs),
 * the elements a sandbox puts in them (its interfaces, sources, ranges
 * and mode) and the difference a change of it makes, the elements every
 * table holds from the start, and the timed ones (injection addresses, the
 * daemon's "alive"); the sets emptied when the daemon closes. */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libnftnl/set.h>

#include "nft_int.h"
#include "xalloc.h"

#define FIRST_TIMEOUT_MS 10000	/* SYN-ACK to ClientHello, generously */
#define FIRST_SIZE 131072	/* ~13,000 new TCP flows/s sustained */

/* nft's datatype numbers, so that `nft list ruleset' can show the sets;
 * a concatenation puts the first field's type in the highest bits */
enum { T_IPV4 = 7, T_IPV6 = 8, T_PROTO = 12, T_SERVICE = 13, T_MARK = 19,
       T_IFNAME = 41 };
/* nft shows a concatenation only of fixed-size types: header fields as
 * 8-bit protocol and 16-bit service numbers, a sequence number as a mark */
#define CAT2(a, b) ((a) << 6 | (b))
#define CAT3(a, b, c) (CAT2(a, b) << 6 | (c))
#define CAT5(a, b, c, d, e) (CAT3(a, b, c) << 12 | CAT2(d, e))

const struct set_def set_defs[] = {
	{ "sb_iif", SK_INTERVAL, 16, 4, { 0 }, T_IFNAME },
	{ "sb_src4", SK_INTERVAL, 4, 4, { 0 }, T_IPV4 },
	{ "sb_src6", SK_INTERVAL, 16, 4, { 0 }, T_IPV6 },
	{ "deny4", SK_CONCAT_INTERVAL, 8, 0, { 4, 4 }, CAT2(T_MARK, T_IPV4) },
	{ "deny6", SK_CONCAT_INTERVAL, 20, 0, { 4, 16 }, CAT2(T_MARK, T_IPV6) },
	{ "allow4", SK_CONCAT_INTERVAL, 8, 0, { 4, 4 }, CAT2(T_MARK, T_IPV4) },
	{ "allow6", SK_CONCAT_INTERVAL, 20, 0, { 4, 16 }, CAT2(T_MARK, T_IPV6) },
	{ "mode_deny", SK_HASH, 4, 0, { 0 }, T_MARK },
	{ "mode_allow", SK_HASH, 4, 0, { 0 }, T_MARK },
	{ "mode_open", SK_HASH, 4, 0, { 0 }, T_MARK },
	{ "nopayload4", SK_HASH, 12, 0, { 0 },
	  CAT3(T_PROTO, T_PROTO, T_SERVICE) },
	{ "nopayload6", SK_HASH, 8, 0, { 0 }, CAT2(T_PROTO, T_SERVICE) },
	{ "first4", SK_DYNAMIC, 20, 0, { 0 },
	  CAT5(T_IPV4, T_IPV4, T_SERVICE, T_SERVICE, T_MARK) },
	{ "first6", SK_DYNAMIC, 44, 0, { 0 },
	  CAT5(T_IPV6, T_IPV6, T_SERVICE, T_SERVICE, T_MARK) },
	/* conntrack ids: flows let through unread whose hello began */
	{ "hello", SK_DYNAMIC, 4, 0, { 0 }, T_MARK },
	{ "sb_flows", SK_METER, 4, 0, { 0 }, T_MARK },
	{ "sb_quic", SK_METER, 4, 0, { 0 }, T_MARK },
	/* SYNs that begin an entry again: a meter of their own, which a
	 * host that connects to a sandbox can use up for that only */
	{ "sb_reopen", SK_METER, 4, 0, { 0 }, T_MARK },
	/* sandbox . an address of an injection domain, until its TTL */
	{ "inject4", SK_TIMED, 8, 0, { 0 }, CAT2(T_MARK, T_IPV4) },
	{ "inject6", SK_TIMED, 20, 0, { 0 }, CAT2(T_MARK, T_IPV6) },
	/* one element while a daemon lives (nft_alive) */
	{ "alive", SK_TIMED, 4, 0, { 0 }, T_MARK },
};
const size_t nset_defs = sizeof(set_defs) / sizeof(set_defs[0]);

static struct nftnl_set *set_new(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	return s;
}

void msg_set(struct batch *bt, const struct set_def *d, uint32_t id)
{
	struct nftnl_set *s = set_new(d->name);
	uint32_t flags = 0;
	struct nlmsghdr *nlh;

	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, d->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, d->key_type);
	if (d->data_len) {
		flags |= NFT_SET_MAP;
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, T_MARK);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, d->data_len);
	}
	switch (d->kind) {
	case SK_HASH:
		break;
	case SK_INTERVAL:
		flags |= NFT_SET_INTERVAL;
		break;
	case SK_CONCAT_INTERVAL:
		flags |= NFT_SET_INTERVAL | NFT_SET_CONCAT;
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, d->fields,
				   (uint32_t)strlen((const char *)d->fields));
		break;
	case SK_DYNAMIC:
		flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
		nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, FIRST_TIMEOUT_MS);
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, FIRST_SIZE);
		break;
	case SK_METER:
		flags |= NFT_SET_EVAL;
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 65536);
		break;
	case SK_TIMED:
		flags |= NFT_SET_TIMEOUT;
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, 65536);
		break;
	}
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nlh = batch_msg(bt, NFT_MSG_NEWSET, NLM_F_CREATE, d->name);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	batch_done_msg(bt);
}

/* ---- elements ---- */

/* Add one to a big-endian number; false when it wraps to zero. */
static bool be_increment(uint8_t *b, size_t len)
{
	while (len--)
		if (++b[len])
			return true;
	return false;
}

/* A set's elements to add or remove, in chunks of ELEMS_PER_MSG: one
 * message each (the elements' nest has a 16-bit length: past about 3,000
 * ranges in one message it overflowed, and the kernel refused it). */
#define ELEMS_PER_MSG 256

/* One element, as bytes: what is added, and compared to tell what a
 * change adds and removes. */
struct erec {
	uint8_t key[32], end[32], data[16];
	uint8_t klen, dlen;
	bool has_end;
	uint32_t flags;
};

static void elems_start(struct elems *es, const char *name)
{
	es->name = name;
	es->r = NULL;
	es->n = es->cap = 0;
}

static void elems_free(struct elems *es)
{
	free(es->r);
	elems_start(es, es->name);
}

static struct nftnl_set_elem *erec_elem(const struct erec *r)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, r->key, r->klen);
	if (r->has_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, r->end, r->klen);
	if (r->dlen)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, r->data, r->dlen);
	if (r->flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, r->flags);
	return e;
}

/* One message per ELEMS_PER_MSG elements; the elements freed. */
static void elems_put(struct batch *bt, struct elems *es, uint16_t type,
		      const char *what)
{
	for (size_t i = 0; i < es->n; i += ELEMS_PER_MSG) {
		struct nftnl_set *s = set_new(es->name);
		struct nlmsghdr *nlh;

		for (size_t j = i; j < es->n && j < i + ELEMS_PER_MSG; j++)
			nftnl_set_elem_add(s, erec_elem(&es->r[j]));
		nlh = batch_msg(bt, type, type == NFT_MSG_NEWSETELEM ?
				NLM_F_CREATE : 0, what);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_done_msg(bt);
		nftnl_set_free(s);
	}
	elems_free(es);
}

/* A zeroed record at the end (compared whole: no stray bytes). */
static struct erec *erec_new(struct elems *es)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 16;
		es->r = xreallocarray(es->r, es->cap, sizeof(*es->r));
	}
	return memset(&es->r[es->n++], 0, sizeof(struct erec));
}

static void elem_add(struct elems *es, const void *key, size_t klen,
		     const void *key_end, const void *data, uint32_t dlen,
		     uint32_t flags)
{
	struct erec *r = erec_new(es);

	memcpy(r->key, key, klen);
	r->klen = (uint8_t)klen;
	if (key_end) {
		memcpy(r->end, key_end, klen);
		r->has_end = true;
	}
	if (data) {
		memcpy(r->data, data, dlen);
		r->dlen = (uint8_t)dlen;
	}
	r->flags = flags;
}

static int erec_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct erec));
}

/* Sorted, each element once. */
static void elems_sort(struct elems *es)
{
	size_t k = 0;

	if (!es->n)
		return;
	qsort(es->r, es->n, sizeof(*es->r), erec_cmp);
	for (size_t i = 0; i < es->n; i++)
		if (!k || erec_cmp(&es->r[k - 1], &es->r[i]))
			es->r[k++] = es->r[i];
	es->n = k;
}

/* What is in a and not in b (both sorted), into out. */
static void elems_minus(const struct elems *a, const struct elems *b,
			struct elems *out)
{
	size_t j = 0;

	for (size_t i = 0; i < a->n; i++) {
		int c = 1;

		while (j < b->n && (c = erec_cmp(&a->r[i], &b->r[j])) > 0)
			j++;
		if (j == b->n || c < 0)
			*erec_new(out) = a->r[i];
	}
}

/* An interval [start, start+span) of an rbtree map, value `data`. */
static void elem_interval(struct elems *es, uint8_t *start, size_t klen,
			  size_t span_bytes, const uint32_t *data)
{
	uint8_t end[16];

	elem_add(es, start, klen, NULL, data, data ? 4 : 0, 0);
	memcpy(end, start, klen);
	if (be_increment(end, span_bytes))
		elem_add(es, end, klen, NULL, NULL, 0,
			 NFT_SET_ELEM_INTERVAL_END);
}

/* An interface name or `prefix*' as an interval of 16-byte names. */
static void elem_iface(struct elems *es, const char *name, uint32_t value)
{
	uint8_t key[16] = { 0 };
	size_t n = strlen(name);
	bool prefix = n && name[n - 1] == '*';

	if (prefix)
		n--;
	memcpy(key, name, n < 16 ? n : 15);
	elem_interval(es, key, 16, prefix ? n : 16, &value);
}

static size_t cidr_len(const struct cidr *c)
{
	return c->family == AF_INET ? 4 : 16;
}

/* The prefix's last address, in place. */
static void cidr_last(const struct cidr *c, uint8_t *out)
{
	size_t len = cidr_len(c);

	memcpy(out, c->addr, len);
	for (size_t bit = c->plen; bit < len * 8; bit++)
		out[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
}

static void elem_source(struct elems *es, const struct cidr *c,
			uint32_t value)
{
	uint8_t start[16], last[16];
	size_t len = cidr_len(c);

	memcpy(start, c->addr, len);
	cidr_last(c, last);
	elem_add(es, start, len, NULL, &value, 4, 0);
	if (be_increment(last, len))
		elem_add(es, last, len, NULL, NULL, 0,
			 NFT_SET_ELEM_INTERVAL_END);
}

static void elem_range(struct elems *es, uint32_t id, const struct cidr *c)
{
	uint8_t key[20], end[20];
	size_t len = cidr_len(c);

	memcpy(key, &id, 4);
	memcpy(key + 4, c->addr, len);
	memcpy(end, &id, 4);
	cidr_last(c, end + 4);
	elem_add(es, key, 4 + len, end, NULL, 0, 0);
}

static int cidr_order(const void *a, const void *b)
{
	const struct cidr *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, sizeof(x->addr));

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return c ? c : x->plen - y->plen;
}

/* A list's ranges without those inside another (an interval set refuses
 * overlaps): sorted by address, the wider first, a prefix is inside
 * another exactly when it starts before the last kept one ends. */
static void elems_ranges(struct elems *es4, struct elems *es6, uint32_t id,
			 const struct cidr *l, size_t n)
{
	struct cidr *s;
	uint8_t last[16];
	size_t kept = n;

	if (!n)
		return;
	s = xreallocarray(NULL, n, sizeof(*s));
	memcpy(s, l, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cidr_order);
	for (size_t i = 0; i < n; i++) {
		if (kept < n && s[kept].family == s[i].family &&
		    memcmp(s[i].addr, last, cidr_len(&s[i])) <= 0)
			continue;
		kept = i;
		cidr_last(&s[i], last);
		elem_range(s[i].family == AF_INET6 ? es6 : es4, id, &s[i]);
	}
	free(s);
}

/* Lists of ranges a change leaves as they were: neither side of the
 * difference needs their elements. */
#define SKIP_ALLOW 1u
#define SKIP_DENY 2u

void elems_sandbox(struct elems es[E_MAX], const struct nft_sandbox *sb,
		   const struct marks *m, unsigned skip)
{
	const struct policy *p = sb->policy;
	uint32_t id = mark_id(m, sb->id);

	for (size_t i = 0; i < sb->nifaces; i++)
		elem_iface(&es[E_IIF], sb->ifaces[i], id);
	for (size_t i = 0; i < sb->nsources; i++)
		elem_source(&es[sb->sources[i].family == AF_INET ? E_SRC4 :
				E_SRC6], &sb->sources[i], id);
	if (!(skip & SKIP_ALLOW))
		elems_ranges(&es[E_ALLOW4], &es[E_ALLOW6], id,
			     p->cidrs[LIST_ALLOW], p->ncidrs[LIST_ALLOW]);
	if (!(skip & SKIP_DENY))
		elems_ranges(&es[E_DENY4], &es[E_DENY6], id,
			     p->cidrs[LIST_DENY], p->ncidrs[LIST_DENY]);
	if (p->mode == MODE_DENY_ALL)
		elem_add(&es[E_MODE_DENY], &id, 4, NULL, NULL, 0, 0);
	if (p->mode == MODE_ALLOW_ALL && p->ndomains[LIST_DENY] == 0)
		elem_add(&es[E_MODE_ALLOW], &id, 4, NULL, NULL, 0, 0);
	/* inbound flows: every allow-all sandbox */
	if (p->mode == MODE_ALLOW_ALL)
		elem_add(&es[E_MODE_OPEN], &id, 4, NULL, NULL, 0, 0);
}

void elems_init(struct elems es[E_MAX])
{
	for (int i = 0; i < E_MAX; i++)
		elems_start(&es[i], set_defs[i].name);
}

void elems_flush(struct batch *bt, struct elems es[E_MAX],
		 uint16_t type)
{
	for (int i = 0; i < E_MAX; i++)
		elems_put(bt, &es[i], type, set_defs[i].name);
}

static bool cidrs_same(const struct cidr *a, size_t na, const struct cidr *b,
		       size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

/* The lists of ranges two states of a sandbox share (SKIP_ bits). */
static unsigned ranges_same(const struct nft_sandbox *a,
			    const struct nft_sandbox *b)
{
	const struct policy *p = a->policy, *q = b->policy;
	unsigned same = 0;

	if (cidrs_same(p->cidrs[LIST_ALLOW], p->ncidrs[LIST_ALLOW],
		       q->cidrs[LIST_ALLOW], q->ncidrs[LIST_ALLOW]))
		same |= SKIP_ALLOW;
	if (cidrs_same(p->cidrs[LIST_DENY], p->ncidrs[LIST_DENY],
		       q->cidrs[LIST_DENY], q->ncidrs[LIST_DENY]))
		same |= SKIP_DENY;
	return same;
}

/* Whether the rest of elems_sandbox's inputs are the same: the match,
 * the mode, and whether it denies domains. */
static bool rest_same(const struct nft_sandbox *a, const struct nft_sandbox *b)
{
	const struct policy *p = a->policy, *q = b->policy;

	if (a->id != b->id || a->nifaces != b->nifaces ||
	    !cidrs_same(a->sources, a->nsources, b->sources, b->nsources) ||
	    p->mode != q->mode ||
	    !p->ndomains[LIST_DENY] != !q->ndomains[LIST_DENY])
		return false;
	for (size_t i = 0; i < a->nifaces; i++)
		if (strcmp(a->ifaces[i], b->ifaces[i]))
			return false;
	return true;
}

int nft_sandboxes_update(const struct nft_sandbox *const *old,
			 const struct nft_sandbox *const *new, size_t n,
			 const struct marks *m, char *err, size_t errlen)
{
	struct elems was[E_MAX], is[E_MAX], gone[E_MAX], added[E_MAX];
	struct batch bt;
	size_t any = 0;

	elems_init(was);
	elems_init(is);
	elems_init(gone);
	elems_init(added);
	for (size_t k = 0; k < n; k++) {
		unsigned skip = old[k] && new[k] ?
					ranges_same(old[k], new[k]) : 0;

		/* a domain's change: the kernel has no part */
		if (skip == (SKIP_ALLOW | SKIP_DENY) &&
		    rest_same(old[k], new[k]))
			continue;
		/* only what differs: a set of 10,000 ranges took the
		 * kernel 80 s to empty and fill again for a one-rule
		 * change */
		if (old[k])
			elems_sandbox(was, old[k], m, skip);
		if (new[k])
			elems_sandbox(is, new[k], m, skip);
	}
	for (int i = 0; i < E_MAX; i++) {
		elems_sort(&was[i]);
		elems_sort(&is[i]);
		elems_minus(&was[i], &is[i], &gone[i]);
		elems_minus(&is[i], &was[i], &added[i]);
		elems_free(&was[i]);
		elems_free(&is[i]);
		any += gone[i].n + added[i].n;
	}
	if (!any) {	/* nothing for the kernel: no transaction */
		for (int i = 0; i < E_MAX; i++) {
			elems_free(&gone[i]);
			elems_free(&added[i]);
		}
		return 0;
	}
	batch_begin(&bt);
	elems_flush(&bt, gone, NFT_MSG_DELSETELEM);
	elems_flush(&bt, added, NFT_MSG_NEWSETELEM);
	return batch_commit(&bt, err, errlen);
}

int nft_sandbox_update(const struct nft_sandbox *old,
		       const struct nft_sandbox *new, const struct marks *m,
		       char *err, size_t errlen)
{
	return nft_sandboxes_update(&old, &new, 1, m, err, errlen);
}

void elems_nopayload(struct batch *bt)
{
	struct elems es[2];

	elems_start(&es[0], "nopayload4");
	elems_start(&es[1], "nopayload6");
	for (uint8_t doff = 5; doff <= 15; doff++) {
		uint8_t k6[8] = { (uint8_t)(doff << 4), 0, 0, 0,
				  0, (uint8_t)(doff * 4), 0, 0 };

		elem_add(&es[1], k6, 8, NULL, NULL, 0, 0);
		for (uint8_t ihl = 5; ihl <= 15; ihl++) {
			unsigned len = (ihl + doff) * 4u;
			uint8_t k4[12] = { ihl, 0, 0, 0,
					   (uint8_t)(doff << 4), 0, 0, 0,
					   (uint8_t)(len >> 8), (uint8_t)len };

			elem_add(&es[0], k4, 12, NULL, NULL, 0, 0);
		}
	}
	for (int i = 0; i < 2; i++)
		elems_put(bt, &es[i], NFT_MSG_NEWSETELEM, "nopayload");
}

/* The rbtree interval maps want an interval end at zero. */
void elems_zero(struct batch *bt)
{
	static const char *const maps[] = { "sb_iif", "sb_src4", "sb_src6" };
	static const uint8_t zero[16];

	for (int i = 0; i < 3; i++) {
		struct elems es;

		elems_start(&es, maps[i]);
		elem_add(&es, zero, i == 1 ? 4 : 16, NULL, NULL, 0,
			 NFT_SET_ELEM_INTERVAL_END);
		elems_put(bt, &es, NFT_MSG_NEWSETELEM, maps[i]);
	}
}

void msg_inject(struct batch *bt, const struct marks *m,
		const struct nft_inject *op)
{
	struct nftnl_set *s = set_new(op->family == AF_INET ? "inject4" :
				      "inject6");
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t id = mark_id(m, op->sandbox);
	uint8_t key[20];
	size_t len = op->family == AF_INET ? 4 : 16;
	struct nlmsghdr *nlh;

	memcpy(key, &id, 4);
	memcpy(key + 4, op->addr, len);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)(4 + len));
	if (op->add)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT,
				       op->timeout_ms);
	nftnl_set_elem_add(s, e);
	nlh = batch_msg(bt, op->add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			op->add ? NLM_F_CREATE : 0, "inject element");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done_msg(bt);
	nftnl_set_free(s);
}

/* The daemon lives for timeout_ms more: the element again (a timeout
 * is only set on adding), the set emptied first in the same batch. */
void msg_alive(struct batch *bt, uint32_t timeout_ms)
{
	struct nftnl_set *s = set_new("alive");
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t key = 0;
	struct nlmsghdr *nlh;

	nlh = batch_msg(bt, NFT_MSG_DELSETELEM, 0, "alive flush");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done_msg(bt);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &key, sizeof(key));
	nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
	nftnl_set_elem_add(s, e);
	nlh = batch_msg(bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "alive");
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	batch_done_msg(bt);
	nftnl_set_free(s);
}

int nft_alive(char *err, size_t errlen)
{
	struct batch bt;

	batch_begin(&bt);
	msg_alive(&bt, NFT_ALIVE_MS);
	return batch_commit(&bt, err, errlen);
}

int nft_inject_elems(const struct marks *m, const struct nft_inject *ops,
		     size_t n, char *err, size_t errlen)
{
	struct batch bt;

	if (!n)
		return 0;
	batch_begin(&bt);
	for (size_t i = 0; i < n; i++)
		msg_inject(&bt, m, &ops[i]);
	return batch_commit(&bt, err, errlen);
}

/* The sets by which the kernel allows a new flow on its own (ranges,
 * allow-all, inbound allow-all, injection addresses) emptied in one batch:
 * every new sandbox flow then waits for a queue verdict, which no daemon
 * gives, and is refused (commit chain). Flows already allowed keep their
 * ct mark. */
int nft_close(char *err, size_t errlen)
{
	static const char *const allows[] = { "allow4", "allow6", "mode_allow",
					      "mode_open", "inject4",
					      "inject6", "alive" };
	struct batch bt;

	batch_begin(&bt);
	for (size_t i = 0; i < sizeof(allows) / sizeof(*allows); i++) {
		struct nftnl_set *s = set_new(allows[i]);
		struct nlmsghdr *nlh = batch_msg(&bt, NFT_MSG_DELSETELEM, 0,
						 allows[i]);

		/* no element: the whole set */
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_done_msg(&bt);
		nftnl_set_free(s);
	}
	return batch_commit(&bt, err, errlen);
}
