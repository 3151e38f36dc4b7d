/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A sandbox's TCP segments before their flow's verdict is committed:
 * held and fed to the reassembly until the first bytes are judged (a
 * server_name peeked at may let them pass early), then checked against
 * the judged bytes until the server acknowledges them (SPEC §1.7). */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "clock.h"
#include "flow_judge.h"
#include "log.h"
#include "sandbox.h"
#include "strip.h"
#include "verdict_int.h"

/* A server_name read from a hello not yet whole: denied at once, or,
 * allowed (its address bound too), the hello's bytes pass as they come
 * in order. The verdict itself waits for the whole hello. */
void v_peek(struct flow *f)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { .payload = PAYLOAD_TLS };
	struct judgement j;
	struct held hs[FLOW_HELD_MAX];
	bool straddle;
	size_t n;

	if (f->peek != PEEK_ALLOWED) {
		if (!f->fb.peeked)
			return;
		q.sni = f->fb.ch.sni;
		q.sni_len = f->fb.ch.sni_len;
		if (v_evaluate(sb, &f->key, &q, BIND_RESOLVE, &j)) {
			f->peek = PEEK_ALLOWED;
		} else if (j.bound == BOUND_WAIT) {
			f->peek = PEEK_WAIT;
			return;
		} else {
			v_refuse(f);
			return v_record(f, &q, &j.v, false);
		}
	}
	n = flow_take_held(f, f->r.contig, hs, &straddle);
	v_give_all(hs, n, G_PASS);
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

	v_give_all(hs, n, G_PASS);
	f->passed = f->fb.skip + PG_REQUEST_LEN;
	if (straddle) {
		f->fb.kind = PAYLOAD_NOT_TLS;
		return REASM_COMPLETE;
	}
	fb_passed(&f->fb);
	return reasm_resume(&f->r, fb_judge, &f->fb);
}

/* After a segment was fed: v_decide, pass a request, or v_peek. */
static void settle(struct flow *f, enum reasm_state st)
{
	while (st == REASM_COMPLETE && f->fb.kind == PAYLOAD_NONE &&
	       f->fb.request != PG_NOT_PG)
		st = pass_request(f);
	if (st == REASM_NEED_MORE)
		v_peek(f);
	else
		v_decide(f, false);
}

/* A client that sends again bytes it sent and nothing new, its hello not
 * whole: its window is spent on held bytes, so it stalls. Decided now. */
static void stalled(struct flow *f)
{
	f->r.state = REASM_GIVE_UP;
	f->r.why = REASM_WHY_TIMEOUT;
	v_decide(f, true);
}

static void holding(struct flow *f, const struct held *h,
		    const struct pkt *p, bool first, uint64_t now)
{
	enum reasm_state st;
	size_t before;

	if (!flow_hold(f, h)) {
		v_give(h, G_DROP, NULL, 0);
		f->r.state = REASM_GIVE_UP;
		return v_decide(f, false);
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

/* The bytes a judged flow sends again must be the judged ones; past
 * them it waits for the server's acknowledgement. Different bytes where
 * the verdict was given (the server never took those: an insertion)
 * cut the flow. */
static void judged(struct flow *f, const struct held *h, const struct pkt *p)
{
	struct held hs[FLOW_HELD_MAX];

	if (!p->payload_len)
		return v_give(h, G_PASS, NULL, 0);
	switch (flow_match_judged(f, h->seq, p->payload, p->payload_len)) {
	case FM_WITHIN:
		return v_give(h, G_JUDGED, NULL, 0);
	case FM_BEYOND:
		if (!flow_hold(f, h))
			v_give(h, G_DROP, NULL, 0);
		return;
	case FM_CONFLICT:
		break;
	}
	v_give(h, G_DENY, NULL, 0);
	v_give_all(hs, flow_take_all(f, hs), G_DROP);
	v_io.cut(&f->key);
	v_betrayed(f, "tcp-overlap-conflict");
	flow_decided(f, PH_DENIED);
}

/* Whether h came by f's conntrack entry, as far as their ids tell: a
 * connection begun on a new entry of the same ports (the client's reset,
 * then a SYN) is another, whose segments must not join f's held hello,
 * and whose server's ACKs, which the sandbox lines up, must not meet its
 * judgement. An entry's memory, and with it its id, comes back only once
 * no packet of it is held. */
static bool same_entry(const struct flow *f, const struct held *h)
{
	return !f->entry || !h->entry || f->entry == h->entry;
}

/* A server's packet while its flow is judged: once it acknowledges the
 * judged bytes, the verdict is committed and what waited goes on. */
static void server_packet(struct flow *f, const struct held *h,
			  const struct pkt *p)
{
	struct held hs[FLOW_HELD_MAX];
	uint32_t acked = p->ack - f->base;

	if (!same_entry(f, h))
		return v_give(h, G_DROP, NULL, 0);
	if (f->phase != PH_JUDGED)
		return v_give(h, f->phase == PH_ALLOWED ? G_ALLOW : G_DROP,
			      NULL, 0);
	/* a SYN-ACK acknowledges a SYN, never judged bytes: one that seems
	 * to is another connection's, which the sandbox's first sequence
	 * number lined up */
	if (!(p->tcp_flags & PKT_TCP_ACK) || (p->tcp_flags & PKT_TCP_SYN) ||
	    acked < f->judged || acked > f->judged + (1u << 30))
		return v_give(h, G_PASS, NULL, 0);
	v_give(h, G_ALLOW, NULL, 0);
	v_give_all(hs, flow_take_all(f, hs), G_ALLOW);
	flow_decided(f, PH_ALLOWED);
}

/* Whether a client's segment belongs to the connection f was judged
 * for: a new connection of the same ports has a new first byte, or an
 * undecided ct mark where f's is committed. Where f is judged, a segment
 * not marked so was queued before its entry's mark said "judged" (in
 * flight at the verdict), or is another entry's: conntrack begins a new
 * one of the same ports on a SYN after the client's reset, and the
 * server a new connection whose acknowledgements the sandbox lines up
 * with f's judged bytes. The entry's mark tells them apart. */
static bool same_connection(const struct flow *f, const struct held *h,
			    enum mark_state st)
{
	if (!same_entry(f, h))
		return false;
	if (!f->have_base)
		return true;
	if (st == ST_PEND_FIRST && h->seq != f->base)
		return false;
	if (!flow_seq_near(f, h->seq))
		return false;
	if (f->phase == PH_JUDGED && st != ST_PEND_JUDGED)
		return v_io.entry_state(&f->key) == ST_JUDGED;
	return !(f->phase == PH_ALLOWED && st != ST_PEND_JUDGED);
}

static void client_packet(struct flow *f, const struct flow_key *k,
			  const struct held *h, const struct pkt *p,
			  enum mark_state st, uint64_t now)
{
	if (f && !same_connection(f, h, st)) {
		v_retire(f);
		f = NULL;
	}
	if (!f) {
		if (st == ST_PEND_JUDGED)	/* judged, then forgotten */
			return v_give(h, G_DENY, NULL, 0);
		if (v_over_share(h, k, mark_get_id(v_marks, h->mark)))
			return;
		f = v_flow_get(k, mark_get_id(v_marks, h->mark), now);
		f->entry = h->entry;
	}
	flow_touch(f, now);
	switch (f->phase) {
	case PH_HOLDING:
		return holding(f, h, p, st == ST_PEND_FIRST, now);
	case PH_JUDGED:
		return judged(f, h, p);
	case PH_ALLOWED:	/* queued before the commit */
		return v_give(h, G_ALLOW, NULL, 0);
	case PH_DENIED:
		return v_give(h, G_DROP, NULL, 0);
	}
}

/* True for a server's packet on a judged flow (its own latency). */
bool v_tcp_segment(const struct queued *q, struct held *h,
		   const struct pkt *p, const struct flow_key *k,
		   uint64_t now)
{
	enum mark_state st = (q->mark & v_marks->state) >> v_marks->shift;
	struct flow *f = flow_lookup(k);
	uint8_t bare[STRIP_MAX];
	struct flow_key back;
	size_t n;

	h->seq = p->seq + ((p->tcp_flags & PKT_TCP_SYN) ? 1 : 0);
	h->len = (uint32_t)p->payload_len;
	if ((p->tcp_flags & PKT_TCP_RST) && f &&
	    (f->phase == PH_HOLDING || f->phase == PH_JUDGED)) {
		/* the client's reset ends the entry: what the flow holds or
		 * judged is no next connection's (conntrack begins a new
		 * entry of the ports on a SYN after it, whose id may be the
		 * old one's when nothing of it was held) */
		v_retire(f);
		f = NULL;
		if (!p->payload_len) {
			v_give(h, G_PASS, NULL, 0);
			return false;
		}
	}
	if (p->payload_len && (p->tcp_flags & (PKT_TCP_SYN | PKT_TCP_RST))) {
		/* data on a SYN (TCP Fast Open) or a RST is not the stream's:
		 * the segment goes on without it (the client sends SYN data
		 * again once the handshake is done, judged as any) */
		n = strip_payload(q->data, p, bare, sizeof(bare));
		v_give(h, n ? G_PASS : G_DROP, n ? bare : NULL, n);
		return false;
	}
	if (!f && st == ST_PEND_JUDGED) {
		flow_key_reverse(k, &back);
		if ((f = flow_lookup(&back))) {
			flow_touch(f, now);
			server_packet(f, h, p);
			return true;
		}
	}
	if (!p->payload_len && st != ST_PEND_JUDGED)
		v_give(h, G_PASS, NULL, 0);	/* not judged */
	else
		client_packet(f, k, h, p, st, now);
	return false;
}
