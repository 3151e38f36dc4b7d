/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The queue handler (verdict.h): each queued packet to the path its
 * protocol and ct mark say; the timer's round over the held flows. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "flow_judge.h"
#include "log.h"
#include "revoke.h"
#include "rst.h"
#include "verdict_int.h"

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
 * takes a SYN on it as the same flow, its mark and all). The entry is
 * the new connection's, undecided: the old one's end is recorded, the
 * verdict cleared, and the SYN goes through the forward chain again
 * (NF_REPEAT) as a new flow's first packet does: reverse path, ranges,
 * the mode. A connection towards a sandbox (inbound), or an entry gone
 * meanwhile: the entry is deleted and the SYN dropped, and the client's
 * next (1 s later) begins a new entry, judged as any. */
static void reopened(struct held *h, const struct flow_key *k)
{
	struct flow *f = flow_lookup(k);
	int rc = v_io.restart(k);

	log_debug("a SYN on an entry with a verdict (port %u): %s",
		  (unsigned)k->sport, rc == 0 ? "begun again" :
		  rc == -EALREADY ? "dropped" : "forgotten");
	if (rc == -EALREADY)	/* begun again already: this SYN goes, the
				 * entry's connection (its flow) stays */
		return v_give(h, G_DROP, NULL, 0);
	if (f) {	/* the old connection's, whatever its phase */
		struct held hs[FLOW_HELD_MAX];

		v_give_all(hs, flow_take_all(f, hs), G_DROP);
		flow_destroy(f);
	}
	if (rc < 0) {		/* towards a sandbox, or gone */
		v_io.forget(k);
		return v_give(h, G_DROP, NULL, 0);
	}
	v_stats.reopened++;
	/* still marked "reopen": the one SYN on an open entry that the
	 * forward chain lets through (r_late_syn) */
	v_io.verdict(h->queue, h->id, NF_REPEAT, h->mark, NULL, 0);
}

void verdict_packet(const struct queued *q, void *arg)
{
	uint64_t start = now_ns();
	struct held h = { .id = q->id, .queue = q->queue, .mark = q->mark,
			  .entry = q->entry };
	struct flow_key k;
	struct pkt p;
	bool commit = false;

	(void)arg;
	v_stats.packets++;
	if (pkt_decode(PKT_LINKTYPE_RAW, q->data, q->len, &p) != PKT_OK) {
		/* nothing we can judge: fail closed */
		v_give(&h, G_DENY, NULL, 0);
		goto out;
	}
	flow_key_of(&p, &k);
	if (p.proto == IPPROTO_TCP &&
	    (q->mark & v_marks->state) == mark_state(v_marks, ST_REOPEN)) {
		reopened(&h, &k);
	} else if ((q->mark & v_marks->state) == mark_state(v_marks, ST_DENY) &&
		   p.proto == IPPROTO_UDP) {
		v_quic_denied(&h, &p, &k);
	} else if ((q->mark & v_marks->state) == mark_state(v_marks, ST_DENY)) {
		if (p.proto == IPPROTO_TCP)
			cut_flow(&p, &k);
		v_give(&h, G_DROP, NULL, 0);
	} else if (p.proto == IPPROTO_UDP &&
		   (q->mark & v_marks->state) == mark_state(v_marks, ST_NONE)) {
		v_quic_in_flow(&h, &p, &k);
	} else if (p.proto == IPPROTO_UDP) {
		v_udp_datagram(&h, &p, &k, start);
	} else {
		commit = v_tcp_segment(q, &h, &p, &k, start);
	}
out:
	v_latency(start, commit);
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
		return v_decide(f, true);
	case PH_JUDGED:
		/* the server never acknowledged what was judged: cut */
		if (now >= f->deadline_ns) {
			v_give_all(hs, flow_take_all(f, hs), G_DROP);
			v_io.cut(&f->key);
			v_betrayed(f, "not-acknowledged");
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

/* The flows from the oldest touched; once every undecided one was seen,
 * the rest are decided and younger than DECIDED_KEEP_NS (touched in
 * order) and nothing is left to do: a tick costs what is due, not a
 * visit of every flow decided in the last second. */
void verdict_tick(uint64_t now)
{
	struct flow *f = flow_oldest(), *next;
	size_t open = flow_undecided();

	for (; f; f = next) {
		next = f->next;
		if (!open && now - f->last_ns <= DECIDED_KEEP_NS)
			break;
		if (!flow_is_decided(f))
			open--;
		tick_flow(f, now);
	}
}

void verdict_resolved(void)
{
	for (struct flow *f = flow_oldest(); f; f = f->next) {
		if (f->phase != PH_HOLDING)
			continue;
		if (f->waiting)
			v_decide(f, false);
		else if (f->peek == PEEK_WAIT)
			v_peek(f);
	}
}

void verdict_release_all(void)
{
	while (flow_oldest())
		v_retire(flow_oldest());
	flow_fini();
}
