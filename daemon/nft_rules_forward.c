/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The forward path: the forward chain, the commit chain after it and
 * the chains they jump to (untracked, judged, ended, quic_long, deny,
 * quic_refuse, quic_queue), the conntrack timeouts of a sandbox's TCP
 * flows; and the output chain of the datagrams the daemon forges.
 *
 * forward (hook forward, priority -10):
 *   decided flows take the fast path on their ct mark; the first packet of
 *   an undecided flow is classified into a sandbox (its id OR-ed into the
 *   ct mark bit by bit, since nftables cannot OR two registers), then the
 *   kernel decides what ranges and modes decide; what needs the payload is
 *   marked "pending" and queued with the bypass flag.
 * commit (hook forward, priority -9): a verdict mark from the daemon goes
 *   into the ct mark; a packet still "pending" was bypassed because no
 *   daemon listens, and is refused (fail closed) or let through (fail_open).
 */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_tuple_common.h>
#include <linux/netlink.h>
#include <stdio.h>

#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>

#include "nft_int.h"

#define CT_STATE_INVALID 0x01
#define CT_STATE_NEW 0x08
#define CT_STATE_UNTRACKED 0x40

/* Remember the client's first sequence number from the server's SYN-ACK
 * (its acknowledgement number) so that a queued segment can be known as
 * the first of the stream, whatever order segments come in. */
static void r_syn_ack(struct batch *bt, const struct marks *m, int v6)
{
	struct nftnl_rule *r = rule_new("forward");

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, ST_NONE));
	m_ct_direction(r, IP_CT_DIR_REPLY);
	m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_tcp_flags(r, TCP_SYN | TCP_ACK, TCP_SYN | TCP_ACK);
	k_tcp_first(r, v6, true, 8);
	x_dynset_add(r, R0, v6 ? "first6" : "first4");
	msg_rule(bt, r, "rule remembering first sequence numbers");
}

/* A flow the kernel allowed without reading it: the segment that starts
 * its ClientHello (a handshake record, type client_hello) is logged as it
 * passes, for the flow's name in the audit; nothing waits for it. So are
 * the client's segments after it (a hello may span several: Chromium's,
 * with its post-quantum key share, takes two, its server_name anywhere),
 * the flow's conntrack id kept in the set "hello" from its start (10 s).
 * Within a flow's first 16 packets only (both ways; a Postgres SSLRequest
 * comes first), so that a sandbox cannot flood the log group that the
 * kernel's verdicts are audited through. QUIC the same: a client's
 * long-header datagrams on UDP 443, in the commit chain, which sees a
 * flow's first datagram too with the ct mark the forward chain just gave
 * it. */
#define NAME_PACKETS 16

/* A rule for a client's packets of a flow allowed: chain, protocol. */
static struct nftnl_rule *r_allowed_out(const char *chain,
					const struct nft_opts *o,
					uint8_t proto)
{
	struct nftnl_rule *r = rule_new(chain);

	m_mark(r, true, o->marks->state, NFT_CMP_EQ,
	       mark_state(o->marks, ST_ALLOW));
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_l4proto(r, NFT_CMP_EQ, proto);
	return r;
}

/* Within the flow's first NAME_PACKETS packets (op NFT_CMP_EQ), or past
 * them (NFT_CMP_NEQ). */
static void m_packets(struct nftnl_rule *r, uint32_t op)
{
	/* the counter is a host-order u64: (packets & ~15) == 0 */
	uint64_t under = ~(uint64_t)(NAME_PACKETS - 1), zero = 0, none = 0;

	x_ct(r, NFT_CT_PKTS, R0);
	x_bitwise_bytes(r, R0, 8, (const uint8_t *)&under,
			(const uint8_t *)&none);
	x_cmp(r, R0, op, &zero, 8);
}

static void r_name(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = r_allowed_out("forward", o, IPPROTO_TCP);

	/* the segments after the start (which is not in the set yet, so
	 * logged once): any with a payload byte */
	m_packets(r, NFT_CMP_EQ);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 0, 1, R0);
	x_ct(r, NFT_CT_ID, R0);
	x_lookup(r, R0, "hello", 0);
	x_log_len(r, o->log_group, NFLOG_NAME_PREFIX, NFLOG_NAME_SNAPLEN);
	msg_rule(bt, r, "naming rule, after the hello's start");
	r = r_allowed_out("forward", o, IPPROTO_TCP);
	m_packets(r, NFT_CMP_EQ);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 0, 1, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, 0x16);
	x_payload(r, NFT_PAYLOAD_INNER_HEADER, 5, 1, R0);
	x_cmp8(r, R0, NFT_CMP_EQ, 0x01);
	x_log_len(r, o->log_group, NFLOG_NAME_PREFIX, NFLOG_NAME_SNAPLEN);
	x_ct(r, NFT_CT_ID, R0);
	x_dynset_add(r, R0, "hello");
	msg_rule(bt, r, "naming rule");
}

static void r_name_quic(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = r_allowed_out("commit", o, IPPROTO_UDP);

	m_packets(r, NFT_CMP_EQ);
	m_quic_long(r);
	x_log_len(r, o->log_group, NFLOG_NAME_PREFIX, NFLOG_NAME_SNAPLEN);
	msg_rule(bt, r, "QUIC naming rule");
}

/* ct mark state s: verdict code (to chain) */
static void r_state(struct batch *bt, const struct marks *m, enum mark_state s,
		    int code, const char *chain)
{
	struct nftnl_rule *r = rule_new("forward");

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, s));
	x_verdict(r, code, chain);
	msg_rule(bt, r, "fast path rule");
}

/* A sandbox's share of what all share (conntrack, the first-byte set,
 * the queue): past flow_rate new flows a second (a burst of twice
 * that), its new flows are refused. A rate, not a count of
 * open flows: a token bucket per sandbox costs the same whatever the
 * number of flows (a conntrack count per sandbox slowed every new flow as
 * closed ones piled up). */
static void r_flow_limit(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_NEW, 0);
	x_cmp32(r, R0, NFT_CMP_NEQ, 0);
	x_sandbox_over(r, o, "sb_flows", o->flow_rate);
	s_decide(r, o, ST_DENY, "flow-limit");
	msg_rule(bt, r, "flow limit rule");
}

/* The last rule of a chain: what reaches it goes to the daemon. */
static void r_queue_rest(struct batch *bt, const char *chain,
			 const struct nft_opts *o, const char *what)
{
	struct nftnl_rule *r = rule_new(chain);

	/* the conntrack entry's id to the daemon, in the packet's priority
	 * (NFQUEUE here carries no conntrack data): the daemon's flows are
	 * keyed by ports, and conntrack begins a new entry on the same
	 * ports on a SYN after the client's reset (verdict_tcp.c
	 * same_connection); the verdict sets the priority back to 0 */
	x_ct(r, NFT_CT_ID, R0);
	x_meta_set(r, NFT_META_PRIORITY, R0);
	x_queue(r, o, true);
	msg_rule(bt, r, what);
}

/* Mark as pending, as the first byte of the stream when it is, queue. */
static void r_queue(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	r = rule_new("forward");
	s_mark(r, false, m->state, mark_state(m, ST_PEND));
	msg_rule(bt, r, "pending mark rule");
	for (int v6 = 0; v6 <= 1; v6++) {
		r = rule_new("forward");
		m_nfproto(r, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
		k_tcp_first(r, v6, false, 4);
		x_lookup(r, R0, v6 ? "first6" : "first4", 0);
		s_mark(r, false, m->state, mark_state(m, ST_PEND_FIRST));
		msg_rule(bt, r, "first segment rule");
	}
	r_queue_rest(bt, "forward", o, o->native_queue ? "queue rule" :
		     "queue rule (xt NFQUEUE)");
}

/* `open': a bare SYN on an entry whose handshake is done and whose flow
 * is undecided (its hello held, say) would open the server a second
 * connection on the same ports if the first is gone there (a server
 * that dropped the handshake's ACK and took a reset): one whose
 * acknowledgement numbers the sandbox picks, by its first sequence
 * number, so that the server's ACK of the second could pass for one of
 * the judged hello. Dropped; but the SYN that begins the entry again,
 * which the daemon sends through once more still marked "reopen" (an
 * entry with a verdict: r_reopen). Past the no-payload rules, a SYN
 * with data on such an entry, that one too, is no handshake: dropped,
 * never taken as the stream's start. (On a new connection the daemon
 * strips its data: TCP Fast Open.) */
static void r_late_syn(struct batch *bt, const struct marks *m, bool open)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_NEW, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, 0);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_tcp_flags(r, TCP_SYN, TCP_SYN);
	if (open) {
		/* a handshake done (a SYN sent again before it is: its
		 * SYN-ACK was lost, and a server of SYN cookies never sends
		 * it again) */
		x_ct(r, NFT_CT_STATUS, R0);
		x_bitwise(r, R0, 4, IPS_ASSURED, 0);
		x_cmp32(r, R0, NFT_CMP_NEQ, 0);
		m_mark(r, false, m->state, NFT_CMP_NEQ,
		       mark_state(m, ST_REOPEN));
	}
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, open ? "SYN on an open entry rule" : "late SYN rule");
}

static void r_jump_state(struct batch *bt, const char *chain,
			 const struct marks *m, enum mark_state s,
			 const char *to)
{
	struct nftnl_rule *r = rule_new(chain);

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, s));
	x_verdict(r, NFT_JUMP, to);
	msg_rule(bt, r, to);
}

/* Packets conntrack does not track (invalid ones such as SYN|FIN, or
 * NOTRACK): no verdict can hold them, so a sandbox's are dropped; those
 * of others go on untouched. */
static void r_untracked(struct batch *bt)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_INVALID | CT_STATE_UNTRACKED, 0);
	x_cmp32(r, R0, NFT_CMP_NEQ, 0);
	x_verdict(r, NFT_JUMP, "untracked");
	msg_rule(bt, r, "untracked jump");
}

void rules_untracked(struct batch *bt)
{
	struct nftnl_rule *r;

	for (enum sb_key k = K_IIF; k <= K_SRC6; k++) {
		r = rule_new("untracked");
		k_sb(r, k, R0);
		x_lookup(r, R0, sb_map(k), R1);
		x_verdict(r, NF_DROP, NULL);
		msg_rule(bt, r, "untracked sandbox rule");
	}
	r = rule_new("untracked");
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "untracked rule");
}

/* A judged flow (allowed, its first bytes not yet acknowledged by the
 * server): the server's packets and the client's data are queued. */
void rules_judged(struct batch *bt, const struct nft_opts *o)
{
	rules_ttl(bt, "judged");
	rules_packet_mark(bt, "judged", o->marks, ST_PEND_JUDGED);
	r_nopayload(bt, "judged", 0, true, false);
	r_nopayload(bt, "judged", 1, true, false);
	r_queue_rest(bt, "judged", o, "judged queue rule");
}

/* Longer than one datagram on an Ethernet MTU: a UDP GSO batch (one
 * packet, several datagrams, split only on delivery), whose later
 * datagrams the first-byte rule never reads. The daemon gets it split
 * (its queues take no GSO packets). */
#define QUIC_DATAGRAM_MAX 1500

static void r_quic_batch(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = r_allowed_out("forward", o, IPPROTO_UDP);

	x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R0);
	x_cmp(r, R0, NFT_CMP_EQ, &(uint16_t){ htons(443) }, 2);
	x_meta(r, NFT_META_LEN, R0);
	x_hton32(r, R0);
	x_cmp(r, R0, NFT_CMP_GT, &(uint32_t){ htonl(QUIC_DATAGRAM_MAX) }, 4);
	x_verdict(r, NFT_JUMP, "quic_long");
	msg_rule(bt, r, "QUIC batch rule");
}

/* A QUIC 5-tuple may carry more than one connection (the server tells
 * them apart by connection ID): a client's long-header datagram on an
 * allowed UDP 443 flow, where another connection's Initial would be, goes
 * to the daemon with its sandbox's id and no state (without a daemon it
 * passes: an allowed flow's handshake must not fail with it). */
static void r_quic_long(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = r_allowed_out("forward", o, IPPROTO_UDP);

	m_quic_long(r);
	x_verdict(r, NFT_JUMP, "quic_long");
	msg_rule(bt, r, "QUIC long header rule");
	r_quic_batch(bt, o);
	rules_packet_mark(bt, "quic_long", m, ST_NONE);
	/* a handshake sends a few: past 4 x flow_rate a second a sandbox
	 * floods the daemon, and what exceeds is dropped */
	r = rule_new("quic_long");
	x_sandbox_over(r, o, "sb_quic", o->flow_rate * 4);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "QUIC long header limit rule");
	r_queue_rest(bt, "quic_long", o, "QUIC long header queue rule");
}

/* The datagrams the daemon sends in a server's name are never tracked
 * (rst.h); the host's own output is otherwise untouched. */
void rules_forged(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r = rule_new("forged");

	m_mark(r, false, m->mask, NFT_CMP_EQ, mark_state(m, NFT_FORGED_STATE));
	x_add(r, nftnl_expr_alloc("notrack"));
	msg_rule(bt, r, "forged datagram rule");
}

/* A bare SYN in the original direction on an entry that holds a verdict
 * (not a new one): another connection, which conntrack may take as the
 * old one, its mark and all (after a reset from the server it does). */
static void m_reopen(struct nftnl_rule *r, const struct marks *m)
{
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_tcp_flags(r, TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN, TCP_SYN);
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	x_ct(r, NFT_CT_STATE, R0);
	x_bitwise(r, R0, 4, CT_STATE_NEW, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, 0);
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	m_mark(r, true, m->state, NFT_CMP_NEQ, mark_state(m, ST_NONE));
}

/* an ended entry's timeout (r_ended, below) */
#define ENDED_S 7

/* The fast path of an allowed flow, ahead of the rules up to that
 * state's accept (reopened, ended, naming, QUIC) for the packets none of
 * them concerns: the server's, and the client's TCP segments past the
 * naming rules' first packets that are no SYN on an entry not ended. */
static void r_fast(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = rule_new("forward");

	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, ST_ALLOW));
	m_ct_direction(r, IP_CT_DIR_REPLY);
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "reply fast path rule");
	r = r_allowed_out("forward", o, IPPROTO_TCP);
	m_tcp_flags(r, TCP_SYN, 0);
	x_ct(r, NFT_CT_EXPIRATION, R0);
	x_hton32(r, R0);
	x_cmp(r, R0, NFT_CMP_GT, &(uint32_t){ htonl(ENDED_S * 1000) }, 4);
	if (o->log_allowed)
		m_packets(r, NFT_CMP_NEQ);
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "client's fast path rule");
}

/* Such a SYN goes to the daemon, which begins the entry again for a
 * sandbox's own connection (undecided, the SYN through this chain once
 * more) and deletes it for one towards a sandbox (the client's next SYN
 * begins a new entry). They are limited to the sandbox's flow_rate, or
 * a sandbox could begin connections without end on one entry; in a
 * meter of their own (sb_reopen), not sb_flows: an entry opened towards
 * a sandbox carries its id, and a host connecting to it must not use up
 * the sandbox's own new flows. Not bypassed: with no daemon, dropped. */
static void r_reopen(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = rule_new("forward");

	m_reopen(r, m);
	x_sandbox_over(r, o, "sb_reopen", o->flow_rate);
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "reopened connection limit rule");
	r = rule_new("forward");
	m_reopen(r, m);
	s_mark(r, false, m->state, mark_state(m, ST_REOPEN));
	x_queue(r, o, false);
	msg_rule(bt, r, "reopened connection rule");
}

/* A verdict belongs to one connection. An ended entry (CLOSE after a
 * reset, TIME_WAIT after a close) keeps its "allow" while conntrack keeps
 * it, and a server in SYN-cookie mode takes an ACK with data at the old
 * sequence numbers for a new connection: it would pass on the fast path
 * unjudged. A sandbox's TCP flows take their own timeout policy: the
 * host's timeouts, but ENDED_S for TIME_WAIT and CLOSE, a value no other
 * state starts from, so that an entry with that little time left has
 * ended (or, rarely, fell silent in a closing state for a long while):
 * the client's segments with data are dropped there (the "ended" chain).
 * Past it the entry is gone, and such a packet begins one of its own,
 * judged. Not 0: late segments of a closed connection would each open an
 * entry of their own. */
#define CT_TIMEOUT_OBJ "sb_tcp"

static uint32_t host_timeout(const char *state, uint32_t dflt)
{
	char path[128];
	unsigned long v;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_%s", state);
	if (!(f = fopen(path, "re")))
		return dflt;
	if (fscanf(f, "%lu", &v) != 1 || v > UINT32_MAX)
		v = dflt;
	fclose(f);
	return (uint32_t)v;
}

void msg_ct_timeout(struct batch *bt)
{
	static const struct {
		int idx;
		const char *state;
		uint32_t dflt;
	} states[] = {
		{ NFTNL_CTTIMEOUT_TCP_SYN_SENT, "syn_sent", 120 },
		{ NFTNL_CTTIMEOUT_TCP_SYN_RECV, "syn_recv", 60 },
		{ NFTNL_CTTIMEOUT_TCP_ESTABLISHED, "established", 432000 },
		{ NFTNL_CTTIMEOUT_TCP_FIN_WAIT, "fin_wait", 120 },
		{ NFTNL_CTTIMEOUT_TCP_CLOSE_WAIT, "close_wait", 60 },
		{ NFTNL_CTTIMEOUT_TCP_LAST_ACK, "last_ack", 30 },
		{ NFTNL_CTTIMEOUT_TCP_SYN_SENT2, "syn_sent", 120 },
		{ NFTNL_CTTIMEOUT_TCP_RETRANS, "max_retrans", 300 },
		{ NFTNL_CTTIMEOUT_TCP_UNACK, "unacknowledged", 300 },
	};
	uint32_t t[NFTNL_CTTIMEOUT_TCP_MAX];
	struct nftnl_obj *o = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	t[NFTNL_CTTIMEOUT_TCP_TIME_WAIT] = ENDED_S;
	t[NFTNL_CTTIMEOUT_TCP_CLOSE] = ENDED_S;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		t[states[i].idx] = host_timeout(states[i].state,
						states[i].dflt);
	nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_str(o, NFTNL_OBJ_NAME, CT_TIMEOUT_OBJ);
	nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
	nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_CT_TIMEOUT);
	nftnl_obj_set_u16(o, NFTNL_OBJ_CT_TIMEOUT_L3PROTO, NFPROTO_INET);
	nftnl_obj_set_u8(o, NFTNL_OBJ_CT_TIMEOUT_L4PROTO, IPPROTO_TCP);
	nftnl_obj_set_data(o, NFTNL_OBJ_CT_TIMEOUT_ARRAY, t, sizeof(t));
	nlh = batch_msg(bt, NFT_MSG_NEWOBJ, NLM_F_CREATE, "ct timeout");
	nftnl_obj_nlmsg_build_payload(nlh, o);
	nftnl_obj_free(o);
	batch_done_msg(bt);
}

/* A new TCP flow of a sandbox takes those timeouts (before conntrack
 * confirms it: its first packet). */
static void r_ct_timeout(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r = rule_new("forward");
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_mark(r, true, m->id, NFT_CMP_NEQ, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_CT_TIMEOUT);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, CT_TIMEOUT_OBJ);
	x_add(r, e);
	msg_rule(bt, r, "conntrack timeout rule");
}

/* An allowed TCP flow whose entry has ended: the client's bare segments
 * (ACKs, FINs, resets) pass, its data does not. Expiration first: an
 * open flow's is far above ENDED_S, and most packets stop there. */
static void r_ended(struct batch *bt, const struct marks *m)
{
	struct nftnl_rule *r = rule_new("forward");

	x_ct(r, NFT_CT_EXPIRATION, R0);
	x_hton32(r, R0);
	x_cmp(r, R0, NFT_CMP_LTE, &(uint32_t){ htonl(ENDED_S * 1000) }, 4);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
	m_mark(r, true, m->state, NFT_CMP_EQ, mark_state(m, ST_ALLOW));
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	x_verdict(r, NFT_GOTO, "ended");
	msg_rule(bt, r, "ended connection rule");
	r_nopayload(bt, "ended", 0, true, true);
	r_nopayload(bt, "ended", 1, true, true);
	r = rule_new("ended");
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "ended connection drop");
}

void rules_forward(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	/* before any verdict, a flow's own included: a packet that comes
	 * in by a sandbox's interface, or from a source-range sandbox's
	 * address, must come from an address routed back that way, or
	 * another link could speak in a sandbox's name on its open flows */
	r_rpf_in(bt, "forward", K_IIF);
	r_rpf_in(bt, "forward", K_SRC4);
	r_rpf_in(bt, "forward", K_SRC6);
	r_fast(bt, o);
	r_reopen(bt, o);
	r_ended(bt, m);
	/* the fast path first: most packets stop at the first rule */
	if (o->log_allowed)
		r_name(bt, o);
	r_quic_long(bt, o);
	r_state(bt, m, ST_ALLOW, NF_ACCEPT, NULL);
	r_state(bt, m, ST_OTHER, NF_ACCEPT, NULL);
	r_state(bt, m, ST_DENY, NFT_JUMP, "deny");
	r_untracked(bt);
	r_jump_state(bt, "forward", m, ST_JUDGED, "judged");
	r_syn_ack(bt, m, 0);
	r_syn_ack(bt, m, 1);
	/* a reply comes from the server: a sandbox's packet in the reply
	 * direction of an undecided flow (an entry opened towards it in
	 * another's name) is one it would send unjudged; the untracked
	 * chain drops a sandbox's and accepts the rest */
	r = rule_new("forward");
	m_ct_direction(r, IP_CT_DIR_REPLY);
	x_verdict(r, NFT_GOTO, "untracked");
	msg_rule(bt, r, "reply rule");
	r = r_classified(bt, "forward", m);
	x_verdict(r, NFT_JUMP, "inbound");
	msg_rule(bt, r, "inbound jump");
	r = rule_new("forward");
	m_mark(r, true, m->id, NFT_CMP_EQ, 0);
	s_mark(r, true, m->state, mark_state(m, ST_OTHER));
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "not-a-sandbox rule");
	r_ct_timeout(bt, m);
	r_late_syn(bt, m, true);
	rules_packet_mark(bt, "forward", m, ST_NONE);
	r_flow_limit(bt, o);
	rules_ttl(bt, "forward");
	rules_policy(bt, o, "forward", false);
	r_nopayload(bt, "forward", 0, false, false);
	r_nopayload(bt, "forward", 1, false, false);
	/* only TCP and UDP can say where they go */
	r = rule_new("forward");
	x_meta(r, NFT_META_L4PROTO, R0);
	x_cmp8(r, R0, NFT_CMP_NEQ, IPPROTO_TCP);
	x_cmp8(r, R0, NFT_CMP_NEQ, IPPROTO_UDP);
	s_decide(r, o, ST_DENY, "not-tls");
	msg_rule(bt, r, "not-tls");
	r_late_syn(bt, m, false);
	r_queue(bt, o);
}

void rules_deny(struct batch *bt, const struct nft_opts *o)
{
	struct nftnl_rule *r = rule_new("deny");

	/* a client's QUIC long header: to the daemon, which refuses it as
	 * its server would (not with deny_action = drop) or opens the flow
	 * again for a new connection (chain quic_refuse); from the forward
	 * chain only (the commit chain's carry a state) */
	m_mark(r, false, o->marks->state, NFT_CMP_EQ,
	       mark_state(o->marks, ST_NONE));
	m_ct_direction(r, IP_CT_DIR_ORIGINAL);
	m_l4proto(r, NFT_CMP_EQ, IPPROTO_UDP);
	m_quic_long(r);
	x_verdict(r, NFT_JUMP, "quic_refuse");
	msg_rule(bt, r, "QUIC refusal rule");
	if (!o->drop) {
		/* a server's packet of a flow cut while open: the daemon
		 * resets both ends from it (dropped if no daemon listens) */
		r = rule_new("deny");
		m_ct_direction(r, IP_CT_DIR_REPLY);
		m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
		s_mark(r, false, o->marks->state,
		       mark_state(o->marks, ST_DENY));
		x_queue(r, o, false);
		msg_rule(bt, r, "cut flow rule");
		r = rule_new("deny");
		m_l4proto(r, NFT_CMP_EQ, IPPROTO_TCP);
		x_reject(r, NFT_REJECT_TCP_RST, 0);
		msg_rule(bt, r, "reset rule");
		r = rule_new("deny");
		x_reject(r, NFT_REJECT_ICMPX_UNREACH,
			 NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		msg_rule(bt, r, "icmp rule");
	}
	r = rule_new("deny");
	x_verdict(r, NF_DROP, NULL);
	msg_rule(bt, r, "drop rule");
}

/* A denied flow's QUIC long header (SPEC §1.9): ICMP alone leaves
 * some clients (ngtcp2) to their own timeout, so the daemon answers it
 * with the server's Initial closing the connection, and may judge afresh
 * an Initial that opens a new one on the 5-tuple (verdict.c). A sandbox's
 * own, its id in the packet mark found again by where the packet comes
 * from (none for a flow opened towards a sandbox), within its
 * long-header rate; the rest get the ICMP alone. Without a daemon the
 * queue lets it by to the commit chain, whose "deny" state refuses it in
 * the kernel. */
void rules_quic_refuse(struct batch *bt, const struct nft_opts *o)
{
	const struct marks *m = o->marks;
	struct nftnl_rule *r = rule_new("quic_refuse");

	s_mark(r, false, m->mask, 0);
	msg_rule(bt, r, "QUIC refusal: packet mark cleared");
	/* the interface wins over the source address, as in classify; a
	 * spoofed source never got this far (forward's reverse path rules;
	 * the daemon opens an entry again only for the sandbox it belongs
	 * to, too) */
	r_classify_into(bt, m, "quic_refuse", K_IIF, false);
	for (int i = 0; i < 2; i++) {
		r = rule_new("quic_refuse");
		m_mark(r, false, m->id, NFT_CMP_NEQ, 0);
		x_verdict(r, NFT_GOTO, "quic_queue");
		msg_rule(bt, r, "QUIC refusal: a sandbox's packet");
		if (i)
			break;
		r_classify_into(bt, m, "quic_refuse", K_SRC4, false);
		r_classify_into(bt, m, "quic_refuse", K_SRC6, false);
	}
	r = rule_new("quic_queue");
	x_sandbox_over(r, o, "sb_quic", o->flow_rate * 4);
	x_verdict(r, NFT_RETURN, NULL);
	msg_rule(bt, r, "QUIC refusal limit rule");
	r = rule_new("quic_queue");
	s_mark(r, false, m->state, mark_state(m, ST_DENY));
	x_queue(r, o, true);
	msg_rule(bt, r, "QUIC refusal queue rule");
}

/* packet mark state pkt and ct mark state ct: the ct mark becomes to */
static void r_commit(struct batch *bt, const struct marks *m,
		     enum mark_state pkt, enum mark_state ct,
		     enum mark_state to)
{
	struct nftnl_rule *r = rule_new("commit");

	m_mark(r, false, m->state, NFT_CMP_EQ, mark_state(m, pkt));
	x_ct(r, NFT_CT_MARK, R0);
	x_bitwise(r, R0, 4, m->state, 0);
	x_cmp32(r, R0, NFT_CMP_EQ, mark_state(m, ct));
	s_mark(r, true, m->state, mark_state(m, to));
	msg_rule(bt, r, "commit rule");
}

void rules_commit(struct batch *bt, const struct nft_opts *o)
{
	static const enum mark_state pending[] = { ST_PEND, ST_PEND_FIRST,
						   ST_PEND_JUDGED };
	const struct marks *m = o->marks;
	struct nftnl_rule *r;

	if (o->log_allowed)
		r_name_quic(bt, o);
	/* no verdict of ours on it (the fast path): nothing to do */
	r = rule_new("commit");
	m_mark(r, false, m->state, NFT_CMP_EQ, mark_state(m, ST_NONE));
	x_verdict(r, NF_ACCEPT, NULL);
	msg_rule(bt, r, "commit fast path");
	/* still pending: bypassed, no daemon on the queue */
	for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++) {
		r = rule_new("commit");
		m_mark(r, false, m->state, NFT_CMP_EQ,
		       mark_state(m, pending[i]));
		if (o->fail_open)
			x_verdict(r, NF_ACCEPT, NULL);
		else
			x_verdict(r, NFT_JUMP, "deny");
		msg_rule(bt, r, "fail-closed rule");
	}
	r_commit(bt, m, ST_ALLOW, ST_NONE, ST_ALLOW);
	r_commit(bt, m, ST_ALLOW, ST_JUDGED, ST_ALLOW);
	r_commit(bt, m, ST_JUDGED, ST_NONE, ST_JUDGED);
	r = rule_new("commit");
	m_mark(r, false, m->state, NFT_CMP_EQ, mark_state(m, ST_DENY));
	s_mark(r, true, m->state, mark_state(m, ST_DENY));
	x_verdict(r, NFT_JUMP, "deny");
	msg_rule(bt, r, "commit deny");
}
