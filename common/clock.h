/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CLOCK_H
#define SBXFW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);
/* CLOCK_REALTIME ms from now: a deadline for pthread_cond_timedwait. */
struct timespec deadline_ms(unsigned ms);

#endif
