/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_CERT_H
#define SBXFW_CERT_H

#include <stddef.h>
#include <stdint.h>

/* Certificates of credentials brokering, made with wolfSSL: one CA per
 * sandbox (ECDSA P-256), and the leaves it signs for injected names. */

#define CERT_DER_MAX 4096
#define CERT_PEM_MAX 8192
#define CERT_CA_DAYS 3650

/* A new CA named after the sandbox: its certificate and its key, PEM
 * (the key through secret_strdup: free it with secret_free). */
int cert_ca_make(const char *sandbox, char **cert_pem, char **key_pem,
		 char *err, size_t errlen);

/* An opaque signing context: the CA's certificate and key, and one key
 * for the leaves. */
struct cert_signer;
struct cert_signer *cert_signer_new(const char *ca_pem, const char *key_pem,
				    char *err, size_t errlen);
void cert_signer_free(struct cert_signer *s);
/* A leaf for `host' valid `days' (DER), and the leaves' key (DER, the same
 * for every leaf of this signer). Returns the certificate's length, or
 * -1 with err set. */
int cert_leaf_make(struct cert_signer *s, const char *host, unsigned days,
		   uint8_t *der, size_t derlen, char *err, size_t errlen);
const uint8_t *cert_signer_leaf_key(const struct cert_signer *s,
				    size_t *len);

#endif
