/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bytes.h"
#include "pgstartup.h"

#define PG_SSLREQUEST_CODE 80877103u
#define PG_GSSENC_CODE 80877104u
#define PG_CANCEL_CODE 80877102u
#define PG_PROTOCOL_3 0x00030000u
#define PG_STARTUP_MAX 10000u	/* the server's own limit */

const char *pg_start_name(enum pg_start s)
{
	static const char *const names[] = { "need-more", "sslrequest",
					     "gssencrequest", "direct-tls",
					     "plaintext", "not-postgres" };
	return names[s];
}

enum pg_start pg_classify(const uint8_t *buf, size_t len)
{
	uint32_t mlen, code;
	size_t i;

	if (len >= 1 && buf[0] == 0x16)
		return PG_DIRECT_TLS;
	if (len < 8) {
		/* every message starts with a big-endian length < 10000 */
		for (i = 0; i < len && i < 2; i++)
			if (buf[i] != 0)
				return PG_NOT_PG;
		return PG_NEED_MORE;
	}
	mlen = be32(buf);
	code = be32(buf + 4);
	if (mlen == PG_REQUEST_LEN && code == PG_SSLREQUEST_CODE)
		return PG_SSL_REQUEST;
	if (mlen == PG_REQUEST_LEN && code == PG_GSSENC_CODE)
		return PG_GSSENC_REQUEST;
	if (mlen == 16 && code == PG_CANCEL_CODE)
		return PG_PLAINTEXT;
	if (mlen >= 8 && mlen <= PG_STARTUP_MAX && code == PG_PROTOCOL_3)
		return PG_PLAINTEXT;
	return PG_NOT_PG;
}
