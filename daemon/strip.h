/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFWD_STRIP_H
#define SBXFWD_STRIP_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* The largest headers a stripped segment keeps (IPv6 with extension
 * headers, TCP with options). */
#define STRIP_MAX 512

/* A TCP segment without its payload: the IP and TCP headers of `ip'
 * (decoded as p) copied to out, with lengths and checksums made right.
 * SYN data (TCP Fast Open) and RST data go no further than the daemon.
 * Returns the new length, 0 when the headers do not fit out. */
size_t strip_payload(const uint8_t *ip, const struct pkt *p, uint8_t *out,
		     size_t outlen);

#endif
