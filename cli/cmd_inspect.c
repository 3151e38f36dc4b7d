/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbxfw inspect: the TLS/QUIC flows of a capture, what each ClientHello
 * says, and what a policy would decide. Offline, read-only. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "cidr.h"
#include "cli.h"
#include "file.h"
#include "firstbytes.h"
#include "judge.h"
#include "pkt.h"
#include "policy_json.h"
#include "quic.h"
#include "wire.h"
#include "xalloc.h"

#define INSPECT_TIMEOUT_NS (10ull * 1000000000ull)
#define FLOW_BUCKETS (1u << 16)

struct flow_key {
	uint8_t family, proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

enum flow_state { FLOW_PENDING, FLOW_DONE, FLOW_SERVER };

struct flow {
	struct flow *next;
	struct flow_key key;
	enum flow_state state;
	bool base_known;	/* a SYN gave the first sequence number */
	uint32_t base;
	uint64_t first_ns;
	struct reasm *ra;
	struct first_bytes fb;
	struct quic_initial *qi;
};

struct inspect {
	struct policy *policy;
	const char *capture;
	struct flow *buckets[FLOW_BUCKETS];
	unsigned long packets, skipped[PKT_BAD_LINKTYPE + 1];
};

static uint32_t key_hash(const struct flow_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h & (FLOW_BUCKETS - 1);
}

static struct flow *flow_find(struct inspect *in, const struct flow_key *k,
			      bool create)
{
	struct flow **b = &in->buckets[key_hash(k)], *f;

	for (f = *b; f; f = f->next)
		if (!memcmp(&f->key, k, sizeof(*k)))
			return f;
	if (!create)
		return NULL;
	f = xcalloc(1, sizeof(*f));
	f->key = *k;
	f->next = *b;
	*b = f;
	return f;
}

static void flow_release(struct flow *f)
{
	if (f->ra) {
		reasm_fini(f->ra);
		free(f->ra);
		f->ra = NULL;
	}
	quic_initial_free(f->qi);
	f->qi = NULL;
}

static void key_of(const struct pkt *p, struct flow_key *k, bool reverse)
{
	memset(k, 0, sizeof(*k));
	k->family = (uint8_t)p->family;
	k->proto = p->proto;
	k->sport = reverse ? p->dport : p->sport;
	k->dport = reverse ? p->sport : p->dport;
	memcpy(k->src, reverse ? p->dst : p->src, 16);
	memcpy(k->dst, reverse ? p->src : p->dst, 16);
}

static void time_text(uint64_t ns, char out[40])
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%06luZ",
		 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
		 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
		 tm.tm_sec % 100, (unsigned long)(ns % 1000000000ull / 1000));
}

static const char *tls_version_name(uint16_t v)
{
	switch (v) {
	case 0x0304: return "1.3";
	case 0x0303: return "1.2";
	case 0x0302: return "1.1";
	case 0x0301: return "1.0";
	}
	return NULL;	/* GREASE and drafts are left out */
}

static enum payload_kind payload_of(const struct flow *f)
{
	return fb_payload(&f->fb, f->ra);
}

/* Whether the ClientHello was read, and if not why. */
static const char *hello_status(const struct flow *f)
{
	switch (payload_of(f)) {
	case PAYLOAD_TLS:
		return "ok";
	case PAYLOAD_MALFORMED:
		return "malformed";
	case PAYLOAD_CONFLICT:
		return "overlap-conflict";
	default:
		return "incomplete";
	}
}

static void emit_json(const struct flow *f, const char *src, const char *dst,
		      const char *when, const struct verdict_result *v)
{
	const struct client_hello *ch = &f->fb.ch;
	bool have = f->fb.kind == PAYLOAD_TLS;
	json_t *o = json_object(), *alpn = json_array(), *vers = json_array();
	size_t i;

	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "proto", json_string(
		f->key.proto == IPPROTO_TCP ? "tcp" : "udp"));
	json_object_set_new(o, "src", json_string(src));
	json_object_set_new(o, "sport", json_integer(f->key.sport));
	json_object_set_new(o, "dst", json_string(dst));
	json_object_set_new(o, "dport", json_integer(f->key.dport));
	json_object_set_new(o, "sni", have && ch->has_sni
		? wire_json(ch->sni, ch->sni_len) : json_null());
	for (i = 0; have && i < ch->nalpn; i++)
		json_array_append_new(alpn, wire_json(ch->alpn[i],
						      strlen(ch->alpn[i])));
	for (i = 0; have && i < ch->nversions; i++)
		if (tls_version_name(ch->versions[i]))
			json_array_append_new(vers, json_string(
				tls_version_name(ch->versions[i])));
	json_object_set_new(o, "alpn", alpn);
	json_object_set_new(o, "tls_versions", vers);
	json_object_set_new(o, "ech", json_boolean(have && ch->ech));
	json_object_set_new(o, "postgres", json_boolean(fb_postgres(&f->fb)));
	json_object_set_new(o, "clienthello", json_string(hello_status(f)));
	if (v) {
		json_object_set_new(o, "verdict",
				    json_string(verdict_name(v->verdict)));
		json_object_set_new(o, "reason", json_string(v->reason));
		json_object_set_new(o, "rule", v->rule[0] ? json_string(v->rule)
							  : json_null());
	}
	print_json(o);
	json_decref(o);
}

static void emit_text(const struct flow *f, const char *src, const char *dst,
		      const char *when, const struct verdict_result *v)
{
	const struct client_hello *ch = &f->fb.ch;
	bool have = f->fb.kind == PAYLOAD_TLS, v6 = f->key.family == AF_INET6;
	size_t i;

	printf("%s %s %s%s%s:%u -> %s%s%s:%u", when,
	       f->key.proto == IPPROTO_TCP ? "tcp" : "udp", v6 ? "[" : "", src,
	       v6 ? "]" : "", f->key.sport, v6 ? "[" : "", dst, v6 ? "]" : "",
	       f->key.dport);
	char text[WIRE_TEXT_MAX(CH_SNI_MAX)];

	if (have && ch->has_sni)
		printf(" sni=%s", wire_text(ch->sni, ch->sni_len, text,
					    sizeof(text)));
	else
		printf(" sni=-");
	for (i = 0; have && i < ch->nalpn; i++)
		printf(i ? ",%s" : " alpn=%s",
		       wire_text(ch->alpn[i], strlen(ch->alpn[i]), text,
				 sizeof(text)));
	if (have && ch->ech)
		printf(" ech");
	if (fb_postgres(&f->fb))
		printf(" postgres");
	if (!have)
		printf(" clienthello=%s", hello_status(f));
	if (v)
		printf(" %s %s%s%s", verdict_name(v->verdict), v->reason,
		       v->rule[0] ? " rule=" : "", v->rule);
	putchar('\n');
}

static void flow_emit(struct inspect *in, struct flow *f)
{
	struct flow_query q = { 0 };
	struct judgement j;
	struct verdict_result *v = &j.v;
	char src[CIDR_TEXT_MAX], dst[CIDR_TEXT_MAX], when[40];

	addr_format(f->key.family, f->key.src, src);
	addr_format(f->key.family, f->key.dst, dst);
	time_text(f->first_ns, when);
	if (in->policy) {
		q.family = f->key.family;
		memcpy(q.dst, f->key.dst, 16);
		q.dport = f->key.dport;
		q.proto = f->key.proto;
		fb_query(&f->fb, f->ra, &q);
		/* the daemon's judge, without the resolver's binding */
		judge(&(struct judge_env){ .policy = in->policy }, &q,
		      BIND_NONE, &j);
	}
	if (cli_opts.json)
		emit_json(f, src, dst, when, in->policy ? v : NULL);
	else
		emit_text(f, src, dst, when, in->policy ? v : NULL);
	f->state = FLOW_DONE;
	flow_release(f);
}

/* A flow is worth a line once its first bytes look like TLS. */
static bool started_as_tls(const struct flow *f)
{
	if (f->fb.kind == PAYLOAD_TLS || f->fb.kind == PAYLOAD_MALFORMED)
		return true;
	if (!f->ra || f->ra->contig == 0)
		return false;
	if (f->ra->buf[0] == 0x16)
		return true;
	return fb_postgres(&f->fb);
}

static void flow_settle(struct inspect *in, struct flow *f,
			enum reasm_state st)
{
	if (st == REASM_NEED_MORE)
		return;
	if (started_as_tls(f))
		flow_emit(in, f);
	f->state = FLOW_DONE;
	flow_release(f);
}

static void tcp_packet(struct inspect *in, const struct pkt *p, uint64_t ns)
{
	struct flow_key k, rk;
	struct flow *f;
	bool syn = p->tcp_flags & PKT_TCP_SYN, ack = p->tcp_flags & PKT_TCP_ACK;

	key_of(p, &k, false);
	key_of(p, &rk, true);
	f = flow_find(in, &k, false);
	if (syn && !ack) {			/* a new connection */
		if (f && f->state == FLOW_PENDING && f->ra)
			return;			/* a retransmitted SYN */
		if (f)
			flow_release(f);
		f = flow_find(in, &k, true);
		memset(&f->fb, 0, sizeof(f->fb));
		f->state = FLOW_PENDING;
		f->base_known = true;
		f->base = p->seq + 1;
		f->first_ns = ns;
		return;
	}
	if (syn) {				/* SYN-ACK: this side serves */
		f = flow_find(in, &k, true);
		f->state = FLOW_SERVER;
		return;
	}
	if (p->payload_len == 0)
		return;
	if (!f) {
		struct flow *r = flow_find(in, &rk, false);
		f = flow_find(in, &k, true);
		f->first_ns = ns;
		f->state = r && r->state != FLOW_SERVER ? FLOW_SERVER
							: FLOW_PENDING;
	}
	if (f->state != FLOW_PENDING)
		return;
	if (!f->ra) {
		f->ra = xmalloc(sizeof(*f->ra));
		reasm_init(f->ra, f->base_known ? f->base : p->seq,
			   REASM_LIMIT_DEFAULT, ns, INSPECT_TIMEOUT_NS);
		f->fb.past_sslrequest = true;
	}
	flow_settle(in, f, reasm_add(f->ra, p->seq, p->payload,
				     p->payload_len, ns, fb_judge, &f->fb));
}

static void udp_packet(struct inspect *in, const struct pkt *p, uint64_t ns)
{
	struct flow_key k, rk;
	struct flow *f;
	enum quic_step st;

	key_of(p, &k, false);
	key_of(p, &rk, true);
	f = flow_find(in, &k, false);
	if (f && f->state != FLOW_PENDING)
		return;
	if (!f) {
		if (!quic_is_initial(p->payload, p->payload_len))
			return;
		if (flow_find(in, &rk, false))
			return;		/* the server's Initial */
		f = flow_find(in, &k, true);
		f->state = FLOW_PENDING;
		f->first_ns = ns;
		f->qi = quic_initial_new();
	}
	/* the daemon's judgement of a flow's datagrams (SPEC §1.9) */
	st = quic_judge(f->qi, p->payload, p->payload_len, &f->fb);
	if (st == QUIC_STEP_DONE) {
		flow_emit(in, f);
	} else if (ns - f->first_ns >= INSPECT_TIMEOUT_NS) {
		f->fb.kind = PAYLOAD_INCOMPLETE;
		flow_emit(in, f);
	}
}

/* End of capture: flows still waiting are reported as they stand. */
static void flows_finish(struct inspect *in)
{
	size_t i;

	for (i = 0; i < FLOW_BUCKETS; i++) {
		struct flow *f = in->buckets[i], *next;
		for (; f; f = next) {
			next = f->next;
			if (f->state == FLOW_PENDING &&
			    (started_as_tls(f) || f->qi))
				flow_emit(in, f);
			flow_release(f);
			free(f);
		}
		in->buckets[i] = NULL;
	}
}

static int read_policy(struct inspect *in, const char *path)
{
	char err[512], *buf;
	size_t n;

	if (!(buf = file_read(path, 64u << 20, &n))) {
		fprintf(stderr, "sbxfw: %s: %s\n", path, strerror(errno));
		return -1;
	}
	in->policy = policy_from_json(buf, n, err, sizeof(err));
	free(buf);
	if (!in->policy) {
		fprintf(stderr, "sbxfw: %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

static void report_skipped(const struct inspect *in)
{
	unsigned long n = 0;
	int r;

	for (r = PKT_FRAGMENT; r <= PKT_BAD_LINKTYPE; r++)
		n += in->skipped[r];
	if (!n)
		return;
	fprintf(stderr, "sbxfw: %s: %lu of %lu packets skipped (%lu truncated,"
			" %lu corrupt, %lu fragments, %lu unsupported)\n",
		in->capture, n, in->packets, in->skipped[PKT_TRUNCATED],
		in->skipped[PKT_CORRUPT], in->skipped[PKT_FRAGMENT],
		in->skipped[PKT_BAD_LINKTYPE]);
}

static int inspect_capture(struct inspect *in)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;
	int rc, lt;

	pc = pcap_open_offline_with_tstamp_precision(
		in->capture, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "sbxfw: %s: %s\n", in->capture, errbuf);
		return 1;
	}
	lt = pcap_datalink(pc);
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		uint64_t ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
			      (uint64_t)h->ts.tv_usec;
		struct pkt p;
		enum pkt_result r = pkt_decode(lt, data, h->caplen, &p);

		in->packets++;
		in->skipped[r]++;
		if (r != PKT_OK)
			continue;
		if (p.proto == IPPROTO_TCP)
			tcp_packet(in, &p, ns);
		else
			udp_packet(in, &p, ns);
	}
	if (rc == PCAP_ERROR)	/* a cut-off file: report what was read */
		fprintf(stderr, "sbxfw: %s: %s (stopped after %lu packets)\n",
			in->capture, pcap_geterr(pc), in->packets);
	pcap_close(pc);
	flows_finish(in);
	report_skipped(in);
	return 0;
}

int inspect_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct inspect *in = xcalloc(1, sizeof(*in));
	int c, ret = 2;

	while ((c = getopt_long(argc, argv, "p:j", longopts, NULL)) != -1) {
		if (c == 'p' && !in->policy && read_policy(in, optarg) < 0) {
			ret = 1;
			goto out;
		}
		if (c == 'j')
			cli_opts.json = true;
		if (c == '?') {
			ret = cli_usage_error("inspect");
			goto out;
		}
	}
	if (optind != argc - 1) {
		ret = cli_usage_error("inspect");
		goto out;
	}
	in->capture = argv[optind];
	ret = inspect_capture(in);
out:
	policy_free(in->policy);
	free(in);
	return ret;
}
