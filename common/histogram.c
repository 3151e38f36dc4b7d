/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "histogram.h"

const double histogram_bounds[HISTOGRAM_BUCKETS] = {
	5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 0.025, 0.1,
	1.0,
};

void histogram_observe(struct histogram *h, uint64_t ns)
{
	double s = (double)ns / 1e9;
	unsigned b = 0;

	while (b < HISTOGRAM_BUCKETS && s > histogram_bounds[b])
		b++;
	h->n[b]++;
	h->count++;
	h->sum += s;
}
