/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_BROKER_PROTO_H
#define SBXFW_BROKER_PROTO_H

/* The daemon and its broker: JSON messages, one per SOCK_SEQPACKET
 * datagram, none larger than this (a sandbox's rules and CA are one). */
#define BROKER_MSG_MAX (1 << 20)

#endif
