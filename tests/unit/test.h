/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SBXFW_TEST_H
#define SBXFW_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A test is a function that returns at its first failed CHECK. */
struct test {
	const char *name;
	void (*fn)(void);
	struct test *next;
};

void test_register(struct test *t);
void test_fail(const char *file, int line, const char *what);

#define TEST(name)                                                     \
	static void name(void);                                        \
	static struct test name##_entry = { #name, name, NULL };       \
	__attribute__((constructor)) static void name##_register(void) \
	{                                                              \
		test_register(&name##_entry);                          \
	}                                                              \
	static void name(void)

#define CHECK(cond)                                                    \
	do {                                                           \
		if (!(cond)) {                                         \
			test_fail(__FILE__, __LINE__, #cond);          \
			return;                                        \
		}                                                      \
	} while (0)

/* A ClientHello built field by field, for the parser's tests. */
struct ch_spec {
	const char *sni;		/* NULL: no server_name */
	const char *alpn[4];
	bool tls13;
	bool ech;
	bool dup_ext;			/* a second server_name extension */
	bool two_names;			/* two host names in server_name */
	size_t pad;			/* a padding extension this long */
};

/* Writes a TLS record stream holding the ClientHello, the handshake split
 * into records of at most `rec_max` bytes. Returns its length. */
size_t ch_build(const struct ch_spec *s, size_t rec_max, uint8_t *out,
		size_t outlen);

/* QUIC client Initials (quic_build.c): a ClientHello's handshake
 * message, a CRYPTO frame, a v1/v2 Initial of 1,200 bytes or more (out
 * holds 1,400) from qt_scid to qt_dcid or to dcid. */
extern const uint8_t qt_dcid[8], qt_scid[4];
size_t qt_hello(const struct ch_spec *spec, uint8_t *out, size_t cap);
size_t qt_crypto(uint8_t *f, uint32_t off, const uint8_t *d, size_t n);
size_t qt_initial(uint32_t version, uint32_t pn, const uint8_t *frames,
		  size_t flen, uint8_t *out);
size_t qt_initial_cid(uint32_t version, const uint8_t *dcid, size_t dcid_len,
		      uint32_t pn, const uint8_t *frames, size_t flen,
		      uint8_t *out);

const char *test_data_dir(void);
uint32_t test_rand(void);

#endif
