/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "broker.h"
#include "broker_proto.h"
#include "ca.h"
#include "clock.h"
#include "ct.h"
#include "daemon.h"
#include "dns.h"
#include "dnscache.h"
#include "file.h"
#include "inject_addrs.h"
#include "log.h"
#include "policy_json.h"
#include "sandbox.h"
#include "secret.h"
#include "xalloc.h"

#define MSG_MAX (256 << 10)	/* a batch of request rows */
#define SNDBUF (4 << 20)
#define TRUST_MAX (4 << 20)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static int sock = -1;
static const struct marks *marks;
static pid_t broker_pid;		/* from its hello */
/* Each change to a sandbox is numbered; the broker says which it took
 * in, in order (or a new broker has them all). */
static uint64_t sent_seq, taken_seq;
char **daemon_argv;

/* ---- the supervisor ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* No capability left, none to gain: what the broker inherits. */
static void unprivileged(const struct priv *pv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct none[2] = { { 0 } };

	if ((pv->root && (setgroups(0, NULL) < 0 ||
			  setresgid(pv->gid, pv->gid, pv->gid) < 0 ||
			  setresuid(pv->uid, pv->uid, pv->uid) < 0)) ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    syscall(SYS_capset, &h, none) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("broker supervisor: dropping privileges");
}

/* The broker's program, opened by the daemon while root: the user
 * sbxfw may have no way to its directory (a build under /root). */
#define BROKER_EXE 5

static void exec_broker(const char *path, bool verbose)
{
	char *const argv[] = { (char *)"sbxfw-broker",
			       verbose ? (char *)"-v" : NULL, NULL };
	char *const envp[] = { NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execveat(BROKER_EXE, "", argv, envp, AT_EMPTY_PATH);
	log_warn("broker: %s", path);
	_exit(127);
}

static void ended(pid_t pid, int st)
{
	if (WIFSIGNALED(st))
		log_warnx("broker (pid %d) killed by signal %d: starting "
			  "another", (int)pid, WTERMSIG(st));
	else
		log_warnx("broker (pid %d) exited with status %d: starting "
			  "another", (int)pid, WEXITSTATUS(st));
}

/* Its own name in ps and pgrep (argv's space rewritten in place, as
 * setproctitle does), never the daemon's. */
static void title(char **argv)
{
	static const char name[] = "sbxfwd-broker";
	char *end = argv[0];
	size_t room;

	/* getopt may have reordered the pointers, not the strings */
	for (int i = 0; argv[i]; i++)
		if (argv[i] + strlen(argv[i]) > end)
			end = argv[i] + strlen(argv[i]);
	room = (size_t)(end - argv[0]);
	memset(argv[0], 0, room);
	memcpy(argv[0], name, room < sizeof(name) - 1 ? room :
	       sizeof(name) - 1);
	prctl(PR_SET_NAME, name);
}

static void supervise(const struct priv *pv, const char *path, int exe,
		      bool verbose, int ipc, int lfd, pid_t daemon)
{
	unsigned backoff = BACKOFF_MIN_MS;
	sigset_t all;

	title(daemon_argv);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (dup2(ipc, 100) < 0 || dup2(lfd, 101) < 0 || dup2(exe, 102) < 0 ||
	    dup2(100, BROKER_IPC) < 0 || dup2(101, BROKER_LISTEN) < 0 ||
	    dup2(102, BROKER_EXE) < 0 ||
	    fcntl(BROKER_EXE, F_SETFD, FD_CLOEXEC) < 0)
		fatal("broker supervisor: descriptors");
	syscall(SYS_close_range, BROKER_EXE + 1, ~0U, 0);
	unprivileged(pv);
	/* after the change of ids, which clears it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != daemon)
		_exit(0);
	for (;;) {
		time_t start = time(NULL);
		pid_t pid = fork();
		int st;

		if (pid == 0)
			exec_broker(path, verbose);
		if (pid < 0) {
			sleep_ms(BACKOFF_MAX_MS);
			continue;
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		ended(pid, st);
		backoff = time(NULL) - start > 10 ? BACKOFF_MIN_MS :
			  backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
			  backoff * 2;
		sleep_ms(backoff);
	}
}

/* [tls] broker, or PREFIX/libexec/sbxfw/sbxfw-broker beside sbxfwd. */
static void broker_path(const char *cfg, char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (*cfg) {
		snprintf(out, len, "%s", cfg);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	if ((slash = strrchr(self, '/')))
		*slash = 0;
	snprintf(out, len, "%s/%s", self, CFG_BROKER_RELATIVE);
}

static int listener(uint16_t *port, char *err, size_t errlen)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), off = 0;

	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		snprintf(err, errlen, "broker listener: %s", strerror(errno));
		return -1;
	}
	*port = ntohs(a.sin6_port);
	return fd;
}

int broker_start(struct daemon *d, const struct priv *pv, bool verbose,
		 uint16_t *port, char *err, size_t errlen)
{
	int sp[2], lfd, exe, buf = SNDBUF;
	pid_t pid, self = getpid();
	static char path[PATH_MAX + 64];

	marks = &d->marks;
	*port = 0;
	broker_path(d->cfg.broker, path, sizeof(path));
	if (access(path, X_OK) < 0 ||
	    (exe = open(path, O_PATH | O_CLOEXEC)) < 0) {
		/* flows to injection domains are refused, nothing else
		 * changes */
		log_warnx("[tls] broker %s: %s: no credentials brokering",
			  path, strerror(errno));
		return 0;
	}
	if ((lfd = listener(port, err, errlen)) < 0) {
		close(exe);
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		snprintf(err, errlen, "broker socketpair: %s", strerror(errno));
		close(exe);
		close(lfd);
		return -1;
	}
	/* a sandbox's rules and CA are one message */
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	setsockopt(sp[1], SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "broker: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		supervise(pv, path, exe, verbose, sp[1], lfd, self);
	close(sp[1]);
	close(lfd);
	close(exe);
	sock = sp[0];
	fcntl(sock, F_SETFL, O_NONBLOCK);
	return 0;
}

int broker_fd(void)
{
	return sock;
}

/* ---- messages ---- */

/* 0; -E2BIG: over the broker's limit; -EIO: not sent (the socket full,
 * or no memory). */
static int send_msg(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	int rc = -EIO;

	json_decref(o);
	if (!s)
		return -EIO;
	if (strlen(s) > BROKER_MSG_MAX)
		rc = -E2BIG;
	else if (send(sock, s, strlen(s), MSG_NOSIGNAL) < 0)
		log_warn("broker: message of %zu bytes not sent", strlen(s));
	else
		rc = 0;
	wipe_free(s, strlen(s));
	return rc;
}

/* A broker that missed a change of its rules cannot go on with them:
 * stopped, its flows end with it, and its successor gets everything. */
static void broker_restart(const char *why)
{
	log_warnx("broker: %s: stopping it (its flows end, another starts)",
		  why);
	if (broker_pid > 0)
		kill(broker_pid, SIGKILL);
	broker_pid = 0;
}

static uint64_t sandbox_gone_msg(uint32_t id, bool destroyed);

/* A change of sandbox id's rules, numbered. Rules too large for one
 * message are not the broker's: the sandbox's injections are refused. */
static uint64_t send_change(json_t *o, uint32_t id)
{
	int rc;

	json_object_set_new(o, "seq", json_integer((json_int_t)++sent_seq));
	if ((rc = send_msg(o)) == -E2BIG) {
		log_warnx("sandbox %u: its injection rules are over the "
			  "broker's %d bytes: they are refused", id,
			  BROKER_MSG_MAX);
		return sandbox_gone_msg(id, false);
	}
	if (rc < 0)
		broker_restart("a change of a sandbox's rules was not sent");
	return sent_seq;
}

static uint64_t sandbox_gone_msg(uint32_t id, bool destroyed)
{
	return send_change(json_pack("{s:s, s:i, s:b}", "t", "sandbox-gone",
				     "id", (int)id, "destroyed", destroyed),
			   id);
}

static uint64_t send_sandbox(struct daemon *d, const struct sandbox *sb)
{
	json_t *pol, *inject;
	char *crt, *key, err[512];
	uint64_t seq;

	if (!sb->policy->ninject)
		return sandbox_gone_msg(sb->id, false);
	if (ca_read(d->cfg.ca_dir, sb->name, &crt, &key, err,
		    sizeof(err)) < 0) {
		log_warnx("sandbox %s: %s: its injections are refused",
			  sb->name, err);
		return sandbox_gone_msg(sb->id, false);
	}
	pol = policy_to_json(sb->policy, false);
	inject = json_incref(json_object_get(pol, "inject"));
	json_decref(pol);
	seq = send_change(json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:s, s:o}}",
				    "t", "sandbox", "id", (int)sb->id, "name",
				    sb->name, "ca", crt, "key", key, "policy",
				    "mode", "user-defined", "inject", inject),
			  sb->id);
	free(crt);
	secret_free(key);
	return seq;
}

/* A new broker: everything it needs. */
static void hello(struct daemon *d)
{
	size_t len;
	char *trust = file_read(d->cfg.upstream_ca, TRUST_MAX, &len);

	if (!trust)
		log_warn("broker: [tls] upstream_ca %s", d->cfg.upstream_ca);
	send_msg(json_pack("{s:s, s:s, s:i}", "t", "config", "trust",
			   trust ? trust : "", "leaf_days",
			   (int)d->cfg.leaf_days));
	free(trust);
	for (const struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb))
		if (sb->policy->ninject)
			send_sandbox(d, sb);
	/* a new broker has no flow of an earlier change to cut */
	taken_seq = sent_seq;
}

static int ip_text_parse(const char *s, int *family, uint8_t *out)
{
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	return inet_pton(*family, s, out) == 1 ? 0 : -1;
}

static size_t unhex(const char *s, char *out, size_t max)
{
	size_t n = strlen(s) / 2;

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return 0;
		out[i] = (char)v;
	}
	out[n] = 0;
	return n;
}

struct judged {
	const char *action, *reason;
	char rule[DOMAIN_PATTERN_MAX + 1];
	const struct sandbox *sb;
	struct flow_key orig;
	char host[DOMAIN_MAX + 1];
};

static enum payload_kind payload_of(const char *status)
{
	return !strcmp(status, "tls") ? PAYLOAD_TLS :
	       !strcmp(status, "not-tls") ? PAYLOAD_NOT_TLS :
	       !strcmp(status, "malformed") ? PAYLOAD_MALFORMED :
	       PAYLOAD_INCOMPLETE;
}

/* Refusals that come before an injection, as before any domain rule. */
static bool refused_first(const char *reason)
{
	return !strcmp(reason, "range-denied") ||
	       !strcmp(reason, "mode-deny-all") ||
	       !strcmp(reason, "domain-denied") ||
	       !strcmp(reason, "ech-denied") ||
	       !strcmp(reason, "sni-invalid");
}

static bool bound(struct daemon *d, struct judged *j)
{
	return d->cfg.ip_binding == BINDING_OFF ||
	       dns_bound(j->sb->id, j->host, j->orig.family, j->orig.dst,
			 BIND_FINAL) == BOUND_YES;
}

static void decide(struct daemon *d, struct flow_query *q, struct judged *j)
{
	const struct inject_rule *ir = NULL;
	struct verdict_result v;

	policy_eval(j->sb->policy, q, &v);
	j->reason = v.reason;
	snprintf(j->rule, sizeof(j->rule), "%s", v.rule);
	if (q->sni && domain_name_normalize(q->sni, q->sni_len, j->host) == 0)
		ir = policy_inject_find(j->sb->policy, j->host, q->dport);
	if (ir && !(v.verdict == VERDICT_DENY && refused_first(v.reason))) {
		snprintf(j->rule, sizeof(j->rule), "%s", ir->domain.text);
		j->action = bound(d, j) ? "terminate" : "deny";
		j->reason = *j->action == 't' ? "inject" :
			    "sni-address-mismatch";
		return;
	}
	j->action = v.verdict == VERDICT_ALLOW ? "relay" : "deny";
	if (*j->action == 'r' && !strcmp(v.reason, "domain-allowed") &&
	    !bound(d, j)) {
		j->action = "deny";
		j->reason = "sni-address-mismatch";
	}
}

static void judge_audit(const struct judged *j, const struct flow_query *q)
{
	struct flow_record r;

	audit_record_init(&r, j->sb->name, &j->orig);
	if (q->sni)
		snprintf(r.sni, sizeof(r.sni), "%.*s", (int)q->sni_len,
			 q->sni);
	r.allow = *j->action != 'd';
	r.reason = j->reason;
	snprintf(r.rule, sizeof(r.rule), "%s", j->rule);
	audit_flow(&r);
}

/* Which flow the broker holds: conntrack knows it by the reply tuple
 * its socket sees; its mark names the sandbox. Status "who" asks for
 * the sandbox alone (its share of the broker); "again", a flow judged
 * before, after a change: a row only when it is refused now. */
static void judge(struct daemon *d, json_t *m)
{
	const char *local, *peer, *status, *sni_hex;
	json_int_t id, lport, pport;
	int ech = 0, again = 0, fam2;
	json_t *sni_v = NULL;	/* null: no server_name */
	struct flow_key reply = { .proto = IPPROTO_TCP };
	struct judged j = { .action = "deny", .reason = "broker-not-redirected" };
	char sni[CH_SNI_MAX + 1], dst[INET6_ADDRSTRLEN] = "";
	struct flow_query q = { .proto = IPPROTO_TCP };
	uint32_t mark;
	int family;

	if (json_unpack(m, "{s:I, s:s, s:I, s:s, s:I, s:s, s?o, s?b, s?b}",
			"id", &id, "local", &local, "lport", &lport, "peer",
			&peer, "pport", &pport, "status", &status, "sni",
			&sni_v, "ech", &ech, "again", &again) < 0 ||
	    ip_text_parse(local, &family, reply.src) < 0 ||
	    ip_text_parse(peer, &fam2, reply.dst) < 0 || fam2 != family) {
		log_warnx("broker: unreadable judge request");
		return;
	}
	sni_hex = json_string_value(sni_v);
	reply.family = (uint8_t)family;
	reply.sport = (uint16_t)lport;
	reply.dport = (uint16_t)pport;
	if (ct_get_reply(&reply, &j.orig, &mark) == 0 &&
	    memcmp(j.orig.dst, reply.src, 16) &&
	    (j.sb = sandbox_get(mark_get_id(marks, mark))) &&
	    !strcmp(status, "who"))
		j.action = "who";
	else if (j.sb) {
		q.family = family;
		memcpy(q.dst, j.orig.dst, 16);
		q.dport = j.orig.dport;
		q.payload = payload_of(status);
		if (sni_hex && (q.sni_len = unhex(sni_hex, sni, CH_SNI_MAX)))
			q.sni = sni;
		q.ech = ech;
		q.ech_deny = d->cfg.ech == ECH_DENY;
		q.brokered = true;
		decide(d, &q, &j);
		if (!again || *j.action == 'd')
			judge_audit(&j, &q);
		inet_ntop(family, j.orig.dst, dst, sizeof(dst));
	}
	send_msg(json_pack("{s:s, s:I, s:s, s:i, s:s, s:i, s:s}", "t",
			   "judged", "id", id, "action", j.action, "sandbox",
			   j.sb ? (int)j.sb->id : 0, "dst", dst, "dport",
			   (int)j.orig.dport, "host", j.host));
}

static const char *text(const json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "";
}

/* One row: [sandbox, host, method, path, status, injected, error]. */
static void request(json_t *m)
{
	json_t *method, *path, *inj, *error;	/* strings or null */
	struct request_record r = { 0 };
	const struct sandbox *sb;
	json_int_t id, status;
	const char *host;

	if (json_unpack(m, "[I, s, o, o, I, o, o]", &id, &host, &method, &path,
			&status, &inj, &error) < 0 ||
	    !(sb = sandbox_get((uint32_t)id)))
		return;
	store_time_now(r.time);
	snprintf(r.sandbox, sizeof(r.sandbox), "%s", sb->name);
	snprintf(r.host, sizeof(r.host), "%s", host);
	snprintf(r.method, sizeof(r.method), "%s", text(method));
	snprintf(r.path, sizeof(r.path), "%s", text(path));
	r.status = (int)status;
	snprintf(r.injected, sizeof(r.injected), "%s", text(inj));
	snprintf(r.error, sizeof(r.error), "%s", text(error));
	audit_request(&r);
}

/* One message of request rows. */
static void requests(json_t *m)
{
	json_t *row;
	size_t i;

	json_array_foreach(json_object_get(m, "rows"), i, row)
		request(row);
}

static void dispatch(struct daemon *d, json_t *m)
{
	const char *t = json_string_value(json_object_get(m, "t"));
	json_int_t v;

	if (t && !strcmp(t, "judge"))
		judge(d, m);
	else if (t && !strcmp(t, "requests"))
		requests(m);
	else if (t && !strcmp(t, "hello")) {
		if (json_unpack(m, "{s:I}", "pid", &v) == 0)
			broker_pid = (pid_t)v;
		hello(d);
	} else if (t && !strcmp(t, "taken") &&
		   json_unpack(m, "{s:I}", "seq", &v) == 0) {
		if ((uint64_t)v > taken_seq)
			taken_seq = (uint64_t)v;
	} else
		log_warnx("broker: unknown message");
}

static void drain(struct daemon *d)
{
	static char buf[MSG_MAX];

	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), 0);
		json_t *m;

		if (n <= 0)
			return;
		if (!(m = json_loadb(buf, (size_t)n, 0, NULL))) {
			log_warnx("broker: unreadable message");
			continue;
		}
		dispatch(d, m);
		json_decref(m);
	}
}

void broker_event(struct daemon *d)
{
	drain(d);
}

/* A change is in force when the broker has taken it in: from then on
 * its flows wait for their judgement before any request goes (and a
 * destroyed sandbox's are cut). The command answers after that, so a
 * request sent once it returns meets the change. TAKE_WAIT_MS at most,
 * answering what the broker asks meanwhile; then it is stopped. */
#define TAKE_WAIT_MS 1000

static void wait_taken(struct daemon *d, uint64_t seq)
{
	uint64_t until = now_ns() + TAKE_WAIT_MS * 1000000ull;

	while (taken_seq < seq && broker_pid > 0) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		uint64_t now = now_ns();

		if (now >= until) {
			broker_restart("a change not taken in within 1 s");
			return;
		}
		if (poll(&p, 1, (int)((until - now) / 1000000) + 1) < 0 &&
		    errno != EINTR)
			return;
		drain(d);
	}
}

/* ---- sandboxes ---- */

/* What a change keeps of a sandbox's learnt injection addresses: those
 * of names still injected, and the cached answers for them. */
struct relearn {
	const struct sandbox *sb;
	struct inject_named *add;
	size_t n, cap;
};

static bool still_injected(const char *name, void *arg)
{
	const struct relearn *r = arg;

	return policy_inject_find(r->sb->policy, name, 443) != NULL;
}

static void relearn_one(const char *name, int family, const uint8_t *addr,
			uint64_t left_ns, void *arg)
{
	struct relearn *r = arg;
	struct inject_named *a;

	if (!still_injected(name, r))
		return;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->add = xreallocarray(r->add, r->cap, sizeof(*r->add));
	}
	a = &r->add[r->n++];
	a->name = name;
	a->a.family = family;
	memset(a->a.addr, 0, sizeof(a->a.addr));
	memcpy(a->a.addr, addr, family == AF_INET ? 4 : 16);
	a->a.left_ns = left_ns;
}

/* Exact names only: a wildcard has nothing to resolve. */
static void prefetch(const struct sandbox *sb)
{
	for (size_t i = 0; i < sb->policy->ninject; i++) {
		const char *name = sb->policy->inject[i].domain.name;

		if (!strchr(name, '*'))
			dns_prefetch(name);
	}
}

/* Only the difference reaches the kernel, in one batch: a name brokered
 * before and after the change is never refused in between. */
void broker_sandbox_changed(struct daemon *d, const struct sandbox *sb)
{
	struct relearn r = { sb, NULL, 0, 0 };
	uint64_t now = now_ns();

	if (sock < 0)
		return;
	if (sb->policy->ninject) {
		dnscache_each(sb->id, relearn_one, &r, now);
		dnscache_each(DNSCACHE_OWN, relearn_one, &r, now);
	}
	inject_addrs_sync(marks, sb->id, still_injected, &r, r.add, r.n, now);
	free(r.add);
	if (sb->policy->ninject)
		prefetch(sb);
	wait_taken(d, send_sandbox(d, sb));
}

/* for_ns: how long they hold; 0: each its TTL */
static void learn(uint32_t sb, const char *name,
		  const struct dns_learned_addr *a, size_t n, uint64_t for_ns,
		  uint64_t now)
{
	struct inject_learned l[64];

	for (size_t i = 0; i < n;) {
		size_t k = 0;

		for (; k < 64 && i < n; k++, i++) {
			l[k].family = a[i].family;
			memcpy(l[k].addr, a[i].addr, sizeof(l[k].addr));
			l[k].left_ns = for_ns ? for_ns :
				(uint64_t)a[i].ttl * 1000000000ull;
		}
		inject_addrs_learn(marks, sb, name, l, k, now);
	}
}

void broker_learn_own(const char *name, const struct dns_learned_addr *a,
		      size_t n, uint64_t for_ns, uint64_t now)
{
	if (sock < 0)
		return;
	for (const struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb)) {
		if (!sb->policy->ninject ||
		    !policy_inject_find(sb->policy, name, 443))
			continue;
		learn(sb->id, name, a, n, for_ns, now);
	}
}

void broker_tick(uint64_t now)
{
	static uint64_t next;

	if (sock < 0 || now < next)
		return;
	next = now + 10 * 1000000000ull;
	for (const struct sandbox *sb = sandbox_next(NULL); sb;
	     sb = sandbox_next(sb))
		prefetch(sb);
}

/* Its brokered flows end while conntrack still maps them: the sandbox
 * sees their end (the daemon flushes its entries next). */
void broker_sandbox_gone(struct daemon *d, uint32_t id)
{
	if (sock < 0)
		return;
	inject_addrs_forget(marks, id);
	wait_taken(d, sandbox_gone_msg(id, true));
}

void broker_learn(const struct sandbox *sb, const char *name,
		  const struct dns_learned_addr *a, size_t n, uint64_t now)
{
	if (sock < 0 || !sb->policy->ninject ||
	    !policy_inject_find(sb->policy, name, 443))
		return;
	learn(sb->id, name, a, n, 0, now);
}
