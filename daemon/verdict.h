/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_VERDICT_H
#define SBXFWD_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "marks.h"
#include "queue.h"

#define LAT_SAMPLES 8192

struct verdict_stats {
	uint64_t packets, allowed, denied;
	uint32_t lat_ns[LAT_SAMPLES];	/* the latest, packet in to verdict */
};

void verdict_init(const struct marks *m);
/* From the ini, at start and on SIGHUP: [tls] ech = deny, [dns]
 * ip_binding = strict (SPEC §3). */
void verdict_configure(bool ech_deny, bool binding);
/* The queue handler: every packet gets exactly one verdict, now or when
 * its flow is decided. */
void verdict_packet(const struct queued *q, void *arg);
/* Give up on flows held too long; forget old decisions. */
void verdict_tick(uint64_t now_ns);
/* The daemon resolved a name: flows waiting for it are decided. */
void verdict_resolved(void);
/* Deny everything still held (shutdown). */
void verdict_release_all(void);
const struct verdict_stats *verdict_stats(void);
/* Latency percentile (0..100) in ns, from the histogram. */
uint64_t verdict_latency(double pct);

uint64_t now_ns(void);

#endif
