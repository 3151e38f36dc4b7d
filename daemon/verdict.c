/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verdicts for queued packets (SPEC §1.7, §2). Every queued packet gets
 * exactly one verdict, through give(), and none is let through before its
 * flow's verdict: a TCP flow is held until its first bytes are judged,
 * then "judged" until the server has acknowledged those very bytes, and
 * only then committed to the ct mark's fast path. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "conns.h"
#include "ct.h"
#include "dns.h"
#include "flow.h"
#include "log.h"
#include "quic.h"
#include "revoke.h"
#include "rst.h"
#include "sandbox.h"
#include "strip.h"
#include "verdict.h"
#include "wire.h"

#define HOLD_TIMEOUT_NS (3ull * 1000000000)	/* for a ClientHello */
#define RESOLVE_WAIT_NS (4ull * 1000000000)	/* for our own resolution */
#define JUDGED_WAIT_NS (10ull * 1000000000)	/* for the server's ACK */
#define DECIDED_KEEP_NS (1ull * 1000000000)	/* late queued packets */
#define MAX_FLOWS 4096
#define SANDBOX_SHARE (MAX_FLOWS / 4)	/* of the table, per sandbox */

static const struct marks *marks;
static bool ech_deny, ip_binding, silent;
static struct verdict_stats stats;
static void cut_open(const struct flow_key *k);
static void forget_entry(const struct flow_key *k)
{
	ct_delete(k);
}

/* Only the sandbox's own entry: the deny chain finds the packet's
 * sandbox again by where it comes from, and another sandbox may send in
 * this one's name (its address and port) on the 5-tuple of a flow cut
 * here: it must not open that flow again under its own policy. */
static int reopen_entry(const struct flow_key *k, uint32_t mark)
{
	uint32_t now;
	int err;

	if ((err = ct_get_mark(k, &now)) < 0)
		return err;
	if ((now & marks->id) != (mark & marks->id))
		return -EPERM;
	return ct_set_mark(k, mark, marks->mask);
}

static const struct verdict_io real_io = { queue_verdict, cut_open,
					   forget_entry, reopen_entry };
static struct verdict_io io = real_io;

void verdict_configure(bool deny_ech, bool binding, bool drop)
{
	ech_deny = deny_ech;
	ip_binding = binding;
	silent = drop;
}

void verdict_init(const struct marks *m)
{
	marks = m;
	flow_init(MAX_FLOWS, HOLD_TIMEOUT_NS);
}

void verdict_set_io(const struct verdict_io *with)
{
	io = with ? *with : real_io;
}

static void cut_open(const struct flow_key *k)
{
	revoke_flow(k, mark_state(marks, ST_DENY), marks->state);
}

const struct verdict_stats *verdict_stats(void)
{
	return &stats;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Over the last LAT_SAMPLES verdicts. */
uint64_t verdict_latency(double pct)
{
	static uint32_t sorted[LAT_SAMPLES];
	size_t n = stats.packets < LAT_SAMPLES ? stats.packets : LAT_SAMPLES;
	size_t at;

	if (!n)
		return 0;
	memcpy(sorted, stats.lat_ns, n * sizeof(sorted[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	at = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return sorted[at];
}

static void latency(uint64_t start)
{
	uint64_t d = now_ns() - start;

	stats.lat_ns[(stats.packets - 1) % LAT_SAMPLES] =
		d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* What a verdict does to the packet and to its flow's ct mark (the
 * commit chain copies the packet mark's state into it). */
enum give {
	G_PASS,		/* accepted; the ct mark unchanged */
	G_JUDGED,	/* accepted; an undecided ct mark becomes "judged" */
	G_ALLOW,	/* accepted; the ct mark becomes "allow" */
	G_DENY,		/* the ct mark becomes "deny": the packet is reset */
	G_DROP,
};

/* The one way a queued packet gets its verdict. pkt, when not NULL,
 * replaces the packet. */
static void give(const struct held *h, enum give g, const uint8_t *pkt,
		 size_t len)
{
	static const enum mark_state state[] = {
		[G_PASS] = ST_NONE, [G_JUDGED] = ST_JUDGED,
		[G_ALLOW] = ST_ALLOW, [G_DENY] = ST_DENY,
	};
	uint32_t mark;

	if (g == G_DROP) {
		io.verdict(h->queue, h->id, NF_DROP, -1, NULL, 0);
		return;
	}
	mark = (h->mark & ~marks->state) | mark_state(marks, state[g]);
	io.verdict(h->queue, h->id, NF_ACCEPT, mark, pkt, len);
}

static void give_all(const struct held *hs, size_t n, enum give g)
{
	for (size_t i = 0; i < n; i++)
		give(&hs[i], g, NULL, 0);
}

static void audit(const struct flow_key *k, const struct sandbox *sb,
		  const struct flow_query *q, const struct verdict_result *v,
		  bool allow)
{
	struct flow_record r;

	audit_record_init(&r, sb ? sb->name : "?", k);
	if (q && q->sni)
		snprintf(r.sni, sizeof(r.sni), "%.*s", (int)q->sni_len,
			 q->sni);
	r.allow = allow;
	r.reason = v->reason;
	snprintf(r.rule, sizeof(r.rule), "%s", v->rule);
	audit_flow(&r);
}

static bool evaluate(const struct sandbox *sb, const struct flow_key *k,
		     struct flow_query *q, struct verdict_result *v)
{
	q->family = k->family;
	memcpy(q->dst, k->dst, 16);
	q->dport = k->dport;
	q->proto = k->proto;
	q->ech_deny = ech_deny;
	if (!sb) {
		/* a flow of a sandbox destroyed since: fail closed */
		*v = (struct verdict_result){ VERDICT_DENY, "no-sandbox", "" };
		return false;
	}
	policy_eval(sb->policy, q, v);
	if (v->verdict == VERDICT_DNS) {
		/* the ruleset sends DNS to our resolver: this one slipped by
		 * (a flow older than the ruleset) */
		v->verdict = VERDICT_DENY;
		v->reason = "dns-not-redirected";
	}
	return v->verdict == VERDICT_ALLOW;
}

/* SPEC §3 address binding, for what a domain rule allows: YES, NO (then
 * v says why), or WAIT for the daemon's own resolution. */
static enum dns_bound bound(const struct sandbox *sb, const struct flow_key *k,
			    const struct flow_query *q,
			    struct verdict_result *v, bool final)
{
	char name[DOMAIN_MAX + 1];
	enum dns_bound b;

	if (!ip_binding || strcmp(v->reason, "domain-allowed"))
		return BOUND_YES;
	if (domain_name_normalize(q->sni, q->sni_len, name) < 0)
		b = BOUND_NO;
	else
		b = dns_bound(sb->id, name, k->family, k->dst,
			      final ? BIND_FINAL : BIND_RESOLVE);
	if (b == BOUND_NO) {
		v->verdict = VERDICT_DENY;
		v->reason = "sni-address-mismatch";
	}
	return b;
}

static void count(struct sandbox *sb, bool allow)
{
	if (allow) {
		stats.allowed++;
		if (sb)
			sb->allowed++;
	} else {
		stats.denied++;
		if (sb)
			sb->denied++;
	}
}

static void record(struct flow *f, const struct flow_query *q,
		   const struct verdict_result *v, bool allow)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	char sni[WIRE_TEXT_MAX(CH_SNI_MAX)];

	count(sb, allow);
	audit(&f->key, sb, q, v, allow);
	if (q->sni)
		wire_text(q->sni, q->sni_len, sni, sizeof(sni));
	log_debug("%s %s sni=%s reason=%s", sb ? sb->name : "?",
		  allow ? "allow" : "deny", q->sni ? sni : "-", v->reason);
}

/* Refuse a held flow: its first segment carries "deny" (the commit chain
 * resets the client), the rest are dropped, and the server, which
 * accepted the handshake and waits for the stream's first byte, is reset
 * too. */
static void refuse(struct flow *f)
{
	struct held hs[FLOW_HELD_MAX];
	size_t n = flow_take_all(f, hs);

	if (n) {
		give(&hs[0], G_DENY, NULL, 0);
		give_all(hs + 1, n - 1, G_DROP);
		if (f->have_base)
			rst_send(&f->key, f->base + (uint32_t)f->passed);
	} else if (f->passed) {
		io.cut(&f->key);	/* bytes of its hello passed */
	}
	flow_decided(f, PH_DENIED);
}

/* A datagram to the client of k, in its server's name. */
static void to_client(const struct flow_key *k, const uint8_t *d, size_t n)
{
	struct flow_key back;

	flow_key_reverse(k, &back);
	rst_datagram(&back, d, n);
}

/* The refusal of a QUIC connection whose Initials q read. */
static void quic_refuse(const struct quic_initial *q, const struct flow_key *k,
			const char *reason)
{
	uint8_t close[RST_PAYLOAD_MAX];
	char phrase[64];
	size_t len;

	if (silent)
		return;
	snprintf(phrase, sizeof(phrase), "sbxfw: %s", reason);
	if ((len = quic_refusal(q, phrase, close, sizeof(close))))
		to_client(k, close, len);
}

/* A QUIC flow refused so that every client notices at once (SPEC
 * §1.9): the server's Initial closing it, under the keys of the client's
 * Initials (some clients ignore ICMP), and ICMP on its first datagram. */
static void refuse_datagrams(struct flow *f, const char *reason)
{
	struct held hs[FLOW_HELD_MAX];
	size_t n = flow_take_all(f, hs);

	if (f->qi)
		quic_refuse(f->qi, &f->key, reason);
	if (n) {
		give(&hs[0], G_DENY, NULL, 0);
		give_all(hs + 1, n - 1, G_DROP);
	} else {
		io.cut(&f->key);	/* none held to carry "deny" */
	}
	flow_decided(f, PH_DENIED);
}

static void deny(struct flow *f, const struct verdict_result *v)
{
	if (f->key.proto == IPPROTO_UDP)
		refuse_datagrams(f, v->reason);
	else
		refuse(f);
}

/* Allowed: the segments within the judged bytes go on, marked "judged";
 * those past them wait for the server's acknowledgement. A datagram
 * flow's all go on, in their order, and the verdict is committed. */
static void admit(struct flow *f, uint64_t now)
{
	struct held hs[FLOW_HELD_MAX];
	bool straddle;
	size_t n;

	if (f->key.proto == IPPROTO_UDP) {
		give_all(hs, flow_take_all(f, hs), G_ALLOW);
		return flow_decided(f, PH_ALLOWED);
	}
	f->judged = f->have_base ? f->r.contig : 0;
	n = flow_take_held(f, f->judged, hs, &straddle);
	give_all(hs, n, G_JUDGED);
	f->deadline_ns = now + JUDGED_WAIT_NS;
	flow_decided(f, PH_JUDGED);
}

/* The flow's verdict on its first bytes. Unless it waits for the daemon
 * to resolve its name (not when `final'). */
static void decide(struct flow *f, bool final)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { 0 };
	struct verdict_result v;
	bool allow;

	fb_query(&f->fb, f->have_base ? &f->r : NULL, &q);
	allow = evaluate(sb, &f->key, &q, &v);
	if (allow) {
		switch (bound(sb, &f->key, &q, &v, final)) {
		case BOUND_YES:
			break;
		case BOUND_WAIT:
			if (!f->waiting)	/* from the first wait on */
				f->deadline_ns = now_ns() + RESOLVE_WAIT_NS;
			f->waiting = true;
			return;
		case BOUND_NO:
			allow = false;
			break;
		}
	}
	if (allow) {
		if (q.sni)
			conns_add(&f->key, q.sni, q.sni_len);
		else	/* never the name of a flow before on its ends */
			conns_forget(&f->key);
		if (f->qi)
			conns_set_quic(&f->key, quic_conn_new(f->qi));
		admit(f, now_ns());
	} else {
		deny(f, &v);
	}
	record(f, &q, &v, allow);
}

/* A server_name read from a hello not yet whole: denied at once, or,
 * allowed (its address bound too), the hello's bytes pass as they come
 * in order. The verdict itself waits for the whole hello. */
static void peek(struct flow *f)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { .payload = PAYLOAD_TLS };
	struct verdict_result v;
	struct held hs[FLOW_HELD_MAX];
	bool straddle;
	size_t n;

	if (f->peek != PEEK_ALLOWED) {
		if (!f->fb.peeked)
			return;
		q.sni = f->fb.ch.sni;
		q.sni_len = f->fb.ch.sni_len;
		if (!evaluate(sb, &f->key, &q, &v)) {
			refuse(f);
			return record(f, &q, &v, false);
		}
		switch (bound(sb, &f->key, &q, &v, false)) {
		case BOUND_YES:
			f->peek = PEEK_ALLOWED;
			break;
		case BOUND_WAIT:
			f->peek = PEEK_WAIT;
			return;
		case BOUND_NO:
			refuse(f);
			return record(f, &q, &v, false);
		}
	}
	n = flow_take_held(f, f->r.contig, hs, &straddle);
	give_all(hs, n, G_PASS);
	f->passed = f->r.contig;
}

/* A Postgres request's 8 bytes pass (the server answers it), and nothing
 * after them: a segment that carries more is refused (SPEC §5). */
static enum reasm_state pass_request(struct flow *f)
{
	struct held hs[FLOW_HELD_MAX];
	bool straddle;
	size_t n = flow_take_held(f, f->fb.skip + PG_REQUEST_LEN, hs,
				  &straddle);

	give_all(hs, n, G_PASS);
	f->passed = f->fb.skip + PG_REQUEST_LEN;
	if (straddle) {
		f->fb.kind = PAYLOAD_NOT_TLS;
		return REASM_COMPLETE;
	}
	fb_passed(&f->fb);
	return reasm_resume(&f->r, fb_judge, &f->fb);
}

/* After a segment was fed: decide, pass a request, or peek. */
static void settle(struct flow *f, enum reasm_state st)
{
	while (st == REASM_COMPLETE && f->fb.kind == PAYLOAD_NONE &&
	       f->fb.request != PG_NOT_PG)
		st = pass_request(f);
	if (st == REASM_NEED_MORE)
		peek(f);
	else
		decide(f, false);
}

/* A client that sends again bytes it sent and nothing new, its hello not
 * whole: its window is spent on held bytes, so it stalls. Decided now. */
static void stalled(struct flow *f)
{
	f->r.state = REASM_GIVE_UP;
	f->r.why = REASM_WHY_TIMEOUT;
	decide(f, true);
}

static void holding(struct flow *f, const struct held *h,
		    const struct pkt *p, bool first, uint64_t now)
{
	enum reasm_state st;
	size_t before;

	if (!flow_hold(f, h)) {
		give(h, G_DROP, NULL, 0);
		f->r.state = REASM_GIVE_UP;
		return decide(f, false);
	}
	if (f->waiting)		/* judged but for its address: kept too */
		return;
	if (first && !f->have_base) {
		st = flow_set_base(f, h->seq, now);
		if (st != REASM_NEED_MORE)
			return settle(f, st);
	}
	before = f->have_base ? f->r.stored : SIZE_MAX;
	st = flow_feed(f, h->seq, p->payload, p->payload_len, now);
	if (st == REASM_NEED_MORE && f->r.stored == before &&
	    f->peek != PEEK_ALLOWED)
		return stalled(f);
	settle(f, st);
}

/* A judged flow cut: counted and audited with why. */
static void betrayed(struct flow *f, const char *why)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { .sni = f->fb.ch.has_sni ? f->fb.ch.sni : NULL,
				.sni_len = f->fb.ch.sni_len };
	struct verdict_result v = { VERDICT_DENY, why, "" };

	count(sb, false);
	audit(&f->key, sb, &q, &v, false);
}

/* The bytes a judged flow sends again must be the judged ones; past
 * them it waits for the server's acknowledgement. Different bytes where
 * the verdict was given (the server never took those: an insertion)
 * cut the flow. */
static void judged(struct flow *f, const struct held *h, const struct pkt *p)
{
	struct held hs[FLOW_HELD_MAX];

	if (!p->payload_len)
		return give(h, G_PASS, NULL, 0);
	switch (flow_match_judged(f, h->seq, p->payload, p->payload_len)) {
	case FM_WITHIN:
		return give(h, G_JUDGED, NULL, 0);
	case FM_BEYOND:
		if (!flow_hold(f, h))
			give(h, G_DROP, NULL, 0);
		return;
	case FM_CONFLICT:
		break;
	}
	give(h, G_DENY, NULL, 0);
	give_all(hs, flow_take_all(f, hs), G_DROP);
	io.cut(&f->key);
	betrayed(f, "tcp-overlap-conflict");
	flow_decided(f, PH_DENIED);
}

/* A server's packet while its flow is judged: once it acknowledges the
 * judged bytes, the verdict is committed and what waited goes on. */
static void server_packet(struct flow *f, const struct held *h,
			  const struct pkt *p)
{
	struct held hs[FLOW_HELD_MAX];
	uint32_t acked = p->ack - f->base;

	if (f->phase != PH_JUDGED) {
		give(h, f->phase == PH_ALLOWED ? G_ALLOW : G_DROP, NULL, 0);
		return;
	}
	if (!(p->tcp_flags & PKT_TCP_ACK) || acked < f->judged ||
	    acked > f->judged + (1u << 30))
		return give(h, G_PASS, NULL, 0);
	give(h, G_ALLOW, NULL, 0);
	give_all(hs, flow_take_all(f, hs), G_ALLOW);
	flow_decided(f, PH_ALLOWED);
}

/* Whether a client's segment belongs to the connection f was judged
 * for: a new connection of the same ports has a new first byte, or an
 * undecided ct mark where f's is committed. */
static bool same_connection(const struct flow *f, const struct held *h,
			    enum mark_state st)
{
	if (!f->have_base)
		return true;
	if (st == ST_PEND_FIRST && h->seq != f->base)
		return false;
	if (!flow_seq_near(f, h->seq))
		return false;
	return !(f->phase == PH_ALLOWED && st != ST_PEND_JUDGED);
}

/* Gone from the table: a held flow is denied (incomplete), what waits
 * for a server's acknowledgement is dropped (its client sends it again,
 * and a flow judged but unknown is cut). */
static void retire(struct flow *f)
{
	struct held hs[FLOW_HELD_MAX];

	if (f->phase == PH_HOLDING) {
		f->r.state = REASM_GIVE_UP;
		decide(f, true);
	}
	give_all(hs, flow_take_all(f, hs), G_DROP);
	flow_destroy(f);
}

/* Past its share of the table, a sandbox's new flow is refused. */
static bool over_share(const struct held *h, const struct flow_key *k,
		       uint32_t sbid)
{
	struct sandbox *sb = sandbox_get(sbid);
	struct verdict_result v = { VERDICT_DENY, "flow-limit", "" };
	struct flow_query q = { 0 };

	if (flow_sandbox_count(sbid) < SANDBOX_SHARE)
		return false;
	give(h, G_DENY, NULL, 0);
	count(sb, false);
	audit(k, sb, &q, &v, false);
	return true;
}

static struct flow *flow_get(const struct flow_key *k, uint32_t sb,
			     uint64_t now)
{
	struct flow *f;

	while (flow_bytes() > FLOW_BYTES_MAX && flow_oldest())
		retire(flow_oldest());
	while (!(f = flow_create(k, sb, now)))
		retire(flow_oldest());
	return f;
}

static void client_packet(struct flow *f, const struct flow_key *k,
			  const struct held *h, const struct pkt *p,
			  enum mark_state st, uint64_t now)
{
	if (f && !same_connection(f, h, st)) {
		retire(f);
		f = NULL;
	}
	if (!f) {
		if (st == ST_PEND_JUDGED)	/* judged, then forgotten */
			return give(h, G_DENY, NULL, 0);
		if (over_share(h, k, mark_get_id(marks, h->mark)))
			return;
		f = flow_get(k, mark_get_id(marks, h->mark), now);
	}
	flow_touch(f, now);
	switch (f->phase) {
	case PH_HOLDING:
		return holding(f, h, p, st == ST_PEND_FIRST, now);
	case PH_JUDGED:
		return judged(f, h, p);
	case PH_ALLOWED:	/* queued before the commit */
		return give(h, G_ALLOW, NULL, 0);
	case PH_DENIED:
		return give(h, G_DROP, NULL, 0);
	}
}

static void tcp_segment(const struct queued *q, struct held *h,
			const struct pkt *p, const struct flow_key *k,
			uint64_t now)
{
	enum mark_state st = (q->mark & marks->state) >> marks->shift;
	struct flow *f = flow_lookup(k);
	uint8_t bare[STRIP_MAX];
	struct flow_key back;
	size_t n;

	h->seq = p->seq + ((p->tcp_flags & PKT_TCP_SYN) ? 1 : 0);
	h->len = (uint32_t)p->payload_len;
	if (p->payload_len && (p->tcp_flags & (PKT_TCP_SYN | PKT_TCP_RST))) {
		/* data on a SYN (TCP Fast Open) or a RST is not the stream's:
		 * the segment goes on without it (the client sends SYN data
		 * again once the handshake is done, judged as any) */
		n = strip_payload(q->data, p, bare, sizeof(bare));
		return give(h, n ? G_PASS : G_DROP, n ? bare : NULL, n);
	}
	if (!f && st == ST_PEND_JUDGED) {
		flow_key_reverse(k, &back);
		if ((f = flow_lookup(&back))) {
			flow_touch(f, now);
			return server_packet(f, h, p);
		}
	}
	if (!p->payload_len && st != ST_PEND_JUDGED)
		return give(h, G_PASS, NULL, 0);	/* not judged */
	client_packet(f, k, h, p, st, now);
}

/* Another QUIC connection on the 5-tuple of k (SPEC §1.9: one is
 * judged at a time), its Initials read into qi: judged by its own
 * ClientHello (fb), whole in its datagram. Refused, its client gets the
 * CONNECTION_CLOSE, and an audit row says why. */
static bool other_connection(const struct flow_key *k, uint32_t sbid,
			     const struct quic_initial *qi,
			     const struct first_bytes *fb)
{
	struct sandbox *sb = sandbox_get(sbid);
	struct flow_query q = { 0 };
	struct verdict_result v;

	fb_query(fb, NULL, &q);
	if (evaluate(sb, k, &q, &v) && bound(sb, k, &q, &v, true) == BOUND_YES)
		return true;
	quic_refuse(qi, k, v.reason);
	count(sb, false);
	audit(k, sb, &q, &v, false);
	return false;
}

/* Whether the policy lets k through whatever name it carries (an
 * allowed range, allow-all with no denied domain): no connection in it
 * then needs reading, whatever its version. */
static bool nameless(const struct flow_key *k, uint32_t sbid)
{
	struct flow_query q = { .payload = PAYLOAD_NONE };
	struct verdict_result v;

	return evaluate(sandbox_get(sbid), k, &q, &v);
}

/* A client's long-header datagram once its flow's hello was whole,
 * the flow judged for c: whether it may go on. A 5-tuple may carry
 * several connections, told apart by the server by their connection
 * IDs, and one that ended may be opened again with its ID, so nothing
 * passes unread (SPEC §1.9): the judged connection's Initials pass when
 * their CRYPTO bytes are its hello's again, or none; new CRYPTO bytes
 * (in its Initials, or in another connection's) must make a whole
 * ClientHello, judged by its own name; what we cannot read (another
 * version, an Initial that opens under no keys) is dropped. 0-RTT and
 * Handshake packets open nothing, and pass. */
static bool quic_after(const struct flow_key *k, uint32_t sbid,
		       const struct quic_conn *c, const struct pkt *p)
{
	struct first_bytes fb = { .kind = PAYLOAD_NONE };
	struct quic_initial *qi = NULL;
	struct quic_conn *now;
	bool ok = false;

	if (nameless(k, sbid))
		return true;
	switch (quic_later(c, p->payload, p->payload_len, &qi, &fb)) {
	case QUIC_LATER_PASS:
		ok = true;
		break;
	case QUIC_LATER_UNREAD:
		log_debug("quic: a datagram we cannot read, dropped");
		break;
	case QUIC_LATER_JUDGE:
		/* allowed, a new connection: the one judged from now on */
		if ((ok = other_connection(k, sbid, qi, &fb)) &&
		    (now = quic_conn_new(qi)))
			conns_set_quic(k, now);
		break;
	}
	quic_initial_free(qi);
	return ok;
}

/* A datagram, while f's connection is judged, that is not of it: an
 * Initial of another connection is judged on its own hello, and held
 * with f's if allowed; any other is dropped. */
static void quic_stranger(struct flow *f, struct held *h, const struct pkt *p)
{
	struct first_bytes fb = { .kind = PAYLOAD_NONE };
	struct quic_initial *qi = quic_initial_new();
	bool keep = false;

	if (quic_form(p->payload, p->payload_len) == QUIC_INITIAL) {
		quic_judge(qi, p->payload, p->payload_len, &fb);
		if (fb.kind == PAYLOAD_NONE)
			fb.kind = PAYLOAD_INCOMPLETE;	/* must be whole */
		keep = other_connection(&f->key, f->sandbox, qi, &fb);
	}
	quic_initial_free(qi);
	if (!keep || !flow_hold(f, h))
		give(h, G_DROP, NULL, 0);
}

/* Judged but for its address, a flow's later datagrams are read as
 * those of an allowed one: whether this one may be held. */
static bool quic_waiting(const struct flow *f, const struct pkt *p)
{
	struct quic_conn *c = quic_conn_new(f->qi);
	bool ok = quic_after(&f->key, f->sandbox, c, p);

	quic_conn_free(c);
	return ok;
}

/* A QUIC flow's datagram before its verdict (SPEC §1.9): held, 0-RTT
 * too, until its Initials' ClientHello is whole. A version we do not
 * read is answered with the ones we do, and dropped. */
static void quic_datagram(struct flow *f, struct held *h, const struct pkt *p)
{
	uint8_t vn[RST_PAYLOAD_MAX];
	enum quic_step st;
	size_t n;

	h->seq = (uint32_t)f->nheld;	/* its place: held in order */
	if (f->waiting && !quic_waiting(f, p))
		return give(h, G_DROP, NULL, 0);
	if (f->waiting)		/* judged but for its address: kept */
		st = QUIC_STEP_MORE;
	else
		st = quic_judge(f->qi, p->payload, p->payload_len, &f->fb);
	if (st == QUIC_STEP_VERSION) {
		/* RFC 9000 §5.2.2: only a datagram that could open one */
		if (p->payload_len >= 1200 &&
		    (n = quic_version_negotiation(p->payload, p->payload_len,
						  vn, sizeof(vn))))
			to_client(&f->key, vn, n);
		return give(h, G_DROP, NULL, 0);
	}
	if (st == QUIC_STEP_OTHER)
		return quic_stranger(f, h, p);
	if (!flow_hold(f, h)) {
		give(h, G_DROP, NULL, 0);
		if (!f->waiting)	/* else its hello is judged: bound? */
			f->fb.kind = PAYLOAD_INCOMPLETE;
		return decide(f, true);
	}
	if (st == QUIC_STEP_DONE)
		decide(f, false);
}

/* The kernel queues the client's long-header datagrams of allowed QUIC
 * flows, with no state of their own. */
static void quic_in_flow(const struct held *h, const struct pkt *p,
			 const struct flow_key *k)
{
	bool ok = quic_after(k, mark_get_id(marks, h->mark), conns_quic(k), p);

	give(h, ok ? G_PASS : G_DROP, NULL, 0);
}

/* A datagram queued before its flow's verdict reached the ct mark: the
 * verdict's, and on a QUIC flow allowed, only if it opens no connection
 * unread (as quic_in_flow: it may have come right behind the hello). */
static void decided_datagram(struct flow *f, const struct held *h,
			     const struct pkt *p)
{
	const struct quic_conn *c = conns_quic(&f->key);

	if (f->phase != PH_ALLOWED)
		return give(h, G_DENY, NULL, 0);
	/* without its connection's record (a hello with no name, or
	 * forgotten), read all the same */
	if ((c || f->quic) && !quic_after(&f->key, f->sandbox, c, p))
		return give(h, G_DROP, NULL, 0);
	give(h, G_ALLOW, NULL, 0);
}

/* A datagram flow is judged on its first packet (UDP 443 where the
 * policy needs a name: on its Initials); those queued before the ct
 * mark was set get the same verdict without another audit row. */
static void udp_datagram(struct held *h, const struct pkt *p,
			 const struct flow_key *k, uint64_t now)
{
	uint32_t sbid = mark_get_id(marks, h->mark);
	struct sandbox *sb = sandbox_get(sbid);
	struct flow_query fq = {
		.payload = k->dport == 443 ? PAYLOAD_NONE : PAYLOAD_NOT_TLS
	};
	struct flow *f = flow_lookup(k);
	struct verdict_result v;
	bool allow;

	if (!f && over_share(h, k, sbid))
		return;
	if (!f)
		f = flow_get(k, sbid, now);
	flow_touch(f, now);
	if (f->phase != PH_HOLDING)
		return decided_datagram(f, h, p);
	if (f->qi)
		return quic_datagram(f, h, p);
	allow = evaluate(sb, k, &fq, &v);
	if (v.verdict == VERDICT_NEED_PAYLOAD) {
		f->qi = quic_initial_new();
		f->quic = true;
		return quic_datagram(f, h, p);
	}
	give(h, allow ? G_ALLOW : G_DENY, NULL, 0);
	flow_decided(f, allow ? PH_ALLOWED : PH_DENIED);
	count(sb, allow);
	audit(k, sb, &fq, &v, allow);
}

/* Allowed, a new QUIC connection (whose Initials qi read, NULL when
 * none needed reading) on the 5-tuple of a flow denied: the entry is
 * this connection's from now on. */
static void reopen_quic(const struct held *h, const struct flow_key *k,
			struct sandbox *sb, const struct flow_query *q,
			const struct verdict_result *v,
			const struct quic_initial *qi)
{
	struct flow *f = flow_lookup(k);
	struct held hs[FLOW_HELD_MAX];

	if (io.reopen(k, mark_id(marks, sb->id) |
			 mark_state(marks, ST_ALLOW)) < 0)
		return give(h, G_DROP, NULL, 0);	/* gone meanwhile */
	if (f) {	/* the denied connection's, if still known */
		give_all(hs, flow_take_all(f, hs), G_DROP);
		flow_destroy(f);
	}
	if (q->sni)
		conns_add(k, q->sni, q->sni_len);
	else
		conns_forget(k);
	conns_set_quic(k, qi ? quic_conn_new(qi) : NULL);
	count(sb, true);
	audit(k, sb, q, v, true);
	give(h, G_ALLOW, NULL, 0);
}

/* A client's long header on a denied QUIC flow (the deny chain queues
 * them at a bounded rate): refused as its server would, so that every
 * client notices at once (SPEC §1.9; ICMP comes with it). Where the
 * policy refuses the flow whatever its name (deny-all, a denied range)
 * nothing past the header is read. Where it judges names, the Initial
 * may open another connection on the 5-tuple (a client's next one from
 * the same port, after a live change cut the last): judged by its own
 * hello, whole in the datagram (its address bound: while the daemon's
 * own resolution of the name is awaited, dropped, for the client's next
 * send), and allowed, the entry is its own; the denied connection's
 * datagrams, if its client still sends them, would pass with it, as on
 * any 5-tuple that carries two connections (its server, which no one
 * told, forgets it after its idle timeout). A
 * refusal is audited when it read a whole hello (the flow's first row
 * said the rest). */
static void quic_denied(const struct held *h, const struct pkt *p,
			const struct flow_key *k)
{
	struct sandbox *sb = sandbox_get(mark_get_id(marks, h->mark));
	struct first_bytes fb = { .kind = PAYLOAD_NONE };
	struct flow_query q = { .payload = PAYLOAD_NONE };
	uint8_t close[RST_PAYLOAD_MAX];
	struct quic_initial *qi;
	struct verdict_result v;
	enum dns_bound b;
	char phrase[64];
	size_t n;

	if (quic_form(p->payload, p->payload_len) != QUIC_INITIAL)
		return give(h, G_DENY, NULL, 0);
	if (evaluate(sb, k, &q, &v))
		return reopen_quic(h, k, sb, &q, &v, NULL);
	if (v.verdict != VERDICT_NEED_PAYLOAD) {
		snprintf(phrase, sizeof(phrase), "sbxfw: %s", v.reason);
		if (!silent && (n = quic_refusal_header(p->payload,
							p->payload_len, phrase,
							close, sizeof(close))))
			to_client(k, close, n);
		return give(h, G_DENY, NULL, 0);
	}
	qi = quic_initial_new();
	quic_judge(qi, p->payload, p->payload_len, &fb);
	if (fb.kind == PAYLOAD_NONE)
		fb.kind = PAYLOAD_INCOMPLETE;	/* must be whole */
	fb_query(&fb, NULL, &q);
	if (evaluate(sb, k, &q, &v) &&
	    (b = bound(sb, k, &q, &v, false)) != BOUND_NO) {
		if (b == BOUND_YES)
			reopen_quic(h, k, sb, &q, &v, qi);
		else	/* its client sends it again: by then resolved */
			give(h, G_DROP, NULL, 0);
	} else {
		quic_refuse(qi, k, v.reason);
		give(h, G_DENY, NULL, 0);
		if (q.payload != PAYLOAD_INCOMPLETE) {
			count(sb, false);
			audit(k, sb, &q, &v, false);
		}
	}
	quic_initial_free(qi);
}

/* A server's packet on a flow a policy change cut (the deny chain queues
 * them): both ends are reset now, each at the sequence number it expects,
 * rather than whenever the client next sends. */
static void cut_flow(const struct pkt *p, const struct flow_key *reply)
{
	struct flow_key orig;

	flow_key_reverse(reply, &orig);
	rst_send(reply, p->seq);	/* server -> client */
	rst_send(&orig, p->ack);	/* client -> server */
}

/* A SYN that begins a new connection on a conntrack entry whose verdict
 * was another connection's (conntrack keeps an entry a server reset, and
 * takes a SYN on it as the same flow, its mark and all). The entry goes
 * and the SYN with it: the client sends it again (1 s), a new entry
 * begins, judged as any new flow. */
static void reopened(struct held *h, const struct flow_key *k)
{
	struct flow *f = flow_lookup(k);

	stats.reopened++;
	log_debug("a SYN on an entry with a verdict (port %u): forgotten",
		  (unsigned)k->sport);
	if (f) {	/* the old connection's, whatever its phase */
		struct held hs[FLOW_HELD_MAX];

		give_all(hs, flow_take_all(f, hs), G_DROP);
		flow_destroy(f);
	}
	io.forget(k);
	give(h, G_DROP, NULL, 0);
}

void verdict_packet(const struct queued *q, void *arg)
{
	uint64_t start = now_ns();
	struct held h = { .id = q->id, .queue = q->queue, .mark = q->mark };
	struct flow_key k;
	struct pkt p;

	(void)arg;
	stats.packets++;
	if (pkt_decode(PKT_LINKTYPE_RAW, q->data, q->len, &p) != PKT_OK) {
		/* nothing we can judge: fail closed */
		give(&h, G_DENY, NULL, 0);
		goto out;
	}
	flow_key_of(&p, &k);
	if (p.proto == IPPROTO_TCP &&
	    (q->mark & marks->state) == mark_state(marks, ST_REOPEN)) {
		reopened(&h, &k);
	} else if ((q->mark & marks->state) == mark_state(marks, ST_DENY) &&
		   p.proto == IPPROTO_UDP) {
		quic_denied(&h, &p, &k);
	} else if ((q->mark & marks->state) == mark_state(marks, ST_DENY)) {
		if (p.proto == IPPROTO_TCP)
			cut_flow(&p, &k);
		give(&h, G_DROP, NULL, 0);
	} else if (p.proto == IPPROTO_UDP &&
		   (q->mark & marks->state) == mark_state(marks, ST_NONE)) {
		quic_in_flow(&h, &p, &k);
	} else if (p.proto == IPPROTO_UDP) {
		udp_datagram(&h, &p, &k, start);
	} else {
		tcp_segment(q, &h, &p, &k, start);
	}
out:
	latency(start);
}

static void tick_flow(struct flow *f, uint64_t now)
{
	struct held hs[FLOW_HELD_MAX];

	switch (f->phase) {
	case PH_HOLDING:
		if (now < f->deadline_ns)
			return;
		if (!f->waiting) {
			if (f->have_base)
				reasm_tick(&f->r, now);
			else
				f->r.state = REASM_GIVE_UP;
			f->r.why = REASM_WHY_TIMEOUT;
		}
		return decide(f, true);
	case PH_JUDGED:
		/* the server never acknowledged what was judged: cut */
		if (now >= f->deadline_ns) {
			give_all(hs, flow_take_all(f, hs), G_DROP);
			io.cut(&f->key);
			betrayed(f, "not-acknowledged");
			flow_destroy(f);
		}
		return;
	case PH_ALLOWED:
	case PH_DENIED:
		if (now - f->last_ns > DECIDED_KEEP_NS)
			flow_destroy(f);
		return;
	}
}

void verdict_tick(uint64_t now)
{
	struct flow *f = flow_oldest(), *next;

	for (; f; f = next) {
		next = f->next;
		tick_flow(f, now);
	}
}

void verdict_resolved(void)
{
	for (struct flow *f = flow_oldest(); f; f = f->next) {
		if (f->phase != PH_HOLDING)
			continue;
		if (f->waiting)
			decide(f, false);
		else if (f->peek == PEEK_WAIT)
			peek(f);
	}
}

void verdict_release_all(void)
{
	while (flow_oldest())
		retire(flow_oldest());
	flow_fini();
}
