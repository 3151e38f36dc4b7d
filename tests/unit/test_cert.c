/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "cert.h"
#include "secret.h"
#include "test.h"

/* A leaf of the sandbox CA verifies against that CA, and only it. */
TEST(test_cert_ca_signs_leaves_for_a_name)
{
	char *ca, *key, *ca2, *key2, err[256];
	uint8_t der[CERT_DER_MAX];
	struct cert_signer *s;
	WOLFSSL_CERT_MANAGER *cm, *other;
	int n;

	CHECK(cert_ca_make("sb1", &ca, &key, err, sizeof(err)) == 0);
	CHECK(cert_ca_make("sb2", &ca2, &key2, err, sizeof(err)) == 0);
	CHECK(strstr(ca, "BEGIN CERTIFICATE") && strstr(key, "PRIVATE KEY"));
	CHECK((s = cert_signer_new(ca, key, err, sizeof(err))) != NULL);
	n = cert_leaf_make(s, "api.example.test", 7, der, sizeof(der), err,
			   sizeof(err));
	CHECK(n > 0);
	cm = wolfSSL_CertManagerNew();
	other = wolfSSL_CertManagerNew();
	CHECK(wolfSSL_CertManagerLoadCABuffer(cm, (const uint8_t *)ca,
					      (long)strlen(ca),
					      WOLFSSL_FILETYPE_PEM) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CertManagerLoadCABuffer(other, (const uint8_t *)ca2,
					      (long)strlen(ca2),
					      WOLFSSL_FILETYPE_PEM) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CertManagerVerifyBuffer(cm, der, n,
					      WOLFSSL_FILETYPE_ASN1) ==
	      WOLFSSL_SUCCESS);
	CHECK(wolfSSL_CertManagerVerifyBuffer(other, der, n,
					      WOLFSSL_FILETYPE_ASN1) !=
	      WOLFSSL_SUCCESS);
	/* a name longer than a common name still gets its SAN */
	CHECK(cert_leaf_make(s, "a-very-long-label-of-sixty-characters-0123456789"
			     "0123456789.example.test", 7, der, sizeof(der), err,
			     sizeof(err)) > 0);
	CHECK(cert_signer_new("junk", key, err, sizeof(err)) == NULL &&
	      strstr(err, "CA certificate"));
	wolfSSL_CertManagerFree(cm);
	wolfSSL_CertManagerFree(other);
	cert_signer_free(s);
	free(ca);
	free(ca2);
	secret_free(key);
	secret_free(key2);
}
