/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "cidr.h"
#include "config.h"
#include "file.h"
#include "xalloc.h"

void cfg_defaults(struct sbxfw_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "/run/sbxfw/sbxfw.sock");
	snprintf(c->database, sizeof(c->database), "/var/lib/sbxfw/sbxfw.db");
	c->queue = 0;
	c->queues = 1;
	c->flow_rate = 2000;
	snprintf(c->user, sizeof(c->user), "sbxfw");
	snprintf(c->group, sizeof(c->group), "sbxfw");
	c->mark_mask = 0x0fff0000;
	c->mode = MODE_DENY_ALL;
	c->deny_action = DENY_REJECT;
	c->ip_binding = BINDING_STRICT;
	snprintf(c->ca_dir, sizeof(c->ca_dir), "/var/lib/sbxfw/ca");
	c->leaf_days = 7;
	snprintf(c->upstream_ca, sizeof(c->upstream_ca),
		 "/etc/ssl/certs/ca-certificates.crt");
	c->ech = ECH_OUTER;
	c->log_allowed = true;
	c->table_owner = true;
	c->retention_days = 30;
	c->max_size = CFG_MAX_SIZE_DEFAULT;
	snprintf(c->policies_dir, sizeof(c->policies_dir),
		 "/etc/sbxfw/policies.d");
}

/* Each key parser returns NULL or what is wrong with the value. */
typedef const char *(*key_parse_fn)(struct sbxfw_config *c, size_t off,
				    size_t size, const char *v);

static const char *parse_str(struct sbxfw_config *c, size_t off, size_t size,
			     const char *v)
{
	if (!*v)
		return "empty value";
	if (strlen(v) >= size)
		return "value too long";
	memcpy((char *)c + off, v, strlen(v) + 1);
	return NULL;
}

static const char *parse_path(struct sbxfw_config *c, size_t off,
			      size_t size, const char *v)
{
	if (v[0] != '/')
		return "not an absolute path";
	return parse_str(c, off, size, v);
}

/* A Unix socket's path, or an address and a port (metrics_addr()). */
static const char *parse_listen(struct sbxfw_config *c, size_t off,
				size_t size, const char *v)
{
	struct sockaddr_storage ss;

	if (v[0] == '/')
		return strlen(v) >= 108 ? "a socket path of 107 bytes at most" :
		       parse_str(c, off, size, v);
	if (cfg_listen_addr(v, &ss) < 0)
		return "expected ADDRESS:PORT ([V6]:PORT) or a socket path";
	return parse_str(c, off, size, v);
}

/* upstream_parse()'s address and port, the port required (digits) and an
 * IPv6 address in brackets. */
int cfg_listen_addr(const char *v, struct sockaddr_storage *ss)
{
	const char *port = v[0] == '[' ? strstr(v, "]:") : strchr(v, ':');
	struct upstream u;

	memset(ss, 0, sizeof(*ss));
	if (!port || (v[0] != '[' && strchr(port + 1, ':')))
		return -1;
	port += v[0] == '[' ? 2 : 1;
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    upstream_parse(v, &u) < 0)
		return -1;
	if (u.family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(u.port);
		memcpy(&a->sin_addr, u.addr, 4);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(u.port);
		memcpy(&a->sin6_addr, u.addr, 16);
	}
	return 0;
}

static const char *parse_ulong(const char *v, unsigned long min,
			       unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)v[0]))
		return "not a number";
	errno = 0;
	*out = strtoul(v, &end, 0);
	if (errno || *end)
		return "not a number";
	if (*out < min || *out > max)
		return "out of range";
	return NULL;
}

#define FIELD(c, off, type) (*(type *)((char *)(c) + (off)))

static const char *parse_u16(struct sbxfw_config *c, size_t off, size_t size,
			     const char *v)
{
	unsigned long n;
	const char *why = parse_ulong(v, size, 65535, &n);	/* size: min */

	if (!why)
		FIELD(c, off, uint16_t) = (uint16_t)n;
	return why;
}

static const char *parse_count(struct sbxfw_config *c, size_t off,
			       unsigned long min, unsigned long max,
			       const char *v)
{
	unsigned long n;
	const char *why = parse_ulong(v, min, max, &n);

	if (!why)
		FIELD(c, off, unsigned) = (unsigned)n;
	return why;
}

/* days */
static const char *parse_uint(struct sbxfw_config *c, size_t off, size_t size,
			      const char *v)
{
	return parse_count(c, off, size, 36500, v);
}

/* new flows a second */
static const char *parse_rate(struct sbxfw_config *c, size_t off, size_t size,
			      const char *v)
{
	return parse_count(c, off, size, 10000000, v);
}

/* bytes: a number, then K, M, G or T (powers of 1024); 0 is no bound */
static const char *parse_size(struct sbxfw_config *c, size_t off, size_t size,
			      const char *v)
{
	static const char units[] = "KMGT";
	const char *u;
	unsigned long long n;
	char *end;
	int shift = 0;

	(void)size;
	if (!isdigit((unsigned char)v[0]))
		return "not a size (a number, then K, M, G or T)";
	errno = 0;
	n = strtoull(v, &end, 10);
	if (*end && end[1] == '\0' && (u = strchr(units, toupper(*end))))
		shift = 10 * (int)(u - units + 1), end++;
	if (errno || *end)
		return "not a size (a number, then K, M, G or T)";
	if (n > (UINT64_MAX >> 20) >> shift)
		return "out of range";
	n <<= shift;
	if (n && n < CFG_MAX_SIZE_MIN)
		return "below 1M (0: no bound)";
	FIELD(c, off, uint64_t) = n;
	return NULL;
}

static const char *parse_bool(struct sbxfw_config *c, size_t off, size_t size,
			      const char *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	(void)size;
	for (i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
			FIELD(c, off, bool) = !strcasecmp(v, yes[i]);
			return NULL;
		}
	}
	return "not a boolean (true or false)";
}

static const char *parse_mask(struct sbxfw_config *c, size_t off, size_t size,
			      const char *v)
{
	unsigned long n;
	const char *why = parse_ulong(v, 1, 0xffffffffUL, &n);
	uint32_t m;

	(void)size;
	if (why)
		return why;
	m = (uint32_t)n;
	/* contiguous: the sandbox id and the verdict are shifted into it */
	if (((m >> __builtin_ctz(m)) & ((m >> __builtin_ctz(m)) + 1)) != 0)
		return "bits are not contiguous";
	if (__builtin_popcount(m) < 4)
		return "fewer than 4 bits";
	FIELD(c, off, uint32_t) = m;
	return NULL;
}

/* An enum value by name: `size` indexes the name lists below. */
static const char *const *const enum_names[] = {
	(const char *const[]){ "allow-all", "deny-all", "user-defined", NULL },
	(const char *const[]){ "reject", "drop", NULL },
	(const char *const[]){ "strict", "off", NULL },
	(const char *const[]){ "outer", "deny", NULL },
};

static const char *parse_enum(struct sbxfw_config *c, size_t off, size_t size,
			      const char *v)
{
	const char *const *names = enum_names[size];
	int i;

	for (i = 0; names[i]; i++) {
		if (!strcmp(v, names[i])) {
			FIELD(c, off, int) = i;
			return NULL;
		}
	}
	return "not one of the allowed values";
}

int upstream_parse(const char *s, struct upstream *u)
{
	char host[64];
	const char *port = NULL;
	struct cidr a;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		n = (size_t)(close - s - 1);
		s++;
		port = close[1] ? close + 2 : NULL;
	} else {
		const char *colon = strchr(s, ':');
		bool v6 = colon && strchr(colon + 1, ':');
		n = colon && !v6 ? (size_t)(colon - s) : strlen(s);
		port = colon && !v6 ? colon + 1 : NULL;
	}
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (addr_parse(host, &a) < 0)
		return -EINVAL;
	u->family = a.family;
	memcpy(u->addr, a.addr, 16);
	u->port = 53;
	if (port) {
		unsigned long p;
		if (parse_ulong(port, 1, 65535, &p))
			return -EINVAL;
		u->port = (uint16_t)p;
	}
	return 0;
}

static const char *parse_upstream(struct sbxfw_config *c, size_t off,
				  size_t size, const char *v)
{
	char *copy = xstrdup(v), *tok, *save = NULL;
	const char *why = NULL;

	(void)off;
	(void)size;
	for (tok = strtok_r(copy, ", \t", &save); tok && !why;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (c->nupstream == CFG_UPSTREAM_MAX)
			why = "more than 8 upstream resolvers";
		else if (upstream_parse(tok, &c->upstream[c->nupstream++]) < 0)
			why = "not an address[:port]";
	}
	if (!why && c->nupstream == 0)
		why = "empty value";
	free(copy);
	return why;
}

struct key_def {
	const char *section, *key;
	key_parse_fn parse;
	size_t off, size;	/* size: buffer size, minimum, or enum list */
	bool repeatable;
};

#define OFF(f) offsetof(struct sbxfw_config, f)
#define SZ(f) sizeof(((struct sbxfw_config *)0)->f)

static const struct key_def keys[] = {
	{ "daemon", "socket", parse_path, OFF(socket), SZ(socket), false },
	{ "daemon", "database", parse_path, OFF(database), SZ(database), false },
	{ "daemon", "queue", parse_u16, OFF(queue), 0, false },
	{ "daemon", "queues", parse_u16, OFF(queues), 1, false },
	{ "daemon", "user", parse_str, OFF(user), SZ(user), false },
	{ "daemon", "group", parse_str, OFF(group), SZ(group), false },
	{ "daemon", "admin_group", parse_str, OFF(admin_group),
	  SZ(admin_group), false },
	{ "daemon", "fail_open", parse_bool, OFF(fail_open), 0, false },
	{ "daemon", "table_owner", parse_bool, OFF(table_owner), 0, false },
	{ "daemon", "mark_mask", parse_mask, OFF(mark_mask), 0, false },
	{ "daemon", "flow_rate", parse_rate, OFF(flow_rate), 1, false },
	{ "defaults", "mode", parse_enum, OFF(mode), 0, false },
	{ "defaults", "deny_action", parse_enum, OFF(deny_action), 1, false },
	{ "dns", "upstream", parse_upstream, 0, 0, true },
	{ "dns", "ip_binding", parse_enum, OFF(ip_binding), 2, false },
	{ "tls", "ca_dir", parse_path, OFF(ca_dir), SZ(ca_dir), false },
	{ "tls", "leaf_days", parse_uint, OFF(leaf_days), 1, false },
	{ "tls", "broker", parse_path, OFF(broker), SZ(broker), false },
	{ "tls", "upstream_ca", parse_path, OFF(upstream_ca), SZ(upstream_ca),
	  false },
	{ "tls", "ech", parse_enum, OFF(ech), 3, false },
	{ "audit", "log_allowed", parse_bool, OFF(log_allowed), 0, false },
	{ "audit", "retention_days", parse_uint, OFF(retention_days), 0,
	  false },
	{ "audit", "max_size", parse_size, OFF(max_size), 0, false },
	{ "audit", "journal", parse_bool, OFF(journal), 0, false },
	{ "policies", "dir", parse_path, OFF(policies_dir), SZ(policies_dir),
	  false },
	{ "metrics", "listen", parse_listen, OFF(metrics_listen),
	  SZ(metrics_listen), false },
	{ "metrics", "per_sandbox", parse_bool, OFF(metrics_per_sandbox), 0,
	  false },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct parse_state {
	struct sbxfw_config cfg;
	bool seen[NKEYS];
	char msg[256];		/* the first error */
};

static bool section_known(const char *s)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, s))
			return true;
	return false;
}

static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_state *st = user;
	const char *why;
	size_t i;

	if (st->msg[0])
		return 0;
	if (!*section) {
		snprintf(st->msg, sizeof(st->msg),
			 "key `%s' outside of a section", name);
		return 0;
	}
	for (i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) &&
		    !strcmp(keys[i].key, name))
			break;
	if (i == NKEYS) {
		if (section_known(section))
			snprintf(st->msg, sizeof(st->msg),
				 "unknown key `%s' in [%s]", name, section);
		else
			snprintf(st->msg, sizeof(st->msg),
				 "unknown section [%s]", section);
		return 0;
	}
	if (st->seen[i] && !keys[i].repeatable) {
		snprintf(st->msg, sizeof(st->msg), "%s set twice", name);
		return 0;
	}
	st->seen[i] = true;
	why = keys[i].parse(&st->cfg, keys[i].off, keys[i].size, value);
	if (why) {
		snprintf(st->msg, sizeof(st->msg), "%s = %s: %s", name, value,
			 why);
		return 0;
	}
	return 1;
}

/* inih calls nothing for an empty section: find unknown ones here. */
static int scan_sections(const char *text, struct parse_state *st)
{
	const char *line = text;
	int lineno = 1;

	for (; *line; lineno++) {
		const char *end = strchr(line, '\n'), *p = line, *close;
		size_t n = end ? (size_t)(end - line) : strlen(line);

		while (p < line + n && isspace((unsigned char)*p))
			p++;
		if (p < line + n && *p == '[' &&
		    (close = memchr(p, ']', (size_t)(line + n - p)))) {
			char name[64];
			size_t l = (size_t)(close - p - 1);
			if (l >= sizeof(name))
				l = sizeof(name) - 1;
			memcpy(name, p + 1, l);
			name[l] = '\0';
			if (!section_known(name)) {
				snprintf(st->msg, sizeof(st->msg),
					 "unknown section [%s]", name);
				return lineno;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	return 0;
}

int cfg_parse_string(const char *text, const char *file,
		     struct sbxfw_config *c, char *err, size_t errlen)
{
	struct parse_state *st = xcalloc(1, sizeof(*st));
	int line, rc = -EINVAL;

	cfg_defaults(&st->cfg);
	line = scan_sections(text, st);
	if (!line)
		line = ini_parse_string(text, on_key, st);
	if (line == 0 && st->cfg.queue + st->cfg.queues - 1 > 65535) {
		snprintf(err, errlen, "%s: queue + queues exceeds 65535", file);
		goto out;
	}
	if (line) {
		snprintf(err, errlen, "%s:%d: %s", file, line,
			 st->msg[0] ? st->msg : "syntax error");
		goto out;
	}
	*c = st->cfg;
	rc = 0;
out:
	free(st);
	return rc;
}

int cfg_load(const char *path, struct sbxfw_config *c, char *err,
	     size_t errlen)
{
	char *text = file_read(path, 1 << 20, NULL);
	int rc;

	if (!text) {
		if (errno == ENOENT && !strcmp(path, CFG_DEFAULT_PATH)) {
			cfg_defaults(c);
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	rc = cfg_parse_string(text, path, c, err, errlen);
	free(text);
	return rc;
}

int cfg_upstream_from_resolv(struct sbxfw_config *c, const char *path)
{
	char line[256], addr[64];
	FILE *f;

	if (c->nupstream)
		return 0;
	if (!(f = fopen(path, "r")))
		return -errno;
	while (fgets(line, sizeof(line), f) && c->nupstream < CFG_UPSTREAM_MAX) {
		if (sscanf(line, " nameserver %63s", addr) == 1 &&
		    upstream_parse(addr, &c->upstream[c->nupstream]) == 0)
			c->nupstream++;
	}
	fclose(f);
	return c->nupstream ? 0 : -ENOENT;
}
