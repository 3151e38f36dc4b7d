/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Control commands: create, destroy, list, show, status (SPEC §7).
 * A change is checked whole, stored, then put in the kernel; any failure
 * undoes what was done, so a refused command changes nothing. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "audit.h"
#include "audit_query.h"
#include "broker.h"
#include "ca.h"
#include "changes.h"
#include "clock.h"
#include "conns.h"
#include "ct.h"
#include "ctl_proto.h"
#include "daemon.h"
#include "dns.h"
#include "dnscache.h"
#include "flow.h"
#include "flow_judge.h"
#include "inject_addrs.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "nft_watch.h"
#include "policy_json.h"
#include "queue.h"
#include "revoke.h"
#include "sandbox.h"
#include "sandbox_name.h"
#include "verdict.h"
#include "xalloc.h"

#define ERRLEN 512

/* A string array member; NULL with err set when it is not one. */
static json_t *strings(json_t *req, const char *key, char *err)
{
	json_t *a = json_object_get(req, key), *v;
	size_t i;

	if (!a)
		return json_array();
	if (!json_is_array(a))
		goto bad;
	json_array_foreach(a, i, v)
		if (!json_is_string(v))
			goto bad;
	return json_incref(a);
bad:
	snprintf(err, ERRLEN, "`%s' must be an array of strings", key);
	return NULL;
}

static int match_from(json_t *req, struct sandbox_match *m, char *err)
{
	json_t *ifaces = strings(req, "ifaces", err), *sources = NULL, *v;
	size_t i;
	int rc = -EINVAL;

	memset(m, 0, sizeof(*m));
	if (!ifaces || !(sources = strings(req, "sources", err)))
		goto out;
	m->ifaces = xcalloc(json_array_size(ifaces) + 1, sizeof(char *));
	json_array_foreach(ifaces, i, v)
		m->ifaces[m->nifaces++] = xstrdup(json_string_value(v));
	m->sources = xcalloc(json_array_size(sources) + 1,
			     sizeof(struct cidr));
	json_array_foreach(sources, i, v)
		if (cidr_parse(json_string_value(v),
			       &m->sources[m->nsources++], err, ERRLEN) < 0)
			goto out;
	rc = sandbox_match_check(m, err, ERRLEN);
out:
	json_decref(ifaces);
	json_decref(sources);
	return rc;
}

static int add_rules(struct policy *p, json_t *req, const char *key,
		     enum rule_list l, char *err)
{
	json_t *a = strings(req, key, err), *v;
	size_t i;
	int rc = 0;

	if (!a)
		return -EINVAL;
	json_array_foreach(a, i, v)
		if ((rc = policy_add_rule(p, l, json_string_value(v), err,
					  ERRLEN)) < 0)
			break;
	json_decref(a);
	return rc;
}

/* The policy of a new sandbox: a policy document, rules, a mode; with
 * neither a mode nor allowed rules, the ini's default mode. */
static struct policy *policy_from(struct daemon *d, json_t *req, char *err)
{
	json_t *doc = json_object_get(req, "policy");
	json_t *mode = json_object_get(req, "mode");
	json_t *allow = json_object_get(req, "allow");
	struct policy *p;
	enum policy_mode m = d->cfg.mode;
	char *text;

	if (doc) {
		text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
		p = policy_from_json(text, strlen(text), err, ERRLEN);
		free(text);
	} else {
		if (json_array_size(allow))
			m = MODE_USER_DEFINED;
		p = policy_new(m);
	}
	if (!p)
		return NULL;
	if (mode && (!json_is_string(mode) ||
		     policy_mode_parse(json_string_value(mode), &p->mode))) {
		snprintf(err, ERRLEN, "invalid mode `%s' (allow-all, deny-all "
			 "or user-defined)", json_is_string(mode) ?
			 json_string_value(mode) : "?");
		goto bad;
	}
	if (add_rules(p, req, "allow", LIST_ALLOW, err) < 0 ||
	    add_rules(p, req, "deny", LIST_DENY, err) < 0)
		goto bad;
	return p;
bad:
	policy_free(p);
	return NULL;
}

/* The policy_changes row of a create or destroy; the change itself has
 * happened, so a failure here is only logged. */
static void log_change(struct daemon *d, const char *name, uid_t uid,
		       const char *what)
{
	char err[ERRLEN];

	if (store_change_log(&d->store, name, uid, what, err, sizeof(err)) < 0)
		log_warnx("sandbox %s: policy_changes: %s", name, err);
}

static json_t *cmd_create(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	struct sandbox *sb = xcalloc(1, sizeof(*sb));
	struct nft_sandbox ns;
	const char *name = sandbox_name_of(req, err);
	int64_t id;

	if (!name || sandbox_name_check(name, err, ERRLEN) < 0)
		goto fail;
	if (sandbox_find(name)) {
		snprintf(err, ERRLEN, "sandbox `%s' already exists", name);
		goto fail;
	}
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	if (match_from(req, &sb->match, err) < 0 ||
	    !(sb->policy = policy_from(d, req, err)))
		goto fail;
	if (store_sandbox_create(&d->store, name, &sb->match, sb->policy,
				 &id, err, ERRLEN) < 0)
		goto fail;
	if (id < 1 || id > d->marks.max_id) {
		snprintf(err, ERRLEN, "no sandbox id left in mark_mask 0x%08x "
			 "(%u sandboxes at most)", d->marks.mask,
			 d->marks.max_id);
		goto undo;
	}
	sb->id = (uint32_t)id;
	sandbox_to_nft(sb, &ns);
	if (nft_sandbox_update(NULL, &ns, &d->marks, err, ERRLEN) < 0)
		goto undo;
	sandbox_insert(sb);
	if (revoke_adopt(&sb, 1, &d->marks, err, ERRLEN) < 0)
		log_warnx("sandbox %s: flows open before it: %s", name, err);
	broker_sandbox_changed(d, sb);
	log_change(d, name, uid, "create");
	log_info("sandbox %s created (id %u, %s)", sb->name, sb->id,
		 policy_mode_name(sb->policy->mode));
	return json_pack("{s:b, s:s, s:i}", "ok", 1, "name", name, "id",
			 (json_int_t)id);
undo:
	store_sandbox_delete(&d->store, id, err + strlen(err),
			     ERRLEN - strlen(err));
fail:
	sandbox_free(sb);
	return NULL;
}

static json_t *cmd_destroy(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	struct sandbox *sb = sandbox_named(req, err);
	struct nft_sandbox ns;
	char name[SANDBOX_NAME_MAX + 1];

	if (!sb)
		return NULL;
	sandbox_to_nft(sb, &ns);
	if (nft_sandbox_update(&ns, NULL, &d->marks, err, ERRLEN) < 0)
		return NULL;
	if (store_sandbox_delete(&d->store, sb->id, err, ERRLEN) < 0) {
		/* put the kernel back as it was */
		nft_sandbox_update(NULL, &ns, &d->marks, err + strlen(err),
				   ERRLEN - strlen(err));
		return NULL;
	}
	snprintf(name, sizeof(name), "%s", sb->name);
	commands_sandbox_gone(d, sb);
	log_change(d, name, uid, "destroy");
	return json_pack("{s:b, s:s}", "ok", 1, "name", name);
}

void commands_sandbox_gone(struct daemon *d, struct sandbox *sb)
{
	char name[SANDBOX_NAME_MAX + 1], err[ERRLEN];
	uint32_t id = sb->id;

	snprintf(name, sizeof(name), "%s", sb->name);
	sandbox_remove(id);
	metrics_sandbox_gone(id);
	dns_forget(id, NULL);
	broker_sandbox_gone(d, id);
	ca_remove(d->cfg.ca_dir, name);
	/* its open connections end with it */
	if (ct_flush_mark(mark_id(&d->marks, id), d->marks.id, err,
			  ERRLEN) < 0)
		log_warnx("sandbox %s: %s", name, err);
	log_info("sandbox %s destroyed", name);
}

static json_t *sandbox_json(const struct sandbox *sb, bool full)
{
	json_t *o = json_object(), *ifs = json_array(), *srcs = json_array();
	char text[CIDR_TEXT_MAX];

	for (size_t i = 0; i < sb->match.nifaces; i++)
		json_array_append_new(ifs, json_string(sb->match.ifaces[i]));
	for (size_t i = 0; i < sb->match.nsources; i++) {
		cidr_format(&sb->match.sources[i], text);
		json_array_append_new(srcs, json_string(text));
	}
	json_object_set_new(o, "name", json_string(sb->name));
	json_object_set_new(o, "id", json_integer(sb->id));
	json_object_set_new(o, "mode",
			    json_string(policy_mode_name(sb->policy->mode)));
	json_object_set_new(o, "ifaces", ifs);
	json_object_set_new(o, "sources", srcs);
	json_object_set_new(o, "file", sb->file ? json_string(sb->file) :
			    json_null());
	json_object_set_new(o, "allowed", json_integer((json_int_t)sb->allowed));
	json_object_set_new(o, "denied", json_integer((json_int_t)sb->denied));
	if (full)
		json_object_set_new(o, "policy",
				    policy_to_json(sb->policy, true));
	return o;
}

static json_t *cmd_list(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	json_t *a = json_array();

	(void)d, (void)req, (void)err, (void)uid;
	for (struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb))
		json_array_append_new(a, sandbox_json(sb, false));
	return json_pack("{s:b, s:o}", "ok", 1, "sandboxes", a);
}

static json_t *cmd_show(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	struct sandbox *sb = sandbox_named(req, err);

	(void)d, (void)uid;
	if (!sb)
		return NULL;
	return json_pack("{s:b, s:o}", "ok", 1, "sandbox",
			 sandbox_json(sb, true));
}

/* The resolver: where it listens, where it asks, what it did. */
static json_t *dns_status(const struct daemon *d)
{
	const struct dns_stats *ds = dns_stats();
	json_t *up = json_array();

	for (size_t i = 0; i < d->cfg.nupstream; i++) {
		const struct upstream *u = &d->cfg.upstream[i];
		char a[CIDR_TEXT_MAX], t[CIDR_TEXT_MAX + 10];

		addr_format(u->family, u->addr, a);
		snprintf(t, sizeof(t), u->family == AF_INET6 ? "[%s]:%u" :
			 "%s:%u", a, u->port);
		json_array_append_new(up, json_string(t));
	}
	return json_pack("{s:i, s:o, s:s, s:I, s:I, s:I, s:I}",
			 "port", d->nft.dns_port, "upstreams", up,
			 "ip_binding", d->cfg.ip_binding == BINDING_STRICT ?
			 "strict" : "off",
			 "answered", (json_int_t)ds->allowed,
			 "blocked", (json_int_t)ds->denied,
			 "failed", (json_int_t)ds->failed,
			 "names", (json_int_t)dnscache_count());
}

/* Each bounded cache: entries, bytes, and its byte bound. */
static json_t *caches_status(void)
{
	return json_pack("{s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, "
			 "s:{s:I, s:I, s:I}}",
			 "flows", "entries", (json_int_t)flow_count(),
			 "bytes", (json_int_t)flow_bytes(),
			 "max_bytes", (json_int_t)FLOW_BYTES_MAX,
			 "dns_names", "entries", (json_int_t)dnscache_count(),
			 "bytes", (json_int_t)dnscache_bytes(),
			 "max_bytes", (json_int_t)DNSCACHE_BYTES_MAX,
			 "flow_names", "entries", (json_int_t)conns_count(),
			 "bytes", (json_int_t)conns_bytes(),
			 "max_bytes", (json_int_t)CONNS_BYTES_MAX);
}

/* Verdict latency at these percentiles (100: the most), in us, as
 * status and stats give it: {"p50": ..., "max": ...}; commit: of the
 * servers' first packets alone. */
static json_t *latency_us(const int *pct, size_t n, bool commit)
{
	json_t *o = json_object();
	char key[8];

	for (size_t i = 0; i < n; i++) {
		if (pct[i] == 100)
			snprintf(key, sizeof(key), "max");
		else
			snprintf(key, sizeof(key), "p%d", pct[i]);
		json_object_set_new(o, key, json_real(
			(double)verdict_latency(pct[i], commit) / 1000.0));
	}
	return o;
}

static json_t *cmd_status(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	const struct verdict_stats *vs = verdict_stats();
	char mask[16];

	(void)req, (void)err, (void)uid;
	snprintf(mask, sizeof(mask), "0x%08x", d->marks.mask);
	json_t *st = json_pack(
		"{s:b, s:s, s:i, s:I, s:s, s:i, s:i, s:s, s:i, s:i, s:i,"
		" s:{s:I, s:I, s:I}, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I},"
		" s:I, s:o, s:o}",
		"ok", 1, "version", SBXFW_VERSION, "pid", (int)getpid(),
		"uptime", (json_int_t)(time(NULL) - d->started),
		"queue_kind", d->nft.native_queue ? "nft queue" :
		"xt NFQUEUE (nft_compat)",
		"queue", d->cfg.queue, "queues", d->cfg.queues,
		"mark_mask", mask, "sandboxes", (int)sandbox_count(),
		"flows", (int)flow_count(), "held", (int)flow_held_count(),
		"verdicts", "packets", (json_int_t)vs->packets,
		"allow", (json_int_t)vs->allowed,
		"deny", (json_int_t)vs->denied,
		"latency_us", latency_us((const int[]){ 50, 99 }, 2, false),
		"audit", "written", (json_int_t)audit_written(),
		"lost", (json_int_t)audit_lost(),
		"deleted_for_size", (json_int_t)audit_deleted_for_size(),
		"not_exported", (json_int_t)journal_dropped(),
		"size", (json_int_t)audit_size(),
		"max_size", (json_int_t)d->cfg.max_size,
		"queue_drops", (json_int_t)queue_drops(), "dns", dns_status(d),
		"caches", caches_status());

	json_object_set_new(json_object_get(st, "verdicts"), "reopened",
			    json_integer((json_int_t)vs->reopened));
	json_object_set_new(json_object_get(st, "verdicts"), "commits",
			    json_integer((json_int_t)vs->commits));
	json_object_set_new(st, "commit_latency_us",
			    latency_us((const int[]){ 50, 99 }, 2, true));
	json_object_set_new(st, "table", json_pack(
		"{s:b, s:I, s:f}", "owned", nft_table_owned(),
		"rebuilds", (json_int_t)d->table.rebuilds,
		"last_rebuild_ms", d->table.last_ms));
	return st;
}

/* Counts from the audit tables (flows, DNS queries), asked of the audit
 * query thread; the reply, with the daemon's own health, comes later. */
static json_t *cmd_stats(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	const char *name = json_string_value(json_object_get(req, "name"));

	(void)uid;
	if (name && !sandbox_find(name)) {
		snprintf(err, ERRLEN, "no sandbox `%s'", name);
		return NULL;
	}
	if (!audit_query_ask(d->asker, name)) {
		snprintf(err, ERRLEN, "stats: too many queries waiting, try "
			 "again");
		return NULL;
	}
	return CTL_LATER;
}

json_t *commands_stats_reply(struct audit_counts *a)
{
	if (!a->flows)
		return ctl_error("%s", a->err);
	return json_pack("{s:b, s:o, s:o, s:I, s:I, s:I, s:o}", "ok", 1,
			 "sandboxes", a->flows, "dns", a->dns,
			 "queue_drops", (json_int_t)queue_drops(),
			 "audit_lost", (json_int_t)audit_lost(),
			 "audit_written", (json_int_t)audit_written(),
			 "latency_us",
			 latency_us((const int[]){ 50, 90, 99, 100 }, 4, false));
}

/* HOST[:PORT] (an IPv6 literal in brackets) into the query. */
static int target_parse(const char *in, const char *ip, struct flow_query *q,
			char *host, size_t hostlen, char *err)
{
	const char *colon = in[0] == '[' ? strchr(in, ']') : strrchr(in, ':');
	struct cidr a;
	char *end;
	long port = 443;

	if (colon && colon[0] == ']')
		colon = colon[1] == ':' ? colon + 1 : NULL;
	if (colon) {
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535) {
			snprintf(err, ERRLEN, "invalid port in `%s'", in);
			return -EINVAL;
		}
	}
	snprintf(host, hostlen, "%.*s", (int)(colon ? colon - in : (long)strlen(in)),
		 in);
	if (host[0] == '[') {	/* [v6] */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	q->proto = IPPROTO_TCP;
	q->dport = (uint16_t)port;
	q->payload = PAYLOAD_TLS;
	if (addr_parse(host, &a) == 0) {	/* an address: TLS without SNI */
		ip = host;
	} else {
		char name[DOMAIN_MAX + 1];

		if (domain_name_normalize(host, strlen(host), name) < 0) {
			snprintf(err, ERRLEN, "invalid host name `%s'", host);
			return -EINVAL;
		}
		q->sni = host;
		q->sni_len = strlen(host);
	}
	if (ip) {
		if (addr_parse(ip, &a) < 0) {
			snprintf(err, ERRLEN, "invalid address `%s'", ip);
			return -EINVAL;
		}
		q->family = a.family;
		memcpy(q->dst, a.addr, 16);
	}
	return 0;
}

/* Address binding as it stands, without resolving anything: "resolved"
 * (the sandbox or the daemon got this address for the name), "mismatch"
 * (the daemon's own answer has it not: denied), or "unresolved" (it
 * would resolve the name when a flow comes); NULL when not asked. */
static const char *binding_text(const struct judgement *j)
{
	if (!j->bound_asked)
		return NULL;
	return j->bound == BOUND_YES ? "resolved" :
	       j->bound == BOUND_WAIT ? "unresolved" : "mismatch";
}

/* Which rule decides a TLS connection to HOST[:PORT], without traffic. */
/* The sandbox CA's certificate (never its key). */
static json_t *cmd_ca(struct daemon *d, json_t *req, uid_t uid, char *err)
{
	struct sandbox *sb = sandbox_named(req, err);
	json_t *r;
	char *crt;

	(void)uid;
	if (!sb || ca_read(d->cfg.ca_dir, sb->name, &crt, NULL, err,
			   ERRLEN) < 0)
		return NULL;
	r = json_pack("{s:b, s:s, s:s}", "ok", 1, "name", sb->name,
		      "certificate", crt);
	free(crt);
	return r;
}

static json_t *cmd_check(struct daemon *d, json_t *req, uid_t uid,
			 char *err)
{
	struct sandbox *sb = sandbox_named(req, err);
	const char *t = json_string_value(json_object_get(req, "target"));
	const char *ip = json_string_value(json_object_get(req, "ip"));
	struct flow_query q = { 0 };
	struct flow_key k = { .proto = IPPROTO_TCP };
	struct judgement j;
	char host[DOMAIN_PATTERN_MAX + 8];
	const struct verdict_result *v = &j.v;

	(void)d, (void)uid;
	if (!sb)
		return NULL;
	if (!t || target_parse(t, ip, &q, host, sizeof(host), err) < 0) {
		if (!t)
			snprintf(err, ERRLEN, "missing HOST[:PORT]");
		return NULL;
	}
	k.family = (uint8_t)q.family;
	memcpy(k.dst, q.dst, 16);
	k.dport = q.dport;
	/* the address, when given, is bound as it stands */
	flow_judge(sb, &k, &q, ip ? BIND_PEEK : BIND_NONE, &j);
	return json_pack("{s:b, s:s, s:s, s:s?, s:s, s:i, s:s?}", "ok", 1,
			 "verdict", v->verdict == VERDICT_DENY ? "deny" :
			 "allow", "reason", v->reason, "rule",
			 v->rule[0] ? v->rule : NULL,
			 "host", host, "port", q.dport, "address",
			 binding_text(&j));
}

static const struct {
	const char *name;
	json_t *(*fn)(struct daemon *d, json_t *req, uid_t uid, char *err);
	bool change;		/* root only */
} commands[] = {
	{ "create", cmd_create, true },
	{ "destroy", cmd_destroy, true },
	{ "list", cmd_list, false },
	{ "show", cmd_show, false },
	{ "status", cmd_status, false },
	{ "check", cmd_check, false },
	{ "stats", cmd_stats, false },
	{ "mode", change_mode, true },
	{ "allow", change_allow, true },
	{ "deny", change_deny, true },
	{ "remove", change_remove, true },
	{ "policy", policy_export, false },
	{ "policy-set", change_policy, true },
	{ "inject", change_inject, true },
	{ "ca", cmd_ca, false },
	{ "apply", cmd_apply, true },
};

json_t *command_run(struct daemon *d, json_t *req, uid_t peer_uid,
		    enum ctl_access access)
{
	const char *name = json_string_value(json_object_get(req, "command"));
	json_t *version = json_object_get(req, "version");
	char err[ERRLEN] = "";
	json_t *reply;

	if (!json_is_integer(version) ||
	    json_integer_value(version) != CTL_VERSION)
		return ctl_error("protocol version %lld not supported (this "
				 "daemon speaks %d)", json_is_integer(version) ?
				 (long long)json_integer_value(version) : 0LL,
				 CTL_VERSION);
	for (size_t i = 0; name && i < sizeof(commands) / sizeof(*commands);
	     i++) {
		if (strcmp(name, commands[i].name))
			continue;
		if (commands[i].change && access != CTL_CHANGE)
			return ctl_error("%s: permission denied (root or "
					 "admin_group only)", name);
		reply = commands[i].fn(d, req, peer_uid, err);
		return reply ? reply : ctl_error("%s", err);
	}
	return ctl_error("unknown command `%s'", name ? name : "");
}

struct load_ctx {
	struct daemon *d;
	char *err;
	size_t errlen;
};

static int load_one(int64_t id, const char *name, void *arg)
{
	struct load_ctx *c = arg;
	struct sandbox *sb;

	if (id < 1 || id > c->d->marks.max_id) {
		snprintf(c->err, c->errlen, "sandbox %s: id %lld does not fit "
			 "mark_mask 0x%08x", name, (long long)id,
			 c->d->marks.mask);
		return -ERANGE;
	}
	/* names go into metrics' labels and logs as they are: a database
	 * changed by hand must not carry another */
	if (sandbox_name_check(name, c->err, c->errlen) < 0)
		return -EINVAL;
	sb = xcalloc(1, sizeof(*sb));
	sb->id = (uint32_t)id;
	snprintf(sb->name, sizeof(sb->name), "%s", name);
	if (store_sandbox_match_load(&c->d->store, id, &sb->match, c->err,
				     c->errlen) < 0 ||
	    !(sb->policy = store_policy_load(&c->d->store, id, c->err,
					     c->errlen)) ||
	    store_sandbox_file(&c->d->store, id, &sb->file, c->err,
			       c->errlen) < 0) {
		sandbox_free(sb);
		return -EINVAL;
	}
	sandbox_insert(sb);
	return 0;
}

int commands_load(struct daemon *d, char *err, size_t errlen)
{
	struct load_ctx c = { d, err, errlen };

	return store_sandbox_each(&d->store, load_one, &c, err, errlen);
}

/* The whole table, as the daemon knows it: every sandbox and the
 * addresses learnt for its injection domains. */
int commands_table(struct daemon *d, char *err, size_t errlen)
{
	struct nft_sandbox *ns = xcalloc(sandbox_count() + 1, sizeof(*ns));
	struct nft_inject *inj;
	size_t n = 0, ninj;
	int rc;

	for (struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb))
		sandbox_to_nft(sb, &ns[n++]);
	inj = inject_addrs_all(now_ns(), &ninj);
	rc = nft_table_create(&d->nft, ns, n, inj, ninj, err, errlen);
	free(inj);
	free(ns);
	return rc;
}

/* Rebuilds less than this apart are one episode: one log line. */
#define EPISODE_NS (10 * 1000000000ull)

void commands_table_changed(struct daemon *d, const char *who)
{
	uint64_t t0 = now_ns(), t1;
	char err[ERRLEN], named[128] = "";

	if (commands_table(d, err, sizeof(err)) < 0) {
		if (!d->table.pending)
			log_warnx("table inet %s changed by %s: rebuilding: %s",
				  NFT_TABLE, who, err);
		d->table.pending = true;
		return;
	}
	t1 = now_ns();
	if (!*who)	/* rebuilt first, named after */
		nft_watch_who(nft_portid(), named, sizeof(named), 100);
	d->table.pending = false;
	d->table.rebuilds++;
	d->table.last_ms = (double)(t1 - t0) / 1e6;
	if (!d->table.last_ns || t0 - d->table.last_ns > EPISODE_NS)
		log_warnx("table inet %s was changed or removed by %s: built "
			  "again, whole, in %.1f ms", NFT_TABLE, *who ? who :
			  *named ? named : "another program", d->table.last_ms);
	d->table.last_ns = t1;
}
