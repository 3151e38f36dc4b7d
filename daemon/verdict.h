/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_VERDICT_H
#define SBXFWD_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "marks.h"
#include "queue.h"

#define LAT_SAMPLES 8192

struct verdict_stats {
	uint64_t packets, allowed, denied;
	uint64_t reopened;	/* SYNs that began a connection on an old entry */
	uint32_t lat_ns[LAT_SAMPLES];	/* the latest, packet in to verdict */
	/* the server's first packets of judged flows, which commit their
	 * verdicts (the insertion defence's second queued packet) */
	uint64_t commits;
	uint32_t commit_ns[LAT_SAMPLES];
};

void verdict_init(const struct marks *m);
/* What the verdict path does to the world: queue verdicts (pkt, when not
 * NULL, replaces the packet), cut an open flow (its ct mark to "deny",
 * both ends made to answer so that they are reset), and forget a
 * conntrack entry. A test puts recorders in their place; NULL: the real
 * ones. */
struct verdict_io {
	void (*verdict)(uint16_t queue, uint32_t id, int verdict,
			int64_t mark, const uint8_t *pkt, size_t len);
	void (*cut)(const struct flow_key *k);
	/* a sandbox's connection begins again on its conntrack entry: the
	 * last one's end recorded, the entry undecided (0; -EALREADY when it
	 * is undecided already, -EPERM for a connection towards a sandbox,
	 * -errno when gone) */
	int (*restart)(const struct flow_key *k);
	/* forget the conntrack entry (a connection begins again on it) */
	void (*forget)(const struct flow_key *k);
	/* the entry of a denied flow allowed again for a new connection
	 * on it: its ct mark to `mark' (0, or -errno when gone) */
	int (*reopen)(const struct flow_key *k, uint32_t mark);
	/* the state in the ct mark of k's entry, once the verdicts given
	 * are sent (-errno when gone) */
	int (*entry_state)(const struct flow_key *k);
};
void verdict_set_io(const struct verdict_io *io);
/* From the ini, at start and on SIGHUP (the judge's part goes to
 * flow_judge_configure). silent: deny_action = drop, no refusal of our
 * own reaches a client. */
void verdict_configure(bool silent);
/* The queue handler: every packet gets exactly one verdict, now or when
 * its flow is decided. */
void verdict_packet(const struct queued *q, void *arg);
/* Give up on flows held too long; forget old decisions. */
void verdict_tick(uint64_t now_ns);
/* The daemon resolved a name: flows waiting for it are decided. */
void verdict_resolved(void);
/* A flow's end (conntrack's event, or a restart of its entry): the row's
 * bytes and end time (ct_end_fn). */
void verdict_flow_ended(const struct flow_key *k, uint32_t ctmark,
			uint64_t bytes_out, uint64_t bytes_in,
			uint64_t start_ns, void *arg);
/* Deny everything still held (shutdown). */
void verdict_release_all(void);
const struct verdict_stats *verdict_stats(void);
/* Latency percentile (0..100) in ns over the latest LAT_SAMPLES
 * packets, or (commit) the latest servers' first packets alone. */
uint64_t verdict_latency(double pct, bool commit);

#endif
