/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The policy files of a directory, as config management pushes them:
 * read, checked, their secrets taken from files of the daemon's own. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_pos.h"
#include "policy_files.h"
#include "policy_json.h"
#include "secret.h"
#include "xalloc.h"

#define FILES_MAX 100000
#define FILE_MAX (64u << 20)
#define SECRET_MAX 8192
#define ERRLEN 512

/* What was learnt of a file when it was last read: its secrets' paths,
 * which its stamp covers. */
struct seen {
	char *path;
	char name[SANDBOX_NAME_MAX + 1];
	uint64_t stamp;
	char **secrets;
	size_t nsecrets;
};

static struct seen *seen;
static size_t nseen;

static struct seen *seen_find(const char *path)
{
	for (size_t i = 0; i < nseen; i++)
		if (!strcmp(seen[i].path, path))
			return &seen[i];
	return NULL;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t stamp_add(uint64_t h, const char *path)
{
	struct stat st;
	int e;

	if (stat(path, &st) < 0) {
		e = errno;
		return mix(h, &e, sizeof(e));
	}
	h = mix(h, &st.st_dev, sizeof(st.st_dev));
	h = mix(h, &st.st_ino, sizeof(st.st_ino));
	h = mix(h, &st.st_size, sizeof(st.st_size));
	h = mix(h, &st.st_mode, sizeof(st.st_mode));
	h = mix(h, &st.st_uid, sizeof(st.st_uid));
	h = mix(h, &st.st_mtim, sizeof(st.st_mtim));
	return mix(h, &st.st_ctim, sizeof(st.st_ctim));
}

static uint64_t stamp_of(const char *path, char **secrets, size_t n)
{
	uint64_t h = stamp_add(0xcbf29ce484222325ull, path);

	for (size_t i = 0; i < n; i++)
		h = stamp_add(h, secrets[i]);
	return h;
}

static void seen_set(const struct pfile *f, char **secrets, size_t n)
{
	struct seen *s = seen_find(f->path);

	if (!s) {
		seen = xreallocarray(seen, nseen + 1, sizeof(*seen));
		s = &seen[nseen++];
		s->path = xstrdup(f->path);
	} else {
		for (size_t i = 0; i < s->nsecrets; i++)
			free(s->secrets[i]);
		free(s->secrets);
	}
	snprintf(s->name, sizeof(s->name), "%s", f->name);
	s->stamp = f->stamp;
	s->secrets = secrets;
	s->nsecrets = n;
}

/* ---- one file ---- */

/* A regular file opened (a FIFO or a device never: a FIFO would hold the
 * event loop, a device's open may act), or -1 with msg set. */
static int regular_open(const char *path, struct stat *st, char *msg)
{
	struct stat at;
	int fd;

	if (stat(path, &at) < 0) {
		snprintf(msg, ERRLEN, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(at.st_mode)) {
		snprintf(msg, ERRLEN, "not a regular file");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    st->st_ino != at.st_ino || st->st_dev != at.st_dev) {
		snprintf(msg, ERRLEN, "%s", fd < 0 ? strerror(errno) :
			 "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Up to max bytes of a regular file, NUL-terminated. */
static char *regular_read(const char *path, size_t max, size_t *len,
			  char *msg)
{
	struct stat st;
	int fd = regular_open(path, &st, msg);
	size_t n = 0;
	ssize_t r;
	char *buf;

	if (fd < 0)
		return NULL;
	if ((uint64_t)st.st_size > max) {
		snprintf(msg, ERRLEN, "larger than %zu bytes", max);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size &&
	       (r = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

struct ctx {
	const char *path;
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
	char **secrets;		/* the value files it names */
	size_t nsecrets;
	const char *const *private_dirs;
};

/* "FILE:LINE:COL: msg", the place that of `at' (a path in the file's
 * JSON). */
static int fail_at(struct ctx *c, const char *at, const char *msg)
{
	int line, col;

	json_pos(c->text, c->len, at, &line, &col);
	snprintf(c->err, c->errlen, "%s:%d:%d: %s", c->path, line, col, msg);
	return -EINVAL;
}

/* A secret: a regular file of the daemon's user, readable by it alone,
 * one line. Its content never reaches a message. */
static char *secret_read(const char *path, char *msg)
{
	char buf[SECRET_MAX + 2], *v = NULL, why[ERRLEN];
	struct stat st;
	ssize_t n;
	int fd = regular_open(path, &st, why);

	if (fd < 0) {
		snprintf(msg, ERRLEN, "value_file %.300s: %.150s", path, why);
		return NULL;
	}
	if ((st.st_mode & 077) || st.st_uid != geteuid()) {
		snprintf(msg, ERRLEN, "value_file %s: a secret must be a file "
			 "of the daemon's user (uid %u) readable by it alone "
			 "(chmod 600); it is mode %04o, owner uid %u", path,
			 (unsigned)geteuid(), (unsigned)(st.st_mode & 07777),
			 (unsigned)st.st_uid);
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0 || n > SECRET_MAX) {
		snprintf(msg, ERRLEN, "value_file %s: %s", path, n < 0 ?
			 strerror(errno) : "longer than 8192 bytes");
		goto out;
	}
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = 0;
	if (!n || memchr(buf, '\n', (size_t)n) || memchr(buf, '\r', (size_t)n)
	    || strlen(buf) != (size_t)n) {
		snprintf(msg, ERRLEN, "value_file %s: must hold one header "
			 "value on one line", path);
		goto out;
	}
	v = secret_strdup(buf);
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return v;
}

/* Not a file of the daemon's own state (its database, its CA keys): a
 * policy file names secrets for it, not its private files. */
static bool private_path(struct ctx *c, const char *path, char *msg)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return false;	/* secret_read says why */
	for (const char *const *d = c->private_dirs; d && *d; d++) {
		size_t n = strlen(*d);

		if (!strncmp(real, *d, n) && (real[n] == '/' || !real[n])) {
			snprintf(msg, ERRLEN, "value_file %s: inside %s, the "
				 "daemon's own state", path, *d);
			return true;
		}
	}
	return false;
}

/* {"value_file": PATH} in the place of each injected header's value. */
static int secrets_take(struct ctx *c, json_t *norm)
{
	char at[160], msg[ERRLEN];
	json_t *rule, *h, *v;
	const char *name;
	size_t i;

	json_array_foreach(json_object_get(norm, "inject"), i, rule) {
		json_object_foreach(json_object_get(rule, "headers"), name, v) {
			const char *p = json_string_value(json_object_get(v,
							"value_file"));
			char *secret;

			snprintf(at, sizeof(at), "policy.inject[%zu].headers."
				 "%s", i, name);
			if (json_is_string(v))
				return fail_at(c, at, "a header value in a "
					       "policy file is named by "
					       "{\"value_file\": PATH}, never "
					       "written in it");
			if (!p || json_object_size(v) != 1)
				return fail_at(c, at, "expected {\"value_file"
					       "\": PATH}");
			if (private_path(c, p, msg) ||
			    !(secret = secret_read(p, msg)))
				return fail_at(c, at, msg);
			c->secrets = xreallocarray(c->secrets, c->nsecrets + 1,
						   sizeof(char *));
			c->secrets[c->nsecrets++] = xstrdup(p);
			/* the same key: the walk goes on unharmed */
			h = json_object_get(rule, "headers");
			json_object_set_new(h, name, json_string(secret));
			secret_free(secret);
		}
	}
	return 0;
}

static struct policy *policy_take(struct ctx *c, json_t *doc)
{
	char msg[ERRLEN], at[160];
	struct policy *p = NULL;
	json_t *norm;
	size_t n;

	if (!doc)
		return fail_at(c, "", "missing \"policy\""), NULL;
	if (!(norm = policy_json_normalize(doc, msg, sizeof(msg))))
		return fail_at(c, "policy", msg), NULL;
	if (secrets_take(c, norm) == 0) {
		p = policy_from_json_value(norm, msg, sizeof(msg));
		n = json_pos_path_len(msg);
		snprintf(at, sizeof(at), "policy.%.*s", (int)n, msg);
		if (!p)
			fail_at(c, at, msg);
	}
	json_decref(norm);
	return p;
}

static int strings_at(struct ctx *c, json_t *root, const char *key,
		      json_t **out)
{
	char at[64];
	json_t *v;
	size_t i;

	*out = json_object_get(root, key);
	if (!*out)
		return 0;
	if (!json_is_array(*out))
		return fail_at(c, key, "not an array");
	json_array_foreach(*out, i, v)
		if (!json_is_string(v)) {
			snprintf(at, sizeof(at), "%s[%zu]", key, i);
			return fail_at(c, at, "not a string");
		}
	return 0;
}

static int match_take(struct ctx *c, json_t *root, struct sandbox_match *m)
{
	char msg[ERRLEN], at[64];
	json_t *ifs, *srcs, *v;
	size_t i;

	if (strings_at(c, root, "ifaces", &ifs) < 0 ||
	    strings_at(c, root, "sources", &srcs) < 0)
		return -EINVAL;
	m->ifaces = xcalloc(json_array_size(ifs) + 1, sizeof(char *));
	json_array_foreach(ifs, i, v)
		m->ifaces[m->nifaces++] = xstrdup(json_string_value(v));
	m->sources = xcalloc(json_array_size(srcs) + 1, sizeof(struct cidr));
	json_array_foreach(srcs, i, v)
		if (cidr_parse(json_string_value(v), &m->sources[m->nsources++],
			       msg, sizeof(msg)) < 0) {
			snprintf(at, sizeof(at), "sources[%zu]", i);
			return fail_at(c, at, msg);
		}
	if (sandbox_match_valid(m, msg, sizeof(msg)) < 0)
		return fail_at(c, m->nifaces ? "ifaces" : "", msg);
	return 0;
}

static int name_take(struct ctx *c, json_t *root, const char *base,
		     struct pfile *f)
{
	json_t *v = json_object_get(root, "name");
	const char *name = json_string_value(v);
	char msg[ERRLEN];

	if (v && !name)
		return fail_at(c, "name", "not a string");
	if (!name) {		/* the file's name without .json */
		snprintf(f->name, sizeof(f->name), "%.*s",
			 (int)(strlen(base) - 5), base);
		name = f->name;
	}
	if (sandbox_name_check(name, msg, sizeof(msg)) < 0)
		return fail_at(c, v ? "name" : "", msg);
	if (name != f->name)
		snprintf(f->name, sizeof(f->name), "%s", name);
	return 0;
}

static int keys_check(struct ctx *c, json_t *root)
{
	static const char *const keys[] = { "name", "ifaces", "sources",
					    "policy", "comment", NULL };
	const char *key;
	char msg[ERRLEN];
	json_t *v;
	size_t i;

	json_object_foreach(root, key, v) {
		for (i = 0; keys[i] && strcmp(keys[i], key); i++)
			;
		if (!keys[i]) {
			snprintf(msg, sizeof(msg), "unknown key `%s' (name, "
				 "ifaces, sources, policy, comment)", key);
			return fail_at(c, key, msg);
		}
	}
	return 0;
}

/* jansson's message without what it quotes of the text ("near 'x'"):
 * a link to a file of the daemon's could show it. */
static void syntax_error(const struct pfile *f, const json_error_t *je,
			 char *err, size_t errlen)
{
	const char *near = strstr(je->text, " near ");

	snprintf(err, errlen, "%s:%d:%d: %.*s", f->path, je->line, je->column,
		 near ? (int)(near - je->text) : (int)strlen(je->text),
		 je->text);
}

static int file_take(struct pfile *f, const char *base,
		     const char *const *private_dirs, char *err,
		     size_t errlen)
{
	struct ctx c = { .path = f->path, .err = err, .errlen = errlen,
			 .private_dirs = private_dirs };
	char msg[ERRLEN];
	json_error_t je;
	json_t *root;
	char *text;
	int rc = -EINVAL;

	if (!(text = regular_read(f->path, FILE_MAX, &c.len, msg))) {
		snprintf(err, errlen, "%s: %s", f->path, msg);
		return -EIO;
	}
	c.text = text;
	root = json_loadb(text, c.len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		syntax_error(f, &je, err, errlen);
	else if (!json_is_object(root))
		fail_at(&c, "", "a policy file is a JSON object");
	else if (keys_check(&c, root) == 0 &&
		 name_take(&c, root, base, f) == 0 &&
		 match_take(&c, root, &f->match) == 0 &&
		 (f->policy = policy_take(&c, json_object_get(root, "policy"))))
		rc = 0;
	json_decref(root);
	wipe_free(text, c.len);
	f->stamp = stamp_of(f->path, c.secrets, c.nsecrets);
	if (rc == 0) {
		seen_set(f, c.secrets, c.nsecrets);
		return 0;
	}
	for (size_t i = 0; i < c.nsecrets; i++)
		free(c.secrets[i]);
	free(c.secrets);
	return rc;
}

/* ---- the directory ---- */

static int json_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	/* hidden: the temporary files of rsync and of editors */
	return e->d_name[0] != '.' && n > 5 &&
	       !strcmp(e->d_name + n - 5, ".json");
}

static int one(const char *dir, const char *base, struct pfile *f,
	       const struct pfiles_opts *o, char *err, size_t errlen)
{
	struct seen *s;
	size_t n = strlen(dir) + strlen(base) + 2;

	f->path = xmalloc(n);
	snprintf(f->path, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ?
		 "" : "/", base);
	if ((s = seen_find(f->path)) &&
	    s->stamp == stamp_of(f->path, s->secrets, s->nsecrets)) {
		f->stamp = s->stamp;
		snprintf(f->name, sizeof(f->name), "%s", s->name);
		if (o->fresh(f, o->arg))
			return 0;
	}
	return file_take(f, base, o->private_dirs, err, errlen);
}

int pfiles_read(const char *dir, struct pfiles *out,
		const struct pfiles_opts *o, char *err, size_t errlen)
{
	struct dirent **list;
	int n = scandir(dir, &list, json_file, alphasort), rc = 0;

	memset(out, 0, sizeof(*out));
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (n > FILES_MAX) {
		snprintf(err, errlen, "%s: %d files, more than %d", dir, n,
			 FILES_MAX);
		rc = -E2BIG;
	}
	out->f = xcalloc((size_t)n + 1, sizeof(*out->f));
	for (int i = 0; i < n; i++) {
		if (rc == 0) {
			rc = one(dir, list[i]->d_name, &out->f[out->n++], o,
				 err, errlen);
		}
		free(list[i]);
	}
	free(list);
	if (rc < 0)
		pfiles_clear(out);
	return rc;
}

void pfiles_clear(struct pfiles *pf)
{
	for (size_t i = 0; i < pf->n; i++) {
		free(pf->f[i].path);
		sandbox_match_clear(&pf->f[i].match);
		policy_free(pf->f[i].policy);
	}
	free(pf->f);
	memset(pf, 0, sizeof(*pf));
}
