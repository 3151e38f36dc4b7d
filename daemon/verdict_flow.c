/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verdicts for queued packets (SPEC §1.7, §2): the state they share,
 * how a verdict is given (every queued packet gets exactly one, through
 * v_give(), and none is let through before its flow's verdict), and a
 * flow's verdict on its first bytes, carried out: a TCP flow is held
 * until its first bytes are judged, then "judged" until the server has
 * acknowledged those very bytes, and only then committed to the ct
 * mark's fast path. */
#include <errno.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "conns.h"
#include "ct.h"
#include "flow_judge.h"
#include "log.h"
#include "metrics.h"
#include "quic.h"
#include "revoke.h"
#include "route.h"
#include "rst.h"
#include "sandbox.h"
#include "verdict_int.h"
#include "wire.h"

const struct marks *v_marks;
bool v_silent;
struct verdict_stats v_stats;
static void cut_open(const struct flow_key *k);

void verdict_flow_ended(const struct flow_key *k, uint32_t ctmark,
			uint64_t bytes_out, uint64_t bytes_in,
			uint64_t start_ns, void *arg)
{
	const struct sandbox *sb = sandbox_get(mark_get_id(v_marks, ctmark));

	(void)arg;
	if (sb)
		audit_flow_end(sb->name, k, bytes_out, bytes_in, start_ns);
}

/* Only a sandbox's own connection, and only while the table would still
 * classify its source to that sandbox (an interface sandbox made since
 * takes it first): one opened towards a sandbox begins again with a new
 * entry, which the inbound rules judge, never the outbound ones. An
 * entry already undecided is not begun again (-EALREADY): the SYN is a
 * duplicate, or its own entry died and the tuple's is another's, and
 * its end must not be recorded twice. */
static int restart_entry(const struct flow_key *k)
{
	char oif[IF_NAMESIZE];
	const struct sandbox *sb;
	struct flow_key orig;
	uint32_t mark;
	int err;

	if ((err = ct_get_entry(k, &orig, &mark)) < 0)
		return err;
	/* ctnetlink finds a tuple as an entry's reply tuple too: that entry
	 * (opened the other way) is another connection's */
	if (memcmp(&orig, k, sizeof(orig)) ||
	    (mark & v_marks->state) == mark_state(v_marks, ST_NONE))
		return -EALREADY;
	sb = sandbox_get(mark_get_id(v_marks, mark));
	if (!sb || route_oif(k->family, k->src, oif) < 0 ||
	    sandbox_classify(oif, k->family, k->src) != sb)
		return -EPERM;
	return ct_restart(k, v_marks->state, verdict_flow_ended, NULL);
}

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
	if ((now & v_marks->id) != (mark & v_marks->id))
		return -EPERM;
	return ct_set_mark(k, mark, v_marks->mask);
}

static int entry_state(const struct flow_key *k)
{
	uint32_t mark;
	int err;

	queue_flush();	/* a judged verdict given, its ct mark set */
	if ((err = ct_get_mark(k, &mark)) < 0)
		return err;
	return (int)((mark & v_marks->state) >> v_marks->shift);
}

static const struct verdict_io real_io = { queue_verdict, cut_open,
					   restart_entry, forget_entry,
					   reopen_entry, entry_state };
struct verdict_io v_io = real_io;

void verdict_configure(bool drop)
{
	v_silent = drop;
}

void verdict_init(const struct marks *m)
{
	v_marks = m;
	flow_init(MAX_FLOWS, HOLD_TIMEOUT_NS);
}

void verdict_set_io(const struct verdict_io *with)
{
	v_io = with ? *with : real_io;
}

static void cut_open(const struct flow_key *k)
{
	revoke_flow(k, mark_state(v_marks, ST_DENY), v_marks->state);
}

const struct verdict_stats *verdict_stats(void)
{
	return &v_stats;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t verdict_latency(double pct, bool commit)
{
	static uint32_t sorted[LAT_SAMPLES];
	uint64_t all = commit ? v_stats.commits : v_stats.packets;
	size_t n = all < LAT_SAMPLES ? all : LAT_SAMPLES;
	size_t at;

	if (!n)
		return 0;
	memcpy(sorted, commit ? v_stats.commit_ns : v_stats.lat_ns,
	       n * sizeof(sorted[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_u32);
	at = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return sorted[at];
}

void v_latency(uint64_t start, bool commit)
{
	uint64_t d = now_ns() - start;
	uint32_t ns = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;

	v_stats.lat_ns[(v_stats.packets - 1) % LAT_SAMPLES] = ns;
	if (commit)
		v_stats.commit_ns[v_stats.commits++ % LAT_SAMPLES] = ns;
	metrics_verdict_duration(d);
}

/* The one way a queued packet gets its verdict. pkt, when not NULL,
 * replaces the packet. */
void v_give(const struct held *h, enum give g, const uint8_t *pkt,
	    size_t len)
{
	static const enum mark_state state[] = {
		[G_PASS] = ST_NONE, [G_JUDGED] = ST_JUDGED,
		[G_ALLOW] = ST_ALLOW, [G_DENY] = ST_DENY,
	};
	uint32_t mark;

	if (g == G_DROP) {
		v_io.verdict(h->queue, h->id, NF_DROP, -1, NULL, 0);
		return;
	}
	mark = (h->mark & ~v_marks->state) | mark_state(v_marks, state[g]);
	v_io.verdict(h->queue, h->id, NF_ACCEPT, mark, pkt, len);
}

void v_give_all(const struct held *hs, size_t n, enum give g)
{
	for (size_t i = 0; i < n; i++)
		v_give(&hs[i], g, NULL, 0);
}

/* The judge's word on k, in the judgement j, as a queued packet can
 * carry it out: DNS the ruleset did not send to the resolver (a flow
 * older than the ruleset) is refused. */
bool v_evaluate(const struct sandbox *sb, const struct flow_key *k,
		struct flow_query *q, enum bind_how how,
		struct judgement *j)
{
	bool allow = flow_judge(sb, k, q, how, j);

	if (j->v.verdict == VERDICT_DNS) {
		j->v.verdict = VERDICT_DENY;
		j->v.reason = "dns-not-redirected";
	}
	return allow;
}

void v_count(struct sandbox *sb, bool allow)
{
	if (allow) {
		v_stats.allowed++;
		if (sb)
			sb->allowed++;
	} else {
		v_stats.denied++;
		if (sb)
			sb->denied++;
	}
}

void v_record(struct flow *f, const struct flow_query *q,
	      const struct verdict_result *v, bool allow)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	char sni[WIRE_TEXT_MAX(CH_SNI_MAX)];

	v_count(sb, allow);
	flow_judge_audit(sb, &f->key, q, v, allow);
	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	if (q->sni)
		wire_text(q->sni, q->sni_len, sni, sizeof(sni));
	log_debug("%s %s sni=%s reason=%s", sb ? sb->name : "?",
		  allow ? "allow" : "deny", q->sni ? sni : "-", v->reason);
}

/* Refuse a held flow: its first segment carries "deny" (the commit chain
 * resets the client), the rest are dropped, and the server, which
 * accepted the handshake and waits for the stream's first byte, is reset
 * too. */
void v_refuse(struct flow *f)
{
	struct held hs[FLOW_HELD_MAX];
	size_t n = flow_take_all(f, hs);

	if (n) {
		v_give(&hs[0], G_DENY, NULL, 0);
		v_give_all(hs + 1, n - 1, G_DROP);
		if (f->have_base)
			rst_send(&f->key, f->base + (uint32_t)f->passed);
	} else if (f->passed) {
		v_io.cut(&f->key);	/* bytes of its hello passed */
	}
	flow_decided(f, PH_DENIED);
}

/* A datagram to the client of k, in its server's name. */
void v_to_client(const struct flow_key *k, const uint8_t *d, size_t n)
{
	struct flow_key back;

	flow_key_reverse(k, &back);
	rst_datagram(&back, d, n);
}

/* The refusal of a QUIC connection whose Initials q read. */
void v_quic_refuse(const struct quic_initial *q, const struct flow_key *k,
		   const char *reason)
{
	uint8_t close[RST_PAYLOAD_MAX];
	char phrase[64];
	size_t len;

	if (v_silent)
		return;
	snprintf(phrase, sizeof(phrase), "sbxfw: %s", reason);
	if ((len = quic_refusal(q, phrase, close, sizeof(close))))
		v_to_client(k, close, len);
}

/* A QUIC flow refused so that every client notices at once (SPEC
 * §1.9): the server's Initial closing it, under the keys of the client's
 * Initials (some clients ignore ICMP), and ICMP on its first datagram. */
static void refuse_datagrams(struct flow *f, const char *reason)
{
	struct held hs[FLOW_HELD_MAX];
	size_t n = flow_take_all(f, hs);

	if (f->qi)
		v_quic_refuse(f->qi, &f->key, reason);
	if (n) {
		v_give(&hs[0], G_DENY, NULL, 0);
		v_give_all(hs + 1, n - 1, G_DROP);
	} else {
		v_io.cut(&f->key);	/* none held to carry "deny" */
	}
	flow_decided(f, PH_DENIED);
}

static void deny(struct flow *f, const struct verdict_result *v)
{
	if (f->key.proto == IPPROTO_UDP)
		refuse_datagrams(f, v->reason);
	else
		v_refuse(f);
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
		v_give_all(hs, flow_take_all(f, hs), G_ALLOW);
		return flow_decided(f, PH_ALLOWED);
	}
	f->judged = f->have_base ? f->r.contig : 0;
	n = flow_take_held(f, f->judged, hs, &straddle);
	v_give_all(hs, n, G_JUDGED);
	f->deadline_ns = now + JUDGED_WAIT_NS;
	flow_decided(f, PH_JUDGED);
}

/* The flow's verdict on its first bytes. Unless it waits for the daemon
 * to resolve its name (not when `final'). */
void v_decide(struct flow *f, bool final)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { 0 };
	struct judgement j;
	bool allow;

	fb_query(&f->fb, f->have_base ? &f->r : NULL, &q);
	allow = v_evaluate(sb, &f->key, &q, final ? BIND_FINAL : BIND_RESOLVE,
			   &j);
	if (!allow && j.bound == BOUND_WAIT) {
		if (!f->waiting)	/* from the first wait on */
			f->deadline_ns = now_ns() + RESOLVE_WAIT_NS;
		f->waiting = true;
		return;
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
		deny(f, &j.v);
	}
	v_record(f, &q, &j.v, allow);
}

/* A judged flow cut: counted and audited with why. */
void v_betrayed(struct flow *f, const char *why)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { .sni = f->fb.ch.has_sni ? f->fb.ch.sni : NULL,
				.sni_len = f->fb.ch.sni_len };
	struct verdict_result v = { VERDICT_DENY, why, "" };

	v_count(sb, false);
	flow_judge_audit(sb, &f->key, &q, &v, false);
}

/* Gone from the table: a held flow is denied (incomplete), what waits
 * for a server's acknowledgement is dropped (its client sends it again,
 * and a flow judged but unknown is cut). */
void v_retire(struct flow *f)
{
	struct held hs[FLOW_HELD_MAX];

	if (f->phase == PH_HOLDING) {
		f->r.state = REASM_GIVE_UP;
		v_decide(f, true);
	}
	v_give_all(hs, flow_take_all(f, hs), G_DROP);
	flow_destroy(f);
}

/* Past its share of the table, a sandbox's new flow is refused. */
bool v_over_share(const struct held *h, const struct flow_key *k,
		  uint32_t sbid)
{
	struct sandbox *sb = sandbox_get(sbid);
	struct verdict_result v = { VERDICT_DENY, "flow-limit", "" };
	struct flow_query q = { 0 };

	if (flow_sandbox_count(sbid) < SANDBOX_SHARE)
		return false;
	v_give(h, G_DENY, NULL, 0);
	v_count(sb, false);
	flow_judge_audit(sb, k, &q, &v, false);
	return true;
}

struct flow *v_flow_get(const struct flow_key *k, uint32_t sb,
			uint64_t now)
{
	struct flow *f;

	while (flow_bytes() > FLOW_BYTES_MAX && flow_oldest())
		v_retire(flow_oldest());
	while (!(f = flow_create(k, sb, now)))
		v_retire(flow_oldest());
	return f;
}
