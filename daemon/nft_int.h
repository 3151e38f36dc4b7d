/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the parts of the nft module share, and nothing else uses: the
 * batch and its messages (nft_batch.c), the expressions (nft_expr.c), the
 * sets and their elements (nft_elems.c), the rules of the chains
 * (nft_rules.c, nft_rules_forward.c, nft_rules_in.c) and the table made of
 * them (nft_table.c), in that order: each part uses only those before it.
 * The rest of the daemon uses nft.h. */
#ifndef SBXFWD_NFT_INT_H
#define SBXFWD_NFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netfilter/nf_tables.h>

#include "marks.h"
#include "nft.h"

struct mnl_nlmsg_batch;
struct nlmsghdr;
struct nftnl_expr;
struct nftnl_rule;

#define R0 NFT_REG32_00
#define R1 NFT_REG32_01
#define R2 NFT_REG32_02
#define R3 NFT_REG32_03
#define R4 NFT_REG32_04
#define R5 NFT_REG32_05
#define R8 NFT_REG32_08

/* ---- nft_batch.c: batches, with each message's meaning kept for error
 * reports, and the messages of the table, a chain, a rule ---- */

struct batch {
	struct mnl_nlmsg_batch *b;
	char *buf;
	uint32_t first_seq, next_seq;
	const char **what;	/* by seq - first_seq */
	size_t nwhat, cap;
	bool overflow;
};

/* the table messages name: NFT_TABLE, another only while probing */
extern const char *table;

void batch_begin(struct batch *bt);
struct nlmsghdr *batch_msg(struct batch *bt, uint16_t type,
			   uint16_t flags, const char *what);
void batch_done_msg(struct batch *bt);
int batch_commit(struct batch *bt, char *err, size_t errlen);
void msg_table(struct batch *bt, uint16_t type, uint32_t flags,
	       const char *what);
void msg_chain(struct batch *bt, const char *name, const char *type,
	       uint32_t hook, int prio);
struct nftnl_rule *rule_new(const char *chain);
void msg_rule(struct batch *bt, struct nftnl_rule *r, const char *what);

/* ---- nft_expr.c: expressions, compound matches and statements ---- */

#define x_meta(r, key, reg) x_keyed(r, false, key, reg, false)
#define x_meta_set(r, key, reg) x_keyed(r, false, key, reg, true)
#define x_ct(r, key, reg) x_keyed(r, true, key, reg, false)
#define x_ct_set(r, key, reg) x_keyed(r, true, key, reg, true)

/* What a sandbox is looked up by: where a packet comes from (its own
 * flows) or where it goes (flows opened towards it). */
enum sb_key { K_IIF, K_SRC4, K_SRC6, K_OIF, K_DST4, K_DST6 };

void x_add(struct nftnl_rule *r, struct nftnl_expr *e);
void x_keyed(struct nftnl_rule *r, bool ct, uint32_t key, uint32_t reg,
	     bool set);
void x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
	       uint32_t len, uint32_t dreg);
void x_bitwise(struct nftnl_rule *r, uint32_t reg, uint32_t len,
	       uint32_t mask, uint32_t xor);
void x_bitwise_bytes(struct nftnl_rule *r, uint32_t reg, uint32_t len,
		     const uint8_t *mask, const uint8_t *xor);
void x_payload_write(struct nftnl_rule *r, uint32_t off, uint32_t len,
		     uint32_t reg, uint32_t csum_off);
void x_fib_rpf(struct nftnl_rule *r, uint32_t reg);
void x_cmp(struct nftnl_rule *r, uint32_t reg, uint32_t op,
	   const void *data, uint32_t len);
void x_hton32(struct nftnl_rule *r, uint32_t reg);
void x_cmp8(struct nftnl_rule *r, uint32_t reg, uint32_t op, uint8_t v);
void x_cmp32(struct nftnl_rule *r, uint32_t reg, uint32_t op,
	     uint32_t v);
void x_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set,
	      uint32_t dreg);
void x_dynset_add(struct nftnl_rule *r, uint32_t sreg, const char *set);
void m_alive(struct nftnl_rule *r);
void x_verdict(struct nftnl_rule *r, int code, const char *chain);
void x_reject(struct nftnl_rule *r, uint32_t type, uint8_t code);
void x_log_len(struct nftnl_rule *r, uint16_t group,
	       const char *prefix, uint32_t snaplen);
void x_queue(struct nftnl_rule *r, const struct nft_opts *o,
	     bool bypass);
void x_redirect(struct nftnl_rule *r, uint16_t port);
void m_nfproto(struct nftnl_rule *r, uint8_t proto);
void m_l4proto(struct nftnl_rule *r, uint32_t op, uint8_t proto);
void m_mark(struct nftnl_rule *r, bool ct, uint32_t mask, uint32_t op,
	    uint32_t value);
void s_mark(struct nftnl_rule *r, bool ct, uint32_t clear, uint32_t set);
/* TCP header flags, for m_tcp_flags */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
void m_tcp_flags(struct nftnl_rule *r, uint8_t mask, uint8_t want);
void m_ct_direction(struct nftnl_rule *r, uint8_t dir);
void k_sandbox(struct nftnl_rule *r, const struct marks *m);
uint32_t addr_off(int v6, bool dst);
uint32_t addr_len(int v6);
void k_tcp_first(struct nftnl_rule *r, int v6, bool reply,
		 uint32_t th_off);
void m_quic_long(struct nftnl_rule *r);
void k_sb(struct nftnl_rule *r, enum sb_key key, uint32_t reg);
const char *sb_map(enum sb_key key);
void s_decide(struct nftnl_rule *r, const struct nft_opts *o,
	      enum mark_state s, const char *reason);
void x_sandbox_over(struct nftnl_rule *r, const struct nft_opts *o,
		    const char *set, uint64_t rate);

/* ---- nft_elems.c: sets and elements ---- */

enum set_kind { SK_HASH, SK_INTERVAL, SK_CONCAT_INTERVAL, SK_DYNAMIC,
		SK_METER, SK_TIMED };

struct set_def {
	const char *name;
	enum set_kind kind;
	uint32_t key_len;
	uint32_t data_len;	/* 0: a set, not a map */
	uint8_t fields[6];	/* concatenation field lengths */
	uint32_t key_type;
};

/* the table's sets, in the order they are made */
extern const struct set_def set_defs[];
extern const size_t nset_defs;

struct elems {
	const char *name;
	struct erec *r;
	size_t n, cap;
};

/* the sets a sandbox has elements in, the first of set_defs */
enum { E_IIF, E_SRC4, E_SRC6, E_DENY4, E_DENY6, E_ALLOW4, E_ALLOW6,
       E_MODE_DENY, E_MODE_ALLOW, E_MODE_OPEN, E_MAX };

void msg_set(struct batch *bt, const struct set_def *d, uint32_t id);
void elems_sandbox(struct elems es[E_MAX], const struct nft_sandbox *sb,
		   const struct marks *m, unsigned skip);
void elems_init(struct elems es[E_MAX]);
void elems_flush(struct batch *bt, struct elems es[E_MAX],
		 uint16_t type);
void elems_nopayload(struct batch *bt);
void elems_zero(struct batch *bt);
void msg_inject(struct batch *bt, const struct marks *m,
		const struct nft_inject *op);
void msg_alive(struct batch *bt, uint32_t timeout_ms);

/* ---- nft_rules.c, nft_rules_forward.c, nft_rules_in.c: the chains'
 * rules ---- */

void r_classify_into(struct batch *bt, const struct marks *m,
		     const char *chain, enum sb_key key, bool ct);
void r_classify(struct batch *bt, const struct marks *m,
		const char *chain, enum sb_key key);
struct nftnl_rule *r_lookup(const char *chain, const struct marks *m,
			    const char *set, int v6);
void r_nopayload(struct batch *bt, const char *chain, int v6,
		 bool original, bool rst);
void rules_ttl(struct batch *bt, const char *chain);
void rules_packet_mark(struct batch *bt, const char *chain,
		       const struct marks *m, enum mark_state s);
struct nftnl_rule *r_classified(struct batch *bt, const char *chain,
				const struct marks *m);
void rules_policy(struct batch *bt, const struct nft_opts *o,
		  const char *chain, bool in);
void r_rpf_in(struct batch *bt, const char *chain, enum sb_key key);
void rules_classify(struct batch *bt, const struct marks *m);

void rules_untracked(struct batch *bt);
void rules_judged(struct batch *bt, const struct nft_opts *o);
void rules_forged(struct batch *bt, const struct marks *m);
void msg_ct_timeout(struct batch *bt);
void rules_forward(struct batch *bt, const struct nft_opts *o);
void rules_deny(struct batch *bt, const struct nft_opts *o);
void rules_quic_refuse(struct batch *bt, const struct nft_opts *o);
void rules_commit(struct batch *bt, const struct nft_opts *o);

void rules_inbound(struct batch *bt, const struct nft_opts *o);
void rules_dns(struct batch *bt, const struct nft_opts *o);
void rules_inject(struct batch *bt, const struct nft_opts *o);
void rules_broker_input(struct batch *bt, const struct nft_opts *o);

#endif
