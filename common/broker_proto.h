/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_BROKER_PROTO_H
#define SBXFW_BROKER_PROTO_H

/* The protocol between sbxfwd and sbxfw-broker, for both sides: the
 * descriptors the broker starts with, and the names in its messages. */

/* The daemon and its broker: JSON messages, one per SOCK_SEQPACKET
 * datagram, none larger than this (a sandbox's rules and CA are one). */
#define BROKER_MSG_MAX (1 << 20)

/* ---- the broker's descriptors, as its supervisor execs it ---- */
#define BROKER_FD_IPC 3		/* the socketpair with the daemon */
#define BROKER_FD_LISTEN 4	/* the listener the ruleset redirects to */
/* the broker's program, opened by the daemon while root (close-on-exec:
 * the supervisor's alone) */
#define BROKER_FD_EXE 5

/* ---- message types: the value of BROKER_F_TYPE ---- */
/* broker to daemon */
#define BROKER_MSG_HELLO "hello"	/* pid: a new broker */
#define BROKER_MSG_JUDGE "judge"	/* id, local, lport, peer, pport,
					 * status, sni, ech, again */
#define BROKER_MSG_REQUESTS "requests"	/* rows: arrays [sandbox, host,
					 * method, path, status, injected,
					 * error] */
#define BROKER_MSG_TAKEN "taken"	/* seq: a change is in force */
/* daemon to broker */
#define BROKER_MSG_CONFIG "config"	/* trust, leaf_days */
#define BROKER_MSG_JUDGED "judged"	/* id, action, sandbox, dst, dport,
					 * host */
#define BROKER_MSG_SANDBOX "sandbox"	/* seq, id, name, ca, key, policy */
#define BROKER_MSG_SANDBOX_GONE "sandbox-gone"	/* seq, id, destroyed */

/* ---- field names ---- */
#define BROKER_F_TYPE "t"
#define BROKER_F_PID "pid"
#define BROKER_F_ID "id"
#define BROKER_F_LOCAL "local"
#define BROKER_F_LPORT "lport"
#define BROKER_F_PEER "peer"
#define BROKER_F_PPORT "pport"
#define BROKER_F_STATUS "status"
#define BROKER_F_SNI "sni"
#define BROKER_F_ECH "ech"
#define BROKER_F_AGAIN "again"
#define BROKER_F_ROWS "rows"
#define BROKER_F_SEQ "seq"
#define BROKER_F_TRUST "trust"
#define BROKER_F_LEAF_DAYS "leaf_days"
#define BROKER_F_ACTION "action"
#define BROKER_F_SANDBOX "sandbox"
#define BROKER_F_DST "dst"
#define BROKER_F_DPORT "dport"
#define BROKER_F_HOST "host"
#define BROKER_F_NAME "name"
#define BROKER_F_CA "ca"
#define BROKER_F_KEY "key"
#define BROKER_F_POLICY "policy"
#define BROKER_F_DESTROYED "destroyed"

/* ---- values: a judge's status (what the flow's first bytes were) ---- */
#define BROKER_STATUS_WHO "who"		/* its sandbox alone is asked */
#define BROKER_STATUS_TLS "tls"
#define BROKER_STATUS_NOT_TLS "not-tls"
#define BROKER_STATUS_MALFORMED "malformed"
#define BROKER_STATUS_INCOMPLETE "incomplete"

/* ---- values: a judged's action ---- */
#define BROKER_ACTION_TERMINATE "terminate"
#define BROKER_ACTION_RELAY "relay"
#define BROKER_ACTION_WHO "who"
#define BROKER_ACTION_DENY "deny"

#endif
