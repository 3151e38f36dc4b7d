/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Verdicts for queued packets (SPEC §1.7, §2). */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "conns.h"
#include "dns.h"
#include "flow.h"
#include "log.h"
#include "pgstartup.h"
#include "rst.h"
#include "sandbox.h"
#include "verdict.h"

#define HOLD_TIMEOUT_NS (3ull * 1000000000)	/* for a ClientHello */
#define RESOLVE_WAIT_NS (4ull * 1000000000)	/* for our own resolution */
#define DECIDED_KEEP_NS (1ull * 1000000000)	/* late queued packets */
#define MAX_FLOWS 4096

static const struct marks *marks;
static bool ech_deny, ip_binding;
static struct verdict_stats stats;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

void verdict_configure(bool deny_ech, bool binding)
{
	ech_deny = deny_ech;
	ip_binding = binding;
}

void verdict_init(const struct marks *m)
{
	marks = m;
	flow_init(MAX_FLOWS, HOLD_TIMEOUT_NS);
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

static uint32_t with_state(uint32_t mark, enum mark_state s)
{
	return (mark & ~marks->state) | mark_state(marks, s);
}

static void give(uint16_t queue, uint32_t id, uint32_t mark,
		 enum mark_state s)
{
	queue_verdict(queue, id, NF_ACCEPT, with_state(mark, s));
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

/* SPEC §3 address binding: a name the policy allows, to an address the
 * sandbox (or the daemon) resolved it to. */
static enum dns_bound bound(const struct sandbox *sb, const struct flow *f,
			    const struct flow_query *q, bool final)
{
	char name[DOMAIN_MAX + 1];

	if (domain_name_normalize(q->sni, q->sni_len, name) < 0)
		return BOUND_NO;
	return dns_bound(sb->id, name, f->key.family, f->key.dst,
			 final ? BIND_FINAL : BIND_RESOLVE);
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

/* The flow's verdict: held segments released in stream order, or the
 * first marked denied (the commit chain resets it) and the rest dropped.
 * Unless it waits for the daemon to resolve its name (not when `final'). */
static void decide(struct flow *f, bool final)
{
	struct sandbox *sb = sandbox_get(f->sandbox);
	struct flow_query q = { 0 };
	struct verdict_result v;
	bool allow;

	fb_query(&f->fb, f->have_base ? &f->r : NULL, &q);
	allow = evaluate(sb, &f->key, &q, &v);
	if (allow && ip_binding && !strcmp(v.reason, "domain-allowed")) {
		switch (bound(sb, f, &q, final)) {
		case BOUND_YES:
			break;
		case BOUND_WAIT:
			if (!f->waiting)	/* from the first wait on */
				f->deadline_ns = now_ns() + RESOLVE_WAIT_NS;
			f->waiting = true;
			return;
		case BOUND_NO:
			allow = false;
			v.verdict = VERDICT_DENY;
			v.reason = "sni-address-mismatch";
			break;
		}
	}
	f->waiting = false;
	flow_sort_held(f);
	for (size_t i = 0; i < f->nheld; i++) {
		const struct held *h = &f->held[i];

		if (allow)
			give(h->queue, h->id, h->mark, ST_ALLOW);
		else if (i == 0)
			give(h->queue, h->id, h->mark, ST_DENY);
		else
			queue_verdict(h->queue, h->id, NF_DROP, -1);
	}
	/* the server accepted the handshake and waits: end it too (it has
	 * seen no byte, so it expects the stream's first) */
	if (!allow && f->have_base && f->nheld)
		rst_send(&f->key, f->base);
	if (allow && q.sni)
		conns_add(&f->key, q.sni, q.sni_len);
	count(sb, allow);
	audit(&f->key, sb, &q, &v, allow);
	log_debug("%s %s sni=%s reason=%s", sb ? sb->name : "?",
		  allow ? "allow" : "deny", q.sni ? q.sni : "-", v.reason);
	flow_decided(f, allow);
}

/* A Postgres SSLRequest: its 8 fixed bytes pass (the server answers `S'),
 * and the ClientHello that follows is judged like any other. */
static enum reasm_state past_sslrequest(struct flow *f, uint64_t now)
{
	if (f->r.contig != PG_REQUEST_LEN)
		return REASM_GIVE_UP;
	for (size_t i = 0; i < f->nheld; i++)
		give(f->held[i].queue, f->held[i].id, f->held[i].mark,
		     ST_NONE);
	flow_clear_held(f);
	reasm_fini(&f->r);
	memset(&f->fb, 0, sizeof(f->fb));
	flow_set_base(f, f->base + PG_REQUEST_LEN, now);
	return REASM_NEED_MORE;
}

static struct flow *flow_get(const struct flow_key *k, uint32_t sb,
			     uint64_t now)
{
	struct flow *f = flow_lookup(k);

	if (f)
		return f;
	while (!(f = flow_create(k, sb, now))) {
		struct flow *old = flow_oldest();

		if (!old->decided)
			decide(old, true);	/* held: incomplete, denied */
		flow_destroy(old);
	}
	return f;
}

static void tcp_segment(const struct queued *q, const struct pkt *p,
			const struct flow_key *k, uint32_t sb, uint64_t now)
{
	bool first = (q->mark & marks->state) ==
		     mark_state(marks, ST_PEND_FIRST);
	uint32_t seq = p->seq + ((p->tcp_flags & PKT_TCP_SYN) ? 1 : 0);
	struct flow *f = flow_get(k, sb, now);
	enum reasm_state st;

	flow_touch(f, now);
	if (f->decided) {
		/* queued before the ct mark was set */
		if (f->allow)
			give(q->queue, q->id, q->mark, ST_ALLOW);
		else
			queue_verdict(q->queue, q->id, NF_DROP, -1);
		return;
	}
	if (f->waiting) {	/* judged but for its address: kept too */
		if (!flow_hold(f, q->id, q->queue, q->mark, seq))
			queue_verdict(q->queue, q->id, NF_DROP, -1);
		return;
	}
	if (!flow_hold(f, q->id, q->queue, q->mark, seq)) {
		queue_verdict(q->queue, q->id, NF_DROP, -1);
		f->r.state = REASM_GIVE_UP;
		return decide(f, false);
	}
	if (first && !f->have_base && flow_set_base(f, seq, now) != REASM_NEED_MORE)
		return decide(f, false);
	st = flow_feed(f, seq, p->payload, p->payload_len, now);
	if (st == REASM_COMPLETE && f->fb.pg == PG_SSL_REQUEST &&
	    f->fb.kind == PAYLOAD_NONE)
		st = past_sslrequest(f, now);
	if (st != REASM_NEED_MORE)
		decide(f, false);
}

/* A datagram flow is judged on its first packet; those queued before
 * the ct mark was set get the same verdict without another audit row. */
static void udp_datagram(const struct queued *q, const struct flow_key *k,
			 uint32_t sbid, uint64_t now)
{
	struct sandbox *sb = sandbox_get(sbid);
	struct flow_query fq = { .payload = PAYLOAD_NOT_TLS };
	struct flow *f = flow_get(k, sbid, now);
	struct verdict_result v;
	bool allow;

	flow_touch(f, now);
	if (f->decided) {
		give(q->queue, q->id, q->mark, f->allow ? ST_ALLOW : ST_DENY);
		return;
	}
	allow = evaluate(sb, k, &fq, &v);
	give(q->queue, q->id, q->mark, allow ? ST_ALLOW : ST_DENY);
	count(sb, allow);
	audit(k, sb, &fq, &v, allow);
	flow_decided(f, allow);
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

void verdict_packet(const struct queued *q, void *arg)
{
	uint64_t start = now_ns();
	uint32_t sb = mark_get_id(marks, q->mark);
	struct flow_key k;
	struct pkt p;

	(void)arg;
	stats.packets++;
	if (pkt_decode(PKT_LINKTYPE_RAW, q->data, q->len, &p) != PKT_OK) {
		/* nothing we can judge: fail closed */
		give(q->queue, q->id, q->mark, ST_DENY);
		goto out;
	}
	flow_key_of(&p, &k);
	if ((q->mark & marks->state) == mark_state(marks, ST_DENY)) {
		if (p.proto == IPPROTO_TCP)
			cut_flow(&p, &k);
		queue_verdict(q->queue, q->id, NF_DROP, -1);
		goto out;
	}
	if (p.proto == IPPROTO_UDP)
		udp_datagram(q, &k, sb, now_ns());
	else if (p.payload_len == 0)	/* no data after all: not judged */
		give(q->queue, q->id, q->mark, ST_NONE);
	else
		tcp_segment(q, &p, &k, sb, now_ns());
out:
	latency(start);
}

void verdict_tick(uint64_t now)
{
	struct flow *f = flow_oldest(), *next;

	for (; f; f = next) {
		next = f->next;
		if (f->decided) {
			if (now - f->last_ns > DECIDED_KEEP_NS)
				flow_destroy(f);
			continue;
		}
		if (now >= f->deadline_ns && f->waiting) {
			decide(f, true);
		} else if (now >= f->deadline_ns) {
			if (f->have_base)
				reasm_tick(&f->r, now);
			else
				f->r.state = REASM_GIVE_UP;
			f->r.why = REASM_WHY_TIMEOUT;
			decide(f, true);
		}
	}
}

void verdict_resolved(void)
{
	for (struct flow *f = flow_oldest(); f; f = f->next)
		if (!f->decided && f->waiting)
			decide(f, false);
}

void verdict_release_all(void)
{
	for (struct flow *f = flow_oldest(); f; f = f->next)
		if (!f->decided)
			decide(f, true);
	flow_fini();
}
