/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_FLOW_H
#define SBXFWD_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firstbytes.h"
#include "pkt.h"
#include "reasm.h"

#define FLOW_HELD_MAX 64	/* segments held per flow */

struct flow_key {
	uint8_t family, proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

/* A queued packet waiting for its flow's verdict. */
struct held {
	uint32_t id;
	uint16_t queue;
	uint32_t mark;
	uint32_t seq;
};

/* A segment that came before the stream's first byte was known. */
struct early {
	uint32_t seq;
	uint8_t *data;
	size_t len;
};

struct flow {
	struct flow *hnext;		/* hash chain */
	struct flow *prev, *next;	/* oldest first */
	struct flow_key key;
	uint32_t sandbox;
	bool decided, allow;
	bool waiting;		/* for the daemon's own resolution of its SNI */
	bool have_base;
	uint32_t base;
	struct reasm r;
	struct first_bytes fb;
	struct held held[FLOW_HELD_MAX];
	size_t nheld;
	struct early *early;
	size_t nearly, early_bytes;
	uint64_t deadline_ns, last_ns;
};

/* The table is bounded: past max flows the oldest is given up (a held
 * flow is denied), so memory does not grow with traffic. */
void flow_init(size_t max, uint64_t hold_timeout_ns);
void flow_fini(void);
struct flow *flow_lookup(const struct flow_key *k);
struct flow *flow_create(const struct flow_key *k, uint32_t sandbox,
			 uint64_t now_ns);
void flow_touch(struct flow *f, uint64_t now_ns);
void flow_destroy(struct flow *f);
/* Oldest first, for timeouts and eviction. */
struct flow *flow_oldest(void);
size_t flow_count(void);
size_t flow_held_count(void);

void flow_key_of(const struct pkt *p, struct flow_key *k);
uint32_t flow_key_hash(const struct flow_key *k);
/* The other direction's key: ends swapped. */
void flow_key_reverse(const struct flow_key *k, struct flow_key *out);
/* Keep a segment until its flow has a verdict; false when full. */
bool flow_hold(struct flow *f, uint32_t id, uint16_t queue, uint32_t mark,
	       uint32_t seq);
/* Feed a segment to reassembly (or keep it until the base is known). */
enum reasm_state flow_feed(struct flow *f, uint32_t seq, const uint8_t *data,
			   size_t len, uint64_t now_ns);
/* Start the stream at base; replays segments that came early. */
enum reasm_state flow_set_base(struct flow *f, uint32_t base,
			       uint64_t now_ns);
/* Held segments have had their verdicts. */
void flow_clear_held(struct flow *f);
/* The verdict is given: free the reassembly, keep the decision. */
void flow_decided(struct flow *f, bool allow);
/* Sort held segments by their place in the stream. */
void flow_sort_held(struct flow *f);

#endif
