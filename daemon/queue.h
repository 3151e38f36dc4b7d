/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_QUEUE_H
#define SBXFWD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* NFQUEUE over libmnl: packets in, verdicts out, in batches. */
struct queued {
	uint32_t id;
	uint16_t queue;
	uint32_t mark;
	uint32_t indev;
	uint32_t entry;		/* the conntrack entry's id (the priority the
				 * queue rule gives it); 0: not known */
	const uint8_t *data;	/* from the IP header */
	size_t len;
};

typedef void (*queue_handler)(const struct queued *q, void *arg);

/* Bind queues first..first+n-1; returns the socket to poll. */
int queue_open(uint16_t first, uint16_t n, char *err, size_t errlen);
void queue_close(void);
/* Read and hand over what is waiting; -errno on a socket error. */
int queue_receive(queue_handler h, void *arg);
/* Verdicts are collected and sent by queue_flush. mark < 0: unchanged;
 * pkt (len bytes from the IP header) replaces the packet when not NULL. */
void queue_verdict(uint16_t queue, uint32_t id, int verdict, int64_t mark,
		   const uint8_t *pkt, size_t len);
int queue_flush(void);
/* Packets dropped by the kernel (queue full) since the start. */
uint64_t queue_drops(void);

#endif
