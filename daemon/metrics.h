/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_METRICS_H
#define SBXFWD_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"

/* Prometheus' text format over HTTP ([metrics] listen): libmicrohttpd on
 * a thread of its own serves the text the event loop renders once a
 * second, so that no scrape waits for a verdict nor a verdict for a
 * scrape. The counters below are the event loop's alone. */
struct sandbox;
void metrics_verdict(const struct sandbox *sb, bool allow,
		     const char *reason);
void metrics_verdict_duration(uint64_t ns);
void metrics_broker_request(int status);
void metrics_sandbox_gone(uint32_t id);

/* After the privilege drop (the listener's thread is filtered too). */
int metrics_start(struct daemon *d, char *err, size_t errlen);
void metrics_tick(void);
void metrics_stop(void);

#endif
