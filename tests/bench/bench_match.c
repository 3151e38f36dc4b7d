/* SPDX-License-Identifier: GPL-2.0-or-later */
/* make bench: the cost of a verdict's parts. Each figure comes with a
 * ratio against a baseline measured in the same run. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clienthello.h"
#include "domain.h"
#include "policy.h"

#define NRULES 100000
#define NLOOKUP 1000000
#define NRANGES 10000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void rule_text(char *buf, size_t n, uint32_t i)
{
	switch (i % 4) {
	case 0: snprintf(buf, n, "host%u.example.com", i); break;
	case 1: snprintf(buf, n, "*.zone%u.example.net", i); break;
	case 2: snprintf(buf, n, "api.*.svc%u.example.org", i); break;
	default: snprintf(buf, n, "db%u.example.io:5432", i); break;
	}
}

static void name_text(char *buf, size_t n, uint32_t i, uint32_t rules)
{
	uint32_t r = (i * 2654435761u) % rules;	/* half hit, half miss */

	switch (r % 4) {
	case 0: snprintf(buf, n, i % 2 ? "host%u.example.com" : "host%u.example.co", r); break;
	case 1: snprintf(buf, n, "a.b.zone%u.example.net", i % 2 ? r : r + rules); break;
	case 2: snprintf(buf, n, "api.eu.svc%u.example.org", i % 2 ? r : r + rules); break;
	default: snprintf(buf, n, "db%u.example.io", i % 2 ? r : r + rules); break;
	}
}

static struct domain_pattern *patterns(uint32_t nrules)
{
	struct domain_pattern *p = calloc(nrules, sizeof(*p));
	char buf[128], err[256];
	uint32_t i;

	for (i = 0; i < nrules; i++) {
		rule_text(buf, sizeof(buf), i);
		if (domain_pattern_parse(buf, &p[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
	}
	return p;
}

static char (*names(uint32_t n, uint32_t rules))[64]
{
	char (*v)[64] = calloc(n, 64);
	uint32_t i;

	for (i = 0; i < n; i++)
		name_text(v[i], 64, i, rules);
	return v;
}

/* ns per lookup in a set of nrules rules */
static double set_lookup_ns(uint32_t nrules, long *rss_delta, int *hits)
{
	struct domain_pattern *p = patterns(nrules);
	char (*nm)[64] = names(4096, nrules);
	long before = rss_kb();
	struct domain_set *s = domain_set_new();
	double t0, t1;
	uint32_t i;

	for (i = 0; i < nrules; i++)
		domain_set_add(s, &p[i], i);
	if (rss_delta)
		*rss_delta = rss_kb() - before;
	*hits = 0;
	t0 = now_ns();
	for (i = 0; i < NLOOKUP; i++)
		*hits += domain_set_lookup(s, nm[i & 4095], 5432) >= 0;
	t1 = now_ns();
	domain_set_free(s);
	free(p);
	free(nm);
	return (t1 - t0) / NLOOKUP;
}

static double linear_lookup_ns(uint32_t nrules)
{
	struct domain_pattern *p = patterns(nrules);
	char (*nm)[64] = names(64, nrules);
	volatile int hits = 0;
	double t0, t1;
	uint32_t i, j, rounds = 200;

	t0 = now_ns();
	for (i = 0; i < rounds; i++)
		for (j = 0; j < nrules; j++)
			if (domain_pattern_match(&p[j], nm[i & 63], 5432)) {
				hits++;
				break;
			}
	t1 = now_ns();
	free(p);
	free(nm);
	return (t1 - t0) / rounds;
}

static size_t build_hello(uint8_t *out, size_t outlen, size_t pad, size_t rec)
{
	/* a ClientHello of Chromium's shape: SNI, ALPN, versions, a large
	 * key share (modelled as padding), split into records of `rec` */
	uint8_t hs[4096];
	size_t n = 0, i, o = 0, ext;
	const char *sni = "api.github.com";

	hs[n++] = 1; hs[n++] = 0; hs[n++] = 0; hs[n++] = 0;
	hs[n++] = 3; hs[n++] = 3;
	for (i = 0; i < 32; i++) hs[n++] = (uint8_t)i;
	hs[n++] = 0;
	hs[n++] = 0; hs[n++] = 2; hs[n++] = 0x13; hs[n++] = 0x01;
	hs[n++] = 1; hs[n++] = 0;
	ext = n; n += 2;
	hs[n++] = 0; hs[n++] = 0; hs[n++] = 0; hs[n++] = (uint8_t)(strlen(sni) + 5);
	hs[n++] = 0; hs[n++] = (uint8_t)(strlen(sni) + 3); hs[n++] = 0;
	hs[n++] = 0; hs[n++] = (uint8_t)strlen(sni);
	memcpy(hs + n, sni, strlen(sni)); n += strlen(sni);
	hs[n++] = 0; hs[n++] = 16; hs[n++] = 0; hs[n++] = 14; hs[n++] = 0; hs[n++] = 12;
	hs[n++] = 2; memcpy(hs + n, "h2", 2); n += 2;
	hs[n++] = 8; memcpy(hs + n, "http/1.1", 8); n += 8;
	hs[n++] = 0; hs[n++] = 43; hs[n++] = 0; hs[n++] = 3; hs[n++] = 2; hs[n++] = 3; hs[n++] = 4;
	hs[n++] = 0; hs[n++] = 21; hs[n++] = (uint8_t)(pad >> 8); hs[n++] = (uint8_t)pad;
	memset(hs + n, 0, pad); n += pad;
	hs[ext] = (uint8_t)((n - ext - 2) >> 8); hs[ext + 1] = (uint8_t)(n - ext - 2);
	hs[2] = (uint8_t)((n - 4) >> 8); hs[3] = (uint8_t)(n - 4);
	for (i = 0; i < n; i += rec) {
		size_t k = n - i < rec ? n - i : rec;
		if (o + 5 + k > outlen)
			return 0;
		out[o++] = 22; out[o++] = 3; out[o++] = 1;
		out[o++] = (uint8_t)(k >> 8); out[o++] = (uint8_t)k;
		memcpy(out + o, hs + i, k); o += k;
	}
	return o;
}

static double hello_ns(size_t rec, size_t *len)
{
	uint8_t buf[8192];
	struct client_hello ch;
	double t0, t1;
	int i, ok = 0, rounds = 200000;

	*len = build_hello(buf, sizeof(buf), 1500, rec);
	t0 = now_ns();
	for (i = 0; i < rounds; i++)
		ok += ch_parse(buf, *len, &ch) == CH_OK;
	t1 = now_ns();
	if (ok != rounds || strcmp(ch.sni, "api.github.com"))
		exit(1);
	return (t1 - t0) / rounds;
}

/* the process's resident memory now (not its peak) */
static long rss_now_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	if (f)
		fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static double eval_ns(double *bytes_per_rule)
{
	long rss0 = rss_now_kb();
	struct policy *p = policy_new(MODE_USER_DEFINED);
	char buf[128], err[256];
	struct verdict_result r;
	struct flow_query q = { .family = AF_INET, .dport = 443,
				.proto = IPPROTO_TCP,
				.payload = PAYLOAD_TLS };
	char (*nm)[64] = names(4096, NRULES);
	double t0, t1;
	uint32_t i;

	for (i = 0; i < NRULES; i++) {
		rule_text(buf, sizeof(buf), i);
		policy_add_domain(p, i % 10 ? LIST_ALLOW : LIST_DENY, buf, err,
				  sizeof(err));
	}
	for (i = 0; i < NRANGES; i++) {
		snprintf(buf, sizeof(buf), "198.%u.%u.%u/28", 18 + i / 4096,
			 i / 16 % 256, i % 16 * 16);
		policy_add_cidr(p, i % 10 ? LIST_ALLOW : LIST_DENY, buf, err,
				sizeof(err));
	}
	*bytes_per_rule = (double)(rss_now_kb() - rss0) * 1024 /
			  (NRULES + NRANGES);
	q.dst[0] = 203, q.dst[1] = 0, q.dst[2] = 113, q.dst[3] = 7;
	t0 = now_ns();
	for (i = 0; i < NLOOKUP; i++) {
		q.sni = nm[i & 4095];
		q.sni_len = strlen(q.sni);
		policy_eval(p, &q, &r);
	}
	t1 = now_ns();
	policy_free(p);
	free(nm);
	return (t1 - t0) / NLOOKUP;
}

int main(void)
{
	long rss;
	int hits100k, hits100;
	double big = set_lookup_ns(NRULES, &rss, &hits100k);
	double small = set_lookup_ns(100, NULL, &hits100);
	double linear = linear_lookup_ns(NRULES);
	size_t l1, l2;
	double h1 = hello_ns(16384, &l1), h2 = hello_ns(1000, &l2);
	double per_rule, ev = eval_ns(&per_rule);

	printf("domain lookup, %d rules:   %7.1f ns  (%d%% hits; index %ld KiB)\n",
	       NRULES, big, hits100k / (NLOOKUP / 100), rss);
	printf("  baseline 100 rules:       %7.1f ns  ratio %.2f\n", small,
	       big / small);
	printf("  baseline linear scan:     %9.0f ns  ratio %.5f (%.0fx faster)\n",
	       linear, big / linear, linear / big);
	printf("policy_eval, %d rules + %d ranges: %.1f ns  ratio to 1 us target %.3f; %.0f bytes a rule\n",
	       NRULES, NRANGES, ev, ev / 1000.0, per_rule);
	printf("ClientHello parse, %zu B in 1 record:  %6.1f ns\n", l1, h1);
	printf("ClientHello parse, %zu B in 2 records: %6.1f ns  ratio %.2f\n",
	       l2, h2, h2 / h1);
	printf("  ratio to the 100 us verdict budget:  %.4f\n", h2 / 100000.0);
	return 0;
}
