/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the broker knows: the trust store for the real servers, and per
 * sandbox its injection rules (secrets in pages left out of core dumps),
 * its CA's signer and the leaves minted so far. Flow threads hold a
 * reference to a sandbox while they serve it; a change replaces it. */
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "broker.h"
#include "cert.h"
#include "http1.h"
#include "http_path.h"
#include "log.h"
#include "policy_json.h"
#include "xalloc.h"

#define LEAVES_MAX 256

struct leaf {
	char host[DOMAIN_MAX + 1];
	uint8_t der[CERT_DER_MAX];
	size_t len;
	time_t renew;		/* minted again from then on */
};

struct bk_sandbox {
	uint32_t id;
	char name[64];
	struct policy *policy;
	regex_t *re;		/* per rule, for PATH_REGEX */
	struct cert_signer *signer;
	struct leaf *leaves;
	size_t nleaves;
	int refs;
	struct bk_sandbox *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct bk_sandbox *sandboxes;
static WOLFSSL_CTX *server_ctx, *client_ctx;
static unsigned leaf_days = 7;

/* ChaCha20-Poly1305 first, on both sides: Debian's wolfSSL has no AES-NI,
 * and there it is 1.8 (300 bytes) to 2.5 (16 KiB) times as fast as its
 * AES-GCM, and constant-time, where the software AES uses tables. */
static const char ciphers[] =
	"TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:"
	"TLS13-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
	"ECDHE-RSA-AES256-GCM-SHA384";

static WOLFSSL_CTX *ctx_new(bool server)
{
	WOLFSSL_CTX *c = wolfSSL_CTX_new(server ? wolfSSLv23_server_method() :
					 wolfSSLv23_client_method());

	if (!c)
		fatalx("broker: wolfSSL context");
	wolfSSL_CTX_SetMinVersion(c, WOLFSSL_TLSV1_2);
	if (wolfSSL_CTX_set_cipher_list(c, ciphers) != WOLFSSL_SUCCESS)
		fatalx("broker: wolfSSL cipher list");
	return c;
}

void config_set_trust(const char *pem, unsigned days)
{
	WOLFSSL_CTX *c = ctx_new(false);

	if (wolfSSL_CTX_load_verify_buffer(c, (const uint8_t *)pem,
					   (long)strlen(pem),
					   WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS)
		log_warnx("broker: the upstream trust store has no "
			  "certificate wolfSSL can read");
	wolfSSL_CTX_set_verify(c, WOLFSSL_VERIFY_PEER, NULL);
	/* resumption with TLS 1.2 servers, which keep no session ids */
	wolfSSL_CTX_UseSessionTicket(c);
	pthread_mutex_lock(&lock);
	if (!server_ctx)
		server_ctx = ctx_new(true);
	if (!client_ctx)	/* once: flow threads use it unlocked */
		client_ctx = c;
	else
		wolfSSL_CTX_free(c);
	leaf_days = days;
	pthread_mutex_unlock(&lock);
}

WOLFSSL_CTX *config_server_ctx(void)
{
	return server_ctx;
}

WOLFSSL_CTX *config_client_ctx(void)
{
	return client_ctx;
}

static void sandbox_free(struct bk_sandbox *sb)
{
	if (!sb)
		return;
	for (size_t i = 0; sb->policy && i < sb->policy->ninject; i++)
		if (sb->policy->inject[i].path_kind == PATH_REGEX)
			regfree(&sb->re[i]);
	free(sb->re);
	policy_free(sb->policy);
	cert_signer_free(sb->signer);
	free(sb->leaves);
	free(sb);
}

/* Unlink the sandbox `id' (the caller holds the lock). */
static void unlink_id(uint32_t id)
{
	for (struct bk_sandbox **pp = &sandboxes; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id) {
			struct bk_sandbox *old = *pp;

			*pp = old->next;
			if (--old->refs == 0)
				sandbox_free(old);
			return;
		}
}

/* An exact or prefix rule's path as the requests' are matched: the same
 * normalisation, done once (never longer than the path as written). */
static int rule_path_normalise(struct inject_rule *r)
{
	char out[HTTP_HEAD_MAX + 1];
	int n = http_path_normalise(r->path, strlen(r->path), out,
				    sizeof(out));

	if (n < 0 || (size_t)n > strlen(r->path))
		return -1;
	memcpy(r->path, out, (size_t)n + 1);
	return 0;
}

int config_sandbox_put(uint32_t id, const char *name, const char *ca_pem,
		       const char *key_pem, const char *policy_json,
		       char *err, size_t errlen)
{
	struct bk_sandbox *sb = xcalloc(1, sizeof(*sb));

	sb->id = id;
	sb->refs = 1;
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	if (!policy_json ||
	    !(sb->policy = policy_from_json(policy_json, strlen(policy_json),
					    err, errlen)) ||
	    !(sb->signer = cert_signer_new(ca_pem, key_pem, err, errlen))) {
		sandbox_free(sb);
		return -1;
	}
	sb->re = xcalloc(sb->policy->ninject + 1, sizeof(*sb->re));
	for (size_t i = 0; i < sb->policy->ninject; i++) {
		struct inject_rule *r = &sb->policy->inject[i];

		if (r->path_kind == PATH_REGEX &&
		    regcomp(&sb->re[i], r->path, REG_EXTENDED | REG_NOSUB)) {
			r->path_kind = PATH_EXACT;	/* checked by the daemon */
			snprintf(err, errlen, "path regex `%s'", r->path);
			sandbox_free(sb);
			return -1;
		}
		if ((r->path_kind == PATH_EXACT ||
		     r->path_kind == PATH_PREFIX) && rule_path_normalise(r) < 0) {
			snprintf(err, errlen, "path `%s'", r->path);
			sandbox_free(sb);
			return -1;
		}
	}
	pool_forget(id);
	session_forget(id);
	pthread_mutex_lock(&lock);
	unlink_id(id);
	sb->next = sandboxes;
	sandboxes = sb;
	pthread_mutex_unlock(&lock);
	log_debug("broker: sandbox %s: %zu injection rules", name,
		  sb->policy->ninject);
	return 0;
}

void config_sandbox_drop(uint32_t id)
{
	pool_forget(id);
	session_forget(id);
	pthread_mutex_lock(&lock);
	unlink_id(id);
	pthread_mutex_unlock(&lock);
}

struct bk_sandbox *config_sandbox_get(uint32_t id)
{
	struct bk_sandbox *sb;

	pthread_mutex_lock(&lock);
	for (sb = sandboxes; sb && sb->id != id; sb = sb->next)
		;
	if (sb)
		sb->refs++;
	pthread_mutex_unlock(&lock);
	return sb;
}

void config_sandbox_put_ref(struct bk_sandbox *sb)
{
	if (!sb)
		return;
	pthread_mutex_lock(&lock);
	if (--sb->refs == 0)
		sandbox_free(sb);
	pthread_mutex_unlock(&lock);
}

/* Minted on first use, kept until a quarter of its life is left. */
int config_leaf(struct bk_sandbox *sb, const char *host, uint8_t *der,
		size_t *derlen, uint8_t *key, size_t *keylen)
{
	time_t now = time(NULL);
	const uint8_t *k;
	struct leaf *l = NULL;
	char err[256];
	int n, ret = -1;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < sb->nleaves; i++)
		if (!strcmp(sb->leaves[i].host, host))
			l = &sb->leaves[i];
	if (!l || now >= l->renew) {
		if (!l) {
			if (sb->nleaves == LEAVES_MAX)
				sb->nleaves = 0;	/* start again */
			sb->leaves = xreallocarray(sb->leaves,
						   sb->nleaves + 1,
						   sizeof(*sb->leaves));
			l = &sb->leaves[sb->nleaves++];
			snprintf(l->host, sizeof(l->host), "%s", host);
		}
		n = cert_leaf_make(sb->signer, host, leaf_days, l->der,
				   sizeof(l->der), err, sizeof(err));
		if (n < 0) {
			log_warnx("broker: leaf for %s: %s", host, err);
			l->len = 0;
			l->renew = 0;
			goto out;
		}
		l->len = (size_t)n;
		l->renew = now + (time_t)leaf_days * 86400 * 3 / 4;
		log_debug("broker: sandbox %s: leaf minted for %s", sb->name,
			  host);
	}
	memcpy(der, l->der, l->len);
	*derlen = l->len;
	k = cert_signer_leaf_key(sb->signer, keylen);
	memcpy(key, k, *keylen);
	ret = 0;
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

/* ---- which rule applies to a request ---- */

static bool span_eq(const uint8_t *b, struct http_span s, const char *text,
		    bool nocase)
{
	size_t n = strlen(text);

	if (s.len != n)
		return false;
	return nocase ? !strncasecmp((const char *)b + s.off, text, n) :
		!memcmp(b + s.off, text, n);
}

/* Each field the rule names is there, and every one of its kind has
 * the value (a server may read the first or the last). */
static bool headers_match(const struct inject_rule *r, const uint8_t *b,
			  const struct http_head *h)
{
	for (size_t i = 0; i < r->nmatch; i++) {
		size_t found = 0;

		for (size_t j = 0; j < h->nf; j++) {
			if (!http_field_is(b, &h->f[j], r->match[i].name))
				continue;
			if (!span_eq(b, h->f[j].value, r->match[i].value,
				     false))
				return false;
			found++;
		}
		if (!found)
			return false;
	}
	return true;
}

static bool narrowed(const struct inject_rule *r)
{
	return r->path_kind != PATH_ANY || r->method || r->nmatch;
}

bool config_narrowed(const struct bk_sandbox *sb, const char *host)
{
	for (size_t i = 0; i < sb->policy->ninject; i++)
		if (narrowed(&sb->policy->inject[i]) &&
		    domain_pattern_match(&sb->policy->inject[i].domain, host,
					 443))
			return true;
	return false;
}

static bool path_is(const struct bk_sandbox *sb, size_t i,
		    const char *path, const char *rule, size_t rlen)
{
	switch (sb->policy->inject[i].path_kind) {
	case PATH_ANY:
		return true;
	case PATH_EXACT:
		return !strcmp(path, rule);
	case PATH_PREFIX:
		return !strncmp(path, rule, rlen);
	case PATH_REGEX:
		return regexec(&sb->re[i], path, 0, NULL, 0) == 0;
	}
	return false;
}

/* A rule narrowed by path matches only a canonical path (the proxy
 * refuses others), in both its views, as written and as decoded: as
 * servers that decode %2f and servers that do not see it. */
static bool path_match(const struct bk_sandbox *sb, size_t i,
		       const struct http_path *path)
{
	const struct inject_rule *r = &sb->policy->inject[i];
	size_t rlen = strlen(r->path ? r->path : "");

	if (r->path_kind == PATH_ANY)
		return true;
	return path->canonical && path_is(sb, i, path->raw, r->path, rlen) &&
	       path_is(sb, i, path->norm, r->path, rlen);
}

const struct inject_rule *config_match(const struct bk_sandbox *sb,
				       const char *host, const uint8_t *b,
				       const struct http_head *h,
				       const struct http_path *path)
{
	for (size_t i = 0; i < sb->policy->ninject; i++) {
		const struct inject_rule *r = &sb->policy->inject[i];

		/* methods are case-sensitive (RFC 9110 §9.1) */
		if (!domain_pattern_match(&r->domain, host, 443) ||
		    (r->method && !span_eq(b, h->method, r->method, false)) ||
		    !path_match(sb, i, path) || !headers_match(r, b, h))
			continue;
		return r;
	}
	return NULL;
}
