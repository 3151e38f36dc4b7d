/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_FLOW_H
#define SBXFWD_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firstbytes.h"
#include "pkt.h"
#include "quic.h"
#include "reasm.h"

#define FLOW_HELD_MAX 64	/* segments held per flow */

struct flow_key {
	uint8_t family, proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

/* A queued packet waiting for its verdict. */
struct held {
	uint32_t id;
	uint16_t queue;
	uint32_t mark;
	uint32_t seq;		/* of its first payload byte */
	uint32_t len;		/* payload bytes */
	uint32_t entry;		/* its conntrack entry's id, 0: not known */
};

/* A segment that came before the stream's first byte was known. */
struct early {
	uint32_t seq;
	uint8_t *data;
	size_t len;
};

/* Where a flow stands. A TCP flow's verdict belongs to one connection:
 * its first byte (the client's ISN + 1) and the bytes it was judged on. */
enum flow_phase {
	PH_HOLDING,	/* its first bytes are gathered, every segment held */
	PH_JUDGED,	/* allowed, "judged" in the ct mark: until the server
			 * acknowledges the judged bytes, every segment is
			 * queued and checked against them */
	PH_ALLOWED,	/* committed: "allow" in the ct mark */
	PH_DENIED,
};

/* A server_name read before its hello was whole (SPEC §1.7): a denied
 * name is refused at once; an allowed one lets the hello's bytes pass as
 * they come, the verdict still waiting for the whole hello. */
enum flow_peek { PEEK_NONE, PEEK_WAIT, PEEK_ALLOWED };

struct flow {
	struct flow *hnext;		/* hash chain */
	struct flow *prev, *next;	/* least recently used first */
	struct flow_key key;
	uint32_t entry;		/* the conntrack entry's id, 0: not known */
	uint32_t sandbox;
	enum flow_phase phase;
	enum flow_peek peek;
	bool waiting;		/* for the daemon's own resolution of its SNI */
	bool have_base;
	uint32_t base;		/* sequence number of the stream's first byte */
	struct reasm r;		/* from PH_JUDGED on: the judged bytes */
	size_t judged;		/* how many */
	size_t passed;		/* bytes let through before the verdict: a
				 * Postgres request, a hello's after its
				 * allowed server_name */
	struct first_bytes fb;
	struct quic_initial *qi;	/* UDP 443: its Initials so far */
	bool quic;		/* judged by its Initials: read after, too */
	struct held held[FLOW_HELD_MAX];
	size_t nheld;
	struct early *early;
	size_t nearly, early_bytes;
	uint64_t deadline_ns, last_ns;
	size_t mem;		/* bytes it holds, for the table's bound */
};

/* Past this many bytes held by the table, too, the least recently used
 * flow is given up. */
#define FLOW_BYTES_MAX (32u << 20)

/* The table is bounded: past max flows the least recently used is given
 * up, so memory does not grow with traffic. */
void flow_init(size_t max, uint64_t hold_timeout_ns);
void flow_fini(void);
struct flow *flow_lookup(const struct flow_key *k);
/* NULL when the table is full. */
struct flow *flow_create(const struct flow_key *k, uint32_t sandbox,
			 uint64_t now_ns);
void flow_touch(struct flow *f, uint64_t now_ns);
void flow_destroy(struct flow *f);
/* Least recently used first, for timeouts and eviction. */
struct flow *flow_oldest(void);
size_t flow_count(void);
/* Flows not yet allowed or denied (holding, judged). */
size_t flow_undecided(void);
size_t flow_held_count(void);
size_t flow_bytes(void);
/* Flows of one sandbox in the table still waiting for their verdict or
 * its acknowledgement (decided ones are kept briefly for late packets:
 * they are not the sandbox's share). */
size_t flow_sandbox_count(uint32_t sandbox);
bool flow_is_decided(const struct flow *f);

void flow_key_of(const struct pkt *p, struct flow_key *k);
uint32_t flow_key_hash(const struct flow_key *k);
/* The other direction's key: ends swapped. */
void flow_key_reverse(const struct flow_key *k, struct flow_key *out);

/* Keep a packet until its verdict; false when the flow holds its most.
 * A datagram's seq is its place in the flow. */
bool flow_hold(struct flow *f, const struct held *h);
/* Feed a segment to reassembly (or keep it until the base is known). */
enum reasm_state flow_feed(struct flow *f, uint32_t seq, const uint8_t *data,
			   size_t len, uint64_t now_ns);
/* Start the stream at base; replays segments that came early. */
enum reasm_state flow_set_base(struct flow *f, uint32_t base,
			       uint64_t now_ns);
/* Take the held packets that end within the stream's first `upto'
 * bytes, in stream order, into out (FLOW_HELD_MAX); returns how many.
 * *straddle: a packet still held begins before `upto'. */
size_t flow_take_held(struct flow *f, size_t upto, struct held *out,
		      bool *straddle);
/* Take them all, in stream order. */
size_t flow_take_all(struct flow *f, struct held *out);
/* The verdict is given: keep the judged bytes (PH_JUDGED) or nothing. */
void flow_decided(struct flow *f, enum flow_phase phase);

/* How a segment of a judged flow compares with the judged bytes. */
enum flow_match {
	FM_WITHIN,	/* inside them, and equal */
	FM_BEYOND,	/* equal where it overlaps them, and goes past */
	FM_CONFLICT,	/* different bytes where the verdict was given */
};
enum flow_match flow_match_judged(const struct flow *f, uint32_t seq,
				  const uint8_t *data, size_t len);
/* seq lies in this connection's stream, not far from where it started
 * (a segment of another connection of the same ports has another ISN). */
bool flow_seq_near(const struct flow *f, uint32_t seq);

#endif
