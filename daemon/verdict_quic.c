/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A sandbox's datagrams: a UDP flow judged on its first packet, a QUIC
 * flow on its Initials' ClientHello (SPEC §1.9), the other connections
 * a 5-tuple may carry judged by their own hellos, and a denied QUIC
 * flow's long headers refused as its server would. */
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
#include "quic.h"
#include "rst.h"
#include "sandbox.h"
#include "verdict_int.h"

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
	struct judgement j;

	fb_query(fb, NULL, &q);
	if (v_evaluate(sb, k, &q, BIND_FINAL, &j))
		return true;
	v_quic_refuse(qi, k, j.v.reason);
	v_count(sb, false);
	flow_judge_audit(sb, k, &q, &j.v, false);
	return false;
}

/* Whether the policy lets k through whatever name it carries (an
 * allowed range, allow-all with no denied domain): no connection in it
 * then needs reading, whatever its version. */
static bool nameless(const struct flow_key *k, uint32_t sbid)
{
	struct flow_query q = { .payload = PAYLOAD_NONE };
	struct judgement j;

	return v_evaluate(sandbox_get(sbid), k, &q, BIND_NONE, &j);
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
		v_give(h, G_DROP, NULL, 0);
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
		return v_give(h, G_DROP, NULL, 0);
	if (f->waiting)		/* judged but for its address: kept */
		st = QUIC_STEP_MORE;
	else
		st = quic_judge(f->qi, p->payload, p->payload_len, &f->fb);
	if (st == QUIC_STEP_VERSION) {
		/* RFC 9000 §5.2.2: only a datagram that could open one */
		if (p->payload_len >= 1200 &&
		    (n = quic_version_negotiation(p->payload, p->payload_len,
						  vn, sizeof(vn))))
			v_to_client(&f->key, vn, n);
		return v_give(h, G_DROP, NULL, 0);
	}
	if (st == QUIC_STEP_OTHER)
		return quic_stranger(f, h, p);
	if (!flow_hold(f, h)) {
		v_give(h, G_DROP, NULL, 0);
		if (!f->waiting)	/* else its hello is judged: bound? */
			f->fb.kind = PAYLOAD_INCOMPLETE;
		return v_decide(f, true);
	}
	if (st == QUIC_STEP_DONE)
		v_decide(f, false);
}

/* The kernel queues the client's long-header datagrams of allowed QUIC
 * flows, with no state of their own. */
void v_quic_in_flow(const struct held *h, const struct pkt *p,
		    const struct flow_key *k)
{
	bool ok = quic_after(k, mark_get_id(v_marks, h->mark), conns_quic(k),
			     p);

	v_give(h, ok ? G_PASS : G_DROP, NULL, 0);
}

/* A datagram queued before its flow's verdict reached the ct mark: the
 * verdict's, and on a QUIC flow allowed, only if it opens no connection
 * unread (as v_quic_in_flow: it may have come right behind the hello). */
static void decided_datagram(struct flow *f, const struct held *h,
			     const struct pkt *p)
{
	const struct quic_conn *c = conns_quic(&f->key);

	if (f->phase != PH_ALLOWED)
		return v_give(h, G_DENY, NULL, 0);
	/* without its connection's v_record (a hello with no name, or
	 * forgotten), read all the same */
	if ((c || f->quic) && !quic_after(&f->key, f->sandbox, c, p))
		return v_give(h, G_DROP, NULL, 0);
	v_give(h, G_ALLOW, NULL, 0);
}

/* A datagram flow is judged on its first packet (UDP 443 where the
 * policy needs a name: on its Initials); those queued before the ct
 * mark was set get the same verdict without another audit row. */
void v_udp_datagram(struct held *h, const struct pkt *p,
		    const struct flow_key *k, uint64_t now)
{
	uint32_t sbid = mark_get_id(v_marks, h->mark);
	struct sandbox *sb = sandbox_get(sbid);
	struct flow_query fq = {
		.payload = k->dport == 443 ? PAYLOAD_NONE : PAYLOAD_NOT_TLS
	};
	struct flow *f = flow_lookup(k);
	struct judgement j;
	bool allow;

	if (!f && v_over_share(h, k, sbid))
		return;
	if (!f)
		f = v_flow_get(k, sbid, now);
	flow_touch(f, now);
	if (f->phase != PH_HOLDING)
		return decided_datagram(f, h, p);
	if (f->qi)
		return quic_datagram(f, h, p);
	allow = v_evaluate(sb, k, &fq, BIND_NONE, &j);
	if (j.v.verdict == VERDICT_NEED_PAYLOAD) {
		f->qi = quic_initial_new();
		f->quic = true;
		return quic_datagram(f, h, p);
	}
	v_give(h, allow ? G_ALLOW : G_DENY, NULL, 0);
	flow_decided(f, allow ? PH_ALLOWED : PH_DENIED);
	v_count(sb, allow);
	flow_judge_audit(sb, k, &fq, &j.v, allow);
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

	if (v_io.reopen(k, mark_id(v_marks, sb->id) |
			 mark_state(v_marks, ST_ALLOW)) < 0)
		return v_give(h, G_DROP, NULL, 0);	/* gone meanwhile */
	if (f) {	/* the denied connection's, if still known */
		v_give_all(hs, flow_take_all(f, hs), G_DROP);
		flow_destroy(f);
	}
	if (q->sni)
		conns_add(k, q->sni, q->sni_len);
	else
		conns_forget(k);
	conns_set_quic(k, qi ? quic_conn_new(qi) : NULL);
	v_count(sb, true);
	flow_judge_audit(sb, k, q, v, true);
	v_give(h, G_ALLOW, NULL, 0);
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
void v_quic_denied(const struct held *h, const struct pkt *p,
		   const struct flow_key *k)
{
	struct sandbox *sb = sandbox_get(mark_get_id(v_marks, h->mark));
	struct first_bytes fb = { .kind = PAYLOAD_NONE };
	struct flow_query q = { .payload = PAYLOAD_NONE };
	uint8_t close[RST_PAYLOAD_MAX];
	struct quic_initial *qi;
	struct judgement j;
	char phrase[64];
	size_t n;

	if (quic_form(p->payload, p->payload_len) != QUIC_INITIAL)
		return v_give(h, G_DENY, NULL, 0);
	if (v_evaluate(sb, k, &q, BIND_NONE, &j))
		return reopen_quic(h, k, sb, &q, &j.v, NULL);
	if (j.v.verdict != VERDICT_NEED_PAYLOAD) {
		snprintf(phrase, sizeof(phrase), "sbxfw: %s", j.v.reason);
		if (!v_silent && (n = quic_refusal_header(p->payload,
							p->payload_len, phrase,
							close, sizeof(close))))
			v_to_client(k, close, n);
		return v_give(h, G_DENY, NULL, 0);
	}
	qi = quic_initial_new();
	quic_judge(qi, p->payload, p->payload_len, &fb);
	if (fb.kind == PAYLOAD_NONE)
		fb.kind = PAYLOAD_INCOMPLETE;	/* must be whole */
	fb_query(&fb, NULL, &q);
	if (v_evaluate(sb, k, &q, BIND_RESOLVE, &j)) {
		reopen_quic(h, k, sb, &q, &j.v, qi);
	} else if (j.bound == BOUND_WAIT) {
		/* its client sends it again: by then resolved */
		v_give(h, G_DROP, NULL, 0);
	} else {
		v_quic_refuse(qi, k, j.v.reason);
		v_give(h, G_DENY, NULL, 0);
		if (q.payload != PAYLOAD_INCOMPLETE) {
			v_count(sb, false);
			flow_judge_audit(sb, k, &q, &j.v, false);
		}
	}
	quic_initial_free(qi);
}
