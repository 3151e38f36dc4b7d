/* SPDX-License-Identifier: GPL-2.0-or-later */
/* policies.d applied as config management expects: all or nothing, a
 * diff per sandbox, nothing done for what did not change. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "broker.h"
#include "log.h"
#include "policy_diff.h"
#include "policy_files.h"
#include "revoke.h"
#include "sandbox.h"
#include "xalloc.h"

#define ERRLEN 512
#define WHAT_MAX 2048
#define REPLY_CHANGES_MAX 100000

/* One sandbox the apply changes. */
struct step {
	struct pfile *f;	/* NULL: pruned */
	struct sandbox *sb;	/* the running one; NULL: created */
	struct sandbox *next;	/* its state to be; NULL: pruned */
	json_t *changes;
};

struct plan {
	const char *dir;
	struct pfiles pf;
	const struct sandbox **stay;	/* running ones in no file, kept */
	size_t nstay;
	struct step *s;
	size_t n, unchanged;
	bool prune;
};

/* Whether a sandbox was made from a file of the directory applied. */
static bool in_dir(const struct plan *pl, const struct sandbox *sb)
{
	size_t n = strlen(pl->dir);
	const char *slash;

	while (n > 1 && pl->dir[n - 1] == '/')
		n--;
	slash = sb->file ? strrchr(sb->file, '/') : NULL;
	return slash && (size_t)(slash - sb->file) == n &&
	       !strncmp(sb->file, pl->dir, n);
}

/* A file whose stamp is what was applied, to a sandbox no command has
 * changed since, need not be read. */
static bool fresh(const struct pfile *f, void *arg)
{
	const struct sandbox *sb = sandbox_find(f->name);

	(void)arg;
	return sb && sb->file && !strcmp(sb->file, f->path) &&
	       sb->file_stamp == f->stamp && sb->file_changes == sb->changes;
}

static bool file_named(const struct pfiles *pf, const char *name)
{
	for (size_t i = 0; i < pf->n; i++)
		if (!strcmp(pf->f[i].name, name))
			return true;
	return false;
}

/* Whether a running sandbox stays as it is: in no file, and not pruned. */
static bool stays(const struct plan *pl, const struct sandbox *sb)
{
	return !file_named(&pl->pf, sb->name) && !(pl->prune && in_dir(pl, sb));
}

/* A file's sandbox: its name not that of another file nor of a sandbox
 * made by a command. */
static int check_name(const struct plan *pl, size_t i, char *msg)
{
	const struct pfile *f = &pl->pf.f[i];
	const struct sandbox *sb = sandbox_find(f->name);

	for (size_t j = 0; j < i; j++)
		if (!strcmp(pl->pf.f[j].name, f->name)) {
			snprintf(msg, ERRLEN, "sandbox `%s' is also that of "
				 "%s", f->name, pl->pf.f[j].path);
			return -EEXIST;
		}
	if (sb && !sb->file) {
		snprintf(msg, ERRLEN, "sandbox `%s' exists, made by `sbxfw "
			 "create' (destroy it first, or name this one "
			 "otherwise)", f->name);
		return -EEXIST;
	}
	/* one made from another directory's file, while that is there */
	if (sb && !in_dir(pl, sb) && access(sb->file, F_OK) == 0) {
		snprintf(msg, ERRLEN, "sandbox `%s' exists, made from %.300s",
			 f->name, sb->file);
		return -EEXIST;
	}
	return 0;
}

/* Its interfaces and sources overlap no other sandbox's, as they will
 * be after the apply. */
static int check_match(const struct plan *pl, size_t i, char *msg)
{
	const struct pfile *f = &pl->pf.f[i], *g;
	const struct sandbox *o;

	if (!f->policy)		/* unchanged: checked when it was applied */
		return 0;
	for (size_t j = 0; j < pl->pf.n; j++) {
		g = &pl->pf.f[j];
		if (j == i)
			continue;
		if (g->policy && sandbox_match_overlap(&f->match, &g->match,
						       g->name, msg,
						       ERRLEN) < 0)
			return -EEXIST;
		if (!g->policy && (o = sandbox_find(g->name)) &&
		    sandbox_match_overlap(&f->match, &o->match, o->name, msg,
					  ERRLEN) < 0)
			return -EEXIST;
	}
	for (size_t j = 0; j < pl->nstay; j++)
		if (sandbox_match_overlap(&f->match, &pl->stay[j]->match,
					  pl->stay[j]->name, msg, ERRLEN) < 0)
			return -EEXIST;
	return 0;
}

/* The running sandboxes the apply leaves as they are, found once. */
static void stay_find(struct plan *pl)
{
	pl->stay = xcalloc(sandbox_count() + 1, sizeof(*pl->stay));
	for (const struct sandbox *o = sandbox_next(NULL); o;
	     o = sandbox_next(o))
		if (stays(pl, o))
			pl->stay[pl->nstay++] = o;
}

static struct step *step_add(struct plan *pl)
{
	pl->s = xreallocarray(pl->s, pl->n + 1, sizeof(*pl->s));
	memset(&pl->s[pl->n], 0, sizeof(*pl->s));
	return &pl->s[pl->n++];
}

/* The state a file asks for, its match and policy taken from it. */
static struct sandbox *next_of(struct pfile *f, const struct sandbox *sb)
{
	struct sandbox *n = xcalloc(1, sizeof(*n));

	n->id = sb ? sb->id : 0;
	snprintf(n->name, sizeof(n->name), "%s", f->name);
	n->match = f->match;
	n->policy = f->policy;
	n->file = xstrdup(f->path);
	memset(&f->match, 0, sizeof(f->match));
	f->policy = NULL;
	return n;
}

static int plan_make(struct daemon *d, const char *dir, struct plan *pl,
		     char *err)
{
	char msg[ERRLEN];

	char db[PATH_MAX], ca[PATH_MAX];
	const char *priv[] = { db, ca, NULL };
	struct pfiles_opts o = { fresh, d, priv };

	/* the database's directory and the CAs': the daemon's own */
	if (!realpath(d->cfg.database, db))
		snprintf(db, sizeof(db), "%s", d->cfg.database);
	if (strrchr(db, '/') && strrchr(db, '/') != db)
		*strrchr(db, '/') = 0;
	if (!realpath(d->cfg.ca_dir, ca))
		snprintf(ca, sizeof(ca), "%s", d->cfg.ca_dir);
	if (pfiles_read(dir, &pl->pf, &o, err, ERRLEN) < 0)
		return -EINVAL;
	stay_find(pl);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < pl->pf.n; i++)
			if ((pass ? check_match(pl, i, msg) :
				    check_name(pl, i, msg)) < 0) {
				snprintf(err, ERRLEN, "%.200s: %.300s",
					 pl->pf.f[i].path, msg);
				return -EEXIST;
			}
	for (size_t i = 0; i < pl->pf.n; i++) {
		struct pfile *f = &pl->pf.f[i];
		struct sandbox *sb = sandbox_find(f->name);
		json_t *c;

		if (!f->policy) {
			pl->unchanged++;
			continue;
		}
		c = policy_diff(sb ? &sb->match : NULL, sb ? sb->policy : NULL,
				&f->match, f->policy);
		if (sb && !json_array_size(c) && !strcmp(sb->file, f->path)) {
			json_decref(c);
			pl->unchanged++;
			continue;
		}
		struct step *s = step_add(pl);

		s->f = f;
		s->sb = sb;
		s->changes = c;
		s->next = next_of(f, sb);
	}
	for (struct sandbox *sb = sandbox_next(NULL); pl->prune && sb;
	     sb = sandbox_next(sb))
		if (in_dir(pl, sb) && !file_named(&pl->pf, sb->name)) {
			struct step *s = step_add(pl);

			s->sb = sb;
			s->changes = json_array();
		}
	return 0;
}

static void plan_clear(struct plan *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		sandbox_free(pl->s[i].next);
		json_decref(pl->s[i].changes);
	}
	free(pl->s);
	free(pl->stay);
	pfiles_clear(&pl->pf);
}

/* "apply FILE: + allow a; - deny b" for policy_changes, cut short. */
static void describe(const struct step *s, char *out)
{
	size_t o = 0;
	json_t *v;
	size_t i;

	snprintf(out, WHAT_MAX, "apply %.1024s%s", s->next ? s->next->file :
		 s->sb->file, s->next ? ":" : ": destroyed");
	o = strlen(out);
	json_array_foreach(s->changes, i, v) {
		const char *c = json_string_value(v);

		if (o + strlen(c) + 8 >= WHAT_MAX) {
			snprintf(out + o, WHAT_MAX - o, " ...");
			return;
		}
		o += (size_t)snprintf(out + o, WHAT_MAX - o, "%s %s",
				      i ? ";" : "", c);
	}
}

/* The store's part of one step, inside the apply's transaction. */
static int store_step(struct daemon *d, struct step *s, uid_t uid,
		      char *err)
{
	struct store *st = &d->store;
	char what[WHAT_MAX];
	int64_t id;
	int rc;

	describe(s, what);
	if (!s->next)
		rc = store_sandbox_delete(st, s->sb->id, err, ERRLEN);
	else if (!s->sb) {
		rc = store_sandbox_create(st, s->next->name, &s->next->match,
					  s->next->policy, &id, err, ERRLEN);
		if (rc == 0 && (id < 1 || id > d->marks.max_id)) {
			snprintf(err, ERRLEN, "no sandbox id left in mark_mask "
				 "0x%08x (%u sandboxes at most)", d->marks.mask,
				 d->marks.max_id);
			rc = -ENOSPC;
		}
		s->next->id = (uint32_t)id;
	} else if ((rc = store_policy_save(st, s->sb->id, s->next->policy,
					   err, ERRLEN)) == 0)
		rc = store_sandbox_match_save(st, s->sb->id, &s->next->match,
					      err, ERRLEN);
	if (rc == 0 && s->next)
		rc = store_sandbox_file_set(st, s->next->id, s->next->file,
					    err, ERRLEN);
	if (rc == 0)
		rc = store_change_log(st, s->next ? s->next->name :
				      s->sb->name, uid, what, err, ERRLEN);
	return rc;
}

/* The kernel's part of every step, in one batch (undo: back). */
static int kernel(struct daemon *d, struct plan *pl, bool undo, char *err)
{
	struct nft_sandbox *ns = xcalloc(2 * pl->n + 1, sizeof(*ns));
	const struct nft_sandbox **old = xcalloc(pl->n + 1, sizeof(*old));
	const struct nft_sandbox **new = xcalloc(pl->n + 1, sizeof(*new));
	int rc;

	for (size_t i = 0; i < pl->n; i++) {
		if (pl->s[i].sb) {
			sandbox_to_nft(pl->s[i].sb, &ns[2 * i]);
			old[i] = &ns[2 * i];
		}
		if (pl->s[i].next) {
			sandbox_to_nft(pl->s[i].next, &ns[2 * i + 1]);
			new[i] = &ns[2 * i + 1];
		}
	}
	rc = undo ? nft_sandboxes_update(new, old, pl->n, &d->marks, err,
					 ERRLEN) :
		    nft_sandboxes_update(old, new, pl->n, &d->marks, err,
					 ERRLEN);
	free(old);
	free(new);
	free(ns);
	return rc;
}

static int commit(struct daemon *d, struct plan *pl, uid_t uid, char *err)
{
	int rc;

	if ((rc = store_savepoint(&d->store, "apply", err, ERRLEN)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < pl->n; i++)
		rc = store_step(d, &pl->s[i], uid, err);
	if (rc == 0)
		rc = kernel(d, pl, false, err);
	if (store_end(&d->store, "apply", rc, err, ERRLEN) < 0) {
		if (rc == 0)	/* the commit failed: the kernel back too */
			kernel(d, pl, true, err + strlen(err));
		return -EIO;
	}
	return 0;
}

/* The running state becomes the plan's; open flows judged again (a new
 * sandbox's: once all are in, by take_all). Returns a new sandbox. */
static struct sandbox *take(struct daemon *d, struct step *s)
{
	struct sandbox *sb = s->sb, *n = s->next;
	char err[ERRLEN];

	if (!n) {
		commands_sandbox_gone(d, sb);
		return NULL;
	}
	if (!sb) {
		sandbox_insert(n);
		s->next = NULL;
		broker_sandbox_changed(d, n);
		log_info("sandbox %s created from %s", n->name, n->file);
		return n;
	}
	/* the old state goes with the step */
	struct sandbox_match m = sb->match;
	struct policy *p = sb->policy;
	char *file = sb->file;

	sb->match = n->match;
	sb->policy = n->policy;
	sb->file = n->file;
	n->match = m;
	n->policy = p;
	n->file = file;
	broker_sandbox_changed(d, sb);
	if (revoke_sandbox(sb, &d->marks, err, ERRLEN) < 0)
		log_warnx("sandbox %s: %s", sb->name, err);
	log_info("sandbox %s: applied %s (%zu changes)", sb->name, sb->file,
		 json_array_size(s->changes));
	return NULL;
}

/* Every step taken; the flows open before the new sandboxes, in one
 * conntrack walk. */
static void take_all(struct daemon *d, struct plan *pl)
{
	struct sandbox **made = xcalloc(pl->n + 1, sizeof(*made));
	size_t n = 0;
	char err[ERRLEN];

	for (size_t i = 0; i < pl->n; i++)
		if ((made[n] = take(d, &pl->s[i])))
			n++;
	if (revoke_adopt(made, n, &d->marks, err, ERRLEN) < 0)
		log_warnx("policies: flows open before their sandboxes: %s",
			  err);
	free(made);
}

/* Every file's sandbox marked as what its file says. */
static void stamp_all(const struct plan *pl)
{
	for (size_t i = 0; i < pl->pf.n; i++) {
		struct sandbox *sb = sandbox_find(pl->pf.f[i].name);

		if (sb) {
			sb->file_stamp = pl->pf.f[i].stamp;
			sb->file_changes = sb->changes;
		}
	}
}

static json_t *reply_of(const struct plan *pl, const char *dir,
			bool dry_run)
{
	json_t *a = json_array(), *c;
	size_t budget = REPLY_CHANGES_MAX, n;

	for (size_t i = 0; i < pl->n; i++) {
		const struct step *s = &pl->s[i];

		/* a reply fits a control frame: past the budget, counts */
		n = json_array_size(s->changes);
		c = json_array();
		for (size_t j = 0; j < n && j < budget; j++)
			json_array_append(c, json_array_get(s->changes, j));
		if (n > budget)
			json_array_append_new(c, json_sprintf("... %zu more",
							      n - budget));
		budget -= n < budget ? n : budget;
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:o}", "name", s->f ? s->f->name :
			s->sb->name, "file", s->f ? s->f->path : s->sb->file,
			"action", !s->sb ? "create" : s->f ? "change" :
			"destroy", "changes", c));
	}
	return json_pack("{s:b, s:s, s:b, s:o, s:i}", "ok", 1, "dir", dir,
			 "dry_run", dry_run, "sandboxes", a, "unchanged",
			 (json_int_t)pl->unchanged);
}

json_t *apply_dir(struct daemon *d, const char *dir, bool dry_run,
		  bool prune, uid_t uid, char *err)
{
	struct plan pl = { .dir = dir, .prune = prune };
	json_t *reply = NULL;

	if (plan_make(d, dir, &pl, err) < 0)
		goto out;
	reply = reply_of(&pl, dir, dry_run);
	if (dry_run)
		goto out;
	if (pl.n && commit(d, &pl, uid, err) < 0) {
		json_decref(reply);
		reply = NULL;
		goto out;
	}
	take_all(d, &pl);
	stamp_all(&pl);
out:
	plan_clear(&pl);
	return reply;
}

json_t *cmd_apply(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	json_t *dir = json_object_get(req, "dir");
	const char *path = json_string_value(dir);

	if (dir && (!path || path[0] != '/')) {
		snprintf(err, ERRLEN, "dir: not an absolute path");
		return NULL;
	}
	/* the daemon reads what its user may: another directory than the
	 * ini's names secret files only root may name */
	if (path && strcmp(path, d->cfg.policies_dir) && uid != 0) {
		snprintf(err, ERRLEN, "apply %.150s: only root applies another "
			 "directory than %.150s", path, d->cfg.policies_dir);
		return NULL;
	}
	return apply_dir(d, path ? path : d->cfg.policies_dir,
			 json_is_true(json_object_get(req, "dry_run")),
			 json_is_true(json_object_get(req, "prune")), uid, err);
}

void apply_configured(struct daemon *d)
{
	char err[ERRLEN];
	json_t *r;
	struct stat st;

	if (stat(d->cfg.policies_dir, &st) < 0 && errno == ENOENT)
		return;
	if (!(r = apply_dir(d, d->cfg.policies_dir, false, false, 0, err))) {
		log_warnx("policies: %s; the sandboxes stay as they were",
			  err);
		return;
	}
	log_info("policies: %s: %zu sandboxes changed, %lld unchanged",
		 d->cfg.policies_dir,
		 json_array_size(json_object_get(r, "sandboxes")),
		 json_integer_value(json_object_get(r, "unchanged")));
	json_decref(r);
}
