/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A value's place in a JSON text, for messages that name a file's line
 * and column: jansson keeps no positions past its parse. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "json_pos.h"

struct scan {
	const char *s;
	size_t i, len;
};

static void ws(struct scan *c)
{
	while (c->i < c->len && strchr(" \t\r\n", c->s[c->i]))
		c->i++;
}

/* Past a string whose opening quote is at i. */
static void string_skip(struct scan *c)
{
	for (c->i++; c->i < c->len && c->s[c->i] != '"'; c->i++)
		if (c->s[c->i] == '\\')
			c->i++;
	c->i++;
}

/* Past one value of any kind. */
static void value_skip(struct scan *c)
{
	int depth = 0;

	do {
		ws(c);
		if (c->i >= c->len)
			return;
		switch (c->s[c->i]) {
		case '"':
			string_skip(c);
			break;
		case '{': case '[':
			depth++;
			c->i++;
			break;
		case '}': case ']':
			depth--;
			c->i++;
			break;
		case ',': case ':':
			c->i++;
			break;
		default:
			while (c->i < c->len && !strchr(" \t\r\n,:]}", c->s[c->i]))
				c->i++;
		}
	} while (depth > 0);
}

/* At an object's member whose key is key[0..n), or false. */
static bool member(struct scan *c, const char *key, size_t n)
{
	ws(c);
	if (c->i >= c->len || c->s[c->i] != '{')
		return false;
	c->i++;
	for (;;) {
		size_t k;
		bool found;

		ws(c);
		if (c->i >= c->len || c->s[c->i] != '"')
			return false;
		k = c->i + 1;
		string_skip(c);
		found = c->i - 1 - k == n && !memcmp(c->s + k, key, n);
		ws(c);
		c->i++;		/* the colon */
		if (found)
			return true;
		value_skip(c);
		ws(c);
		if (c->i >= c->len || c->s[c->i] != ',')
			return false;
		c->i++;
	}
}

/* At an array's element idx, or false. */
static bool element(struct scan *c, size_t idx)
{
	ws(c);
	if (c->i >= c->len || c->s[c->i] != '[')
		return false;
	c->i++;
	for (size_t e = 0; e < idx; e++) {
		value_skip(c);
		ws(c);
		if (c->i >= c->len || c->s[c->i] != ',')
			return false;
		c->i++;
	}
	ws(c);
	return c->i < c->len && c->s[c->i] != ']';
}

static size_t name_len(const char *p)
{
	size_t n = 0;

	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-')
		n++;
	return n;
}

void json_pos(const char *text, size_t len, const char *path, int *line,
	      int *col)
{
	struct scan c = { text, 0, len };
	size_t at = 0, n;
	const char *p = path;

	ws(&c);
	at = c.i;
	while (*p) {
		struct scan t = c;
		bool ok;

		if (*p == '[') {
			size_t idx = 0;

			for (p++; isdigit((unsigned char)*p); p++)
				idx = idx * 10 + (size_t)(*p - '0');
			if (*p++ != ']')
				break;
			ok = element(&t, idx);
		} else {
			p += *p == '.';
			n = name_len(p);
			ok = n && member(&t, p, n);
			p += n;
		}
		if (!ok)
			break;
		ws(&t);
		c = t;
		at = c.i;
	}
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < at && i < len; i++) {
		if (text[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

size_t json_pos_path_len(const char *msg)
{
	size_t n = name_len(msg);

	if (!n || isdigit((unsigned char)msg[0]))
		return 0;
	for (;;) {
		if (msg[n] == '[' && isdigit((unsigned char)msg[n + 1])) {
			n += 2;
			while (isdigit((unsigned char)msg[n]))
				n++;
			if (msg[n] != ']')
				return 0;
			n++;
		} else if (msg[n] == '.' && name_len(msg + n + 1)) {
			n += 1 + name_len(msg + n + 1);
		} else {
			break;
		}
	}
	return msg[n] == ':' ? n : 0;
}
