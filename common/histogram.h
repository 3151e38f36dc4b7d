/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_HISTOGRAM_H
#define SBXFW_HISTOGRAM_H

#include <stdint.h>

/* Durations counted in fixed buckets (seconds), as Prometheus'
 * histograms expose them: from 5 us to 1 s. */
#define HISTOGRAM_BUCKETS 12
extern const double histogram_bounds[HISTOGRAM_BUCKETS];

struct histogram {
	uint64_t n[HISTOGRAM_BUCKETS + 1];	/* the last: past every bound */
	uint64_t count;
	double sum;			/* seconds */
};

void histogram_observe(struct histogram *h, uint64_t ns);

#endif
