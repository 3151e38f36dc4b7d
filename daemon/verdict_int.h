/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_VERDICT_INT_H
#define SBXFWD_VERDICT_INT_H

/* What the parts of the verdict path share (verdict.c: the queue
 * handler; verdict_flow.c: a flow's verdict given and carried out;
 * verdict_tcp.c, verdict_quic.c: segments and datagrams). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "flow_judge.h"
#include "marks.h"
#include "pkt.h"
#include "queue.h"
#include "quic.h"
#include "sandbox.h"
#include "verdict.h"

#define HOLD_TIMEOUT_NS (3ull * 1000000000)	/* for a ClientHello */
#define RESOLVE_WAIT_NS (4ull * 1000000000)	/* for our own resolution */
#define JUDGED_WAIT_NS (10ull * 1000000000)	/* for the server's ACK */
#define DECIDED_KEEP_NS (1ull * 1000000000)	/* late queued packets */
#define MAX_FLOWS 4096
#define SANDBOX_SHARE (MAX_FLOWS / 4)	/* of the table, per sandbox */

extern const struct marks *v_marks;
extern bool v_silent;
extern struct verdict_stats v_stats;
extern struct verdict_io v_io;

/* What a verdict does to the packet and to its flow's ct mark (the
 * commit chain copies the packet mark's state into it). */
enum give {
	G_PASS,		/* accepted; the ct mark unchanged */
	G_JUDGED,	/* accepted; an undecided ct mark becomes "judged" */
	G_ALLOW,	/* accepted; the ct mark becomes "allow" */
	G_DENY,		/* the ct mark becomes "deny": the packet is reset */
	G_DROP,
};


/* verdict_flow.c */
void v_latency(uint64_t start, bool commit);
void v_give(const struct held *h, enum give g, const uint8_t *pkt,
	    size_t len);
void v_give_all(const struct held *hs, size_t n, enum give g);
bool v_evaluate(const struct sandbox *sb, const struct flow_key *k,
		struct flow_query *q, enum bind_how how,
		struct judgement *j);
void v_count(struct sandbox *sb, bool allow);
void v_record(struct flow *f, const struct flow_query *q,
	      const struct verdict_result *v, bool allow);
void v_refuse(struct flow *f);
void v_to_client(const struct flow_key *k, const uint8_t *d, size_t n);
void v_quic_refuse(const struct quic_initial *q, const struct flow_key *k,
		   const char *reason);
void v_decide(struct flow *f, bool final);
void v_betrayed(struct flow *f, const char *why);
void v_retire(struct flow *f);
bool v_over_share(const struct held *h, const struct flow_key *k,
		  uint32_t sbid);
struct flow *v_flow_get(const struct flow_key *k, uint32_t sb,
			uint64_t now);

/* verdict_tcp.c */
void v_peek(struct flow *f);
bool v_tcp_segment(const struct queued *q, struct held *h,
		   const struct pkt *p, const struct flow_key *k,
		   uint64_t now);

/* verdict_quic.c */
void v_quic_in_flow(const struct held *h, const struct pkt *p,
		    const struct flow_key *k);
void v_udp_datagram(struct held *h, const struct pkt *p,
		    const struct flow_key *k, uint64_t now);
void v_quic_denied(const struct held *h, const struct pkt *p,
		   const struct flow_key *k);

#endif
