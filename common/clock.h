/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CLOCK_H
#define SBXFW_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif
