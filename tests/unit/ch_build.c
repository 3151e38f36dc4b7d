/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "test.h"

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n <= b->cap)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(b, &x, 1);
}

static void put16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void patch16(struct buf *b, size_t at)
{
	size_t v = b->n - at - 2;
	b->p[at] = (uint8_t)(v >> 8);
	b->p[at + 1] = (uint8_t)v;
}

static void ext_sni(struct buf *b, const char *name, bool two)
{
	size_t ext, list;

	put16(b, 0);
	ext = b->n;
	put16(b, 0);
	list = b->n;
	put16(b, 0);
	put8(b, 0);
	put16(b, (unsigned)strlen(name));
	put(b, name, strlen(name));
	if (two) {
		put8(b, 0);
		put16(b, 5);
		put(b, "x.com", 5);
	}
	patch16(b, list);
	patch16(b, ext);
}

size_t ch_build(const struct ch_spec *s, size_t rec_max, uint8_t *out,
		size_t outlen)
{
	uint8_t hs[8192];
	struct buf h = { hs, 0, sizeof(hs) }, o = { out, 0, outlen };
	size_t exts, i, off;

	put8(&h, 1);			/* ClientHello */
	put8(&h, 0);
	put16(&h, 0);			/* length, patched below */
	put16(&h, 0x0303);
	for (i = 0; i < 32; i++)
		put8(&h, (unsigned)i);
	put8(&h, 32);			/* session id */
	for (i = 0; i < 32; i++)
		put8(&h, 0xaa);
	put16(&h, 4);
	put16(&h, 0x1301);
	put16(&h, 0xc02f);
	put8(&h, 1);
	put8(&h, 0);
	exts = h.n;
	put16(&h, 0);
	if (s->sni)
		ext_sni(&h, s->sni, s->two_names);
	if (s->dup_ext)
		ext_sni(&h, "evil.example", false);
	if (s->alpn[0]) {
		size_t e, l;
		put16(&h, 16);
		e = h.n;
		put16(&h, 0);
		l = h.n;
		put16(&h, 0);
		for (i = 0; i < 4 && s->alpn[i]; i++) {
			put8(&h, (unsigned)strlen(s->alpn[i]));
			put(&h, s->alpn[i], strlen(s->alpn[i]));
		}
		patch16(&h, l);
		patch16(&h, e);
	}
	if (s->tls13) {
		put16(&h, 43);
		put16(&h, 5);
		put8(&h, 4);
		put16(&h, 0x0304);
		put16(&h, 0x0303);
	}
	if (s->ech) {
		put16(&h, 0xfe0d);
		put16(&h, 4);
		put16(&h, 0);
		put16(&h, 0);
	}
	if (s->pad) {
		put16(&h, 21);
		put16(&h, (unsigned)s->pad);
		for (i = 0; i < s->pad; i++)
			put8(&h, 0);
	}
	patch16(&h, exts);
	hs[1] = (uint8_t)((h.n - 4) >> 16);
	hs[2] = (uint8_t)((h.n - 4) >> 8);
	hs[3] = (uint8_t)(h.n - 4);
	for (off = 0; off < h.n; off += rec_max) {
		size_t n = h.n - off < rec_max ? h.n - off : rec_max;
		put8(&o, 22);
		put16(&o, 0x0301);
		put16(&o, (unsigned)n);
		put(&o, hs + off, n);
	}
	return o.n <= outlen ? o.n : 0;
}
