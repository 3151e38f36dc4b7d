/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The per-sandbox CA and its leaves (wolfSSL's certificate generation).
 * wolfSSL 5.5 as Debian builds it cannot encode a name constraints
 * extension (no field in its Cert, and custom extensions need
 * WOLFSSL_CUSTOM_OID): the CA carries none; see the README. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include "cert.h"
#include "secret.h"
#include "xalloc.h"

#define KEY_DER_MAX 256

struct cert_signer {
	WC_RNG rng;
	ecc_key ca_key, leaf_key;
	uint8_t ca_der[CERT_DER_MAX];
	int ca_len;
	uint8_t leaf_key_der[KEY_DER_MAX];
	int leaf_key_len;
};

static int fail(char *err, size_t errlen, const char *what, int rc)
{
	snprintf(err, errlen, "%s: %s", what, wc_GetErrorString(rc));
	return -1;
}

static void serial_random(Cert *c, WC_RNG *rng)
{
	wc_RNG_GenerateBlock(rng, c->serial, 16);
	c->serial[0] &= 0x7f;	/* positive */
	c->serial[0] |= 0x01;	/* and 16 bytes long */
	c->serialSz = 16;
}

/* Sign c with `signer' into der; its length or -1. */
static int make_signed(Cert *c, ecc_key *subject, ecc_key *signer,
		       WC_RNG *rng, uint8_t *der, size_t derlen, char *err,
		       size_t errlen)
{
	int rc = wc_MakeCert_ex(c, der, (word32)derlen, ECC_TYPE, subject, rng);

	if (rc < 0)
		return fail(err, errlen, "certificate", rc);
	rc = wc_SignCert_ex(c->bodySz, c->sigType, der, (word32)derlen,
			    ECC_TYPE, signer, rng);
	if (rc < 0)
		return fail(err, errlen, "certificate signature", rc);
	return rc;
}

static char *pem_of(const uint8_t *der, int len, int type, bool secret)
{
	uint8_t pem[CERT_PEM_MAX];
	int n = wc_DerToPem(der, (word32)len, pem, sizeof(pem) - 1, type);
	char *out;

	if (n <= 0)
		return NULL;
	pem[n] = 0;
	out = secret ? secret_strdup((char *)pem) : xstrdup((char *)pem);
	explicit_bzero(pem, sizeof(pem));
	return out;
}

int cert_ca_make(const char *sandbox, char **cert_pem, char **key_pem,
		 char *err, size_t errlen)
{
	uint8_t der[CERT_DER_MAX], kder[KEY_DER_MAX];
	int ret = -1, rc, n, kn;
	ecc_key key;
	WC_RNG rng;
	Cert c;

	*cert_pem = *key_pem = NULL;
	if ((rc = wc_InitRng(&rng)) != 0)
		return fail(err, errlen, "random", rc);
	wc_ecc_init(&key);
	if ((rc = wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1)) != 0) {
		fail(err, errlen, "CA key", rc);
		goto out;
	}
	wc_InitCert(&c);
	c.sigType = CTC_SHA256wECDSA;
	c.daysValid = CERT_CA_DAYS;
	c.isCA = 1;
	c.pathLen = 0;
	c.pathLenSet = 1;
	snprintf(c.subject.org, CTC_NAME_SIZE, "sbxfw");
	snprintf(c.subject.commonName, CTC_NAME_SIZE, "sbxfw %.40s CA",
		 sandbox);
	serial_random(&c, &rng);
	if ((rc = wc_SetKeyUsage(&c, "critical,keyCertSign,cRLSign")) != 0 &&
	    (rc = wc_SetKeyUsage(&c, "keyCertSign,cRLSign")) != 0) {
		fail(err, errlen, "CA key usage", rc);
		goto out;
	}
	if ((rc = wc_SetSubjectKeyIdFromPublicKey_ex(&c, ECC_TYPE, &key)) != 0) {
		fail(err, errlen, "CA key id", rc);
		goto out;
	}
	if ((n = make_signed(&c, &key, &key, &rng, der, sizeof(der), err,
			     errlen)) < 0)
		goto out;
	if ((kn = wc_EccKeyToDer(&key, kder, sizeof(kder))) < 0) {
		fail(err, errlen, "CA key", kn);
		goto out;
	}
	*cert_pem = pem_of(der, n, CERT_TYPE, false);
	*key_pem = pem_of(kder, kn, ECC_PRIVATEKEY_TYPE, true);
	if (!*cert_pem || !*key_pem) {
		snprintf(err, errlen, "CA: PEM encoding failed");
		free(*cert_pem);
		secret_free(*key_pem);
		*cert_pem = *key_pem = NULL;
		goto out;
	}
	ret = 0;
out:
	explicit_bzero(kder, sizeof(kder));
	wc_ecc_free(&key);
	wc_FreeRng(&rng);
	return ret;
}

void cert_signer_free(struct cert_signer *s)
{
	if (!s)
		return;
	wc_ecc_free(&s->ca_key);
	wc_ecc_free(&s->leaf_key);
	wc_FreeRng(&s->rng);
	secret_free(s);
}

static int signer_load(struct cert_signer *s, const char *ca_pem,
		       const char *key_pem, char *err, size_t errlen)
{
	uint8_t kder[KEY_DER_MAX];
	word32 idx = 0;
	int rc, kn;

	s->ca_len = wc_CertPemToDer((const uint8_t *)ca_pem,
				    (int)strlen(ca_pem), s->ca_der,
				    sizeof(s->ca_der), CERT_TYPE);
	if (s->ca_len < 0)
		return fail(err, errlen, "CA certificate", s->ca_len);
	kn = wc_KeyPemToDer((const uint8_t *)key_pem, (int)strlen(key_pem),
			    kder, sizeof(kder), NULL);
	if (kn < 0)
		return fail(err, errlen, "CA key", kn);
	rc = wc_EccPrivateKeyDecode(kder, &idx, &s->ca_key, (word32)kn);
	explicit_bzero(kder, sizeof(kder));
	if (rc != 0)
		return fail(err, errlen, "CA key", rc);
	if ((rc = wc_ecc_make_key_ex(&s->rng, 32, &s->leaf_key,
				     ECC_SECP256R1)) != 0)
		return fail(err, errlen, "leaf key", rc);
	s->leaf_key_len = wc_EccKeyToDer(&s->leaf_key, s->leaf_key_der,
					 sizeof(s->leaf_key_der));
	if (s->leaf_key_len < 0)
		return fail(err, errlen, "leaf key", s->leaf_key_len);
	return 0;
}

struct cert_signer *cert_signer_new(const char *ca_pem, const char *key_pem,
				    char *err, size_t errlen)
{
	/* in pages left out of core dumps: it holds the keys */
	struct cert_signer *s = secret_alloc(sizeof(*s));
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = wc_InitRng(&s->rng)) != 0) {
		fail(err, errlen, "random", rc);
		secret_free(s);
		return NULL;
	}
	wc_ecc_init(&s->ca_key);
	wc_ecc_init(&s->leaf_key);
	if (signer_load(s, ca_pem, key_pem, err, errlen) < 0) {
		cert_signer_free(s);
		return NULL;
	}
	return s;
}

/* subjectAltName: SEQUENCE { [2] dNSName } */
static int alt_name(Cert *c, const char *host)
{
	size_t n = strlen(host), inner = n + (n < 128 ? 2 : 3);
	uint8_t *p = c->altNames;

	if (n > 253)
		return -1;
	*p++ = 0x30;
	if (inner >= 128)
		*p++ = 0x81;
	*p++ = (uint8_t)inner;
	*p++ = 0x82;
	if (n >= 128)
		*p++ = 0x81;
	*p++ = (uint8_t)n;
	memcpy(p, host, n);
	c->altNamesSz = (int)(p + n - c->altNames);
	return 0;
}

int cert_leaf_make(struct cert_signer *s, const char *host, unsigned days,
		   uint8_t *der, size_t derlen, char *err, size_t errlen)
{
	Cert c;
	int rc;

	wc_InitCert(&c);
	c.sigType = CTC_SHA256wECDSA;
	c.daysValid = (int)days;
	if (strlen(host) < CTC_NAME_SIZE)
		snprintf(c.subject.commonName, CTC_NAME_SIZE, "%s", host);
	snprintf(c.subject.org, CTC_NAME_SIZE, "sbxfw");
	serial_random(&c, &s->rng);
	if (alt_name(&c, host) < 0) {
		snprintf(err, errlen, "leaf: name too long");
		return -1;
	}
	if ((rc = wc_SetIssuerBuffer(&c, s->ca_der, s->ca_len)) != 0 ||
	    (rc = wc_SetAuthKeyIdFromPublicKey_ex(&c, ECC_TYPE,
						   &s->ca_key)) != 0 ||
	    (rc = wc_SetSubjectKeyIdFromPublicKey_ex(&c, ECC_TYPE,
						      &s->leaf_key)) != 0 ||
	    (rc = wc_SetKeyUsage(&c, "digitalSignature")) != 0 ||
	    (rc = wc_SetExtKeyUsage(&c, "serverAuth")) != 0)
		return fail(err, errlen, "leaf", rc);
	return make_signed(&c, &s->leaf_key, &s->ca_key, &s->rng, der, derlen,
			   err, errlen);
}

const uint8_t *cert_signer_leaf_key(const struct cert_signer *s, size_t *len)
{
	*len = (size_t)s->leaf_key_len;
	return s->leaf_key_der;
}
