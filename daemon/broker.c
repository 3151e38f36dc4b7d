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
#include "broker_proc.h"
#include "broker_proto.h"
#include "ca.h"
#include "clock.h"
#include "ct.h"
#include "daemon.h"
#include "flow_judge.h"
#include "file.h"
#include "inject_addrs.h"
#include "log.h"
#include "metrics.h"
#include "policy_json.h"
#include "sandbox.h"
#include "secret.h"
#include "xalloc.h"

#define MSG_MAX (256 << 10)	/* a batch of request rows */
#define TRUST_MAX (4 << 20)

static int sock = -1;
static const struct marks *marks;
static pid_t broker_pid;		/* from its hello */
/* Each change to a sandbox is numbered; the broker says which it took
 * in, in order (or a new broker has them all). */
static uint64_t sent_seq, taken_seq;

int broker_start(struct daemon *d, const struct priv *pv, bool verbose,
		 uint16_t *port, char *err, size_t errlen)
{
	marks = &d->marks;
	if (broker_proc_start(d->cfg.broker, pv, verbose, port, &sock, err,
			      errlen) < 0)
		return -1;
	if (sock >= 0)
		inject_addrs_start(marks);
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

	json_object_set_new(o, BROKER_F_SEQ,
			    json_integer((json_int_t)++sent_seq));
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
	return send_change(json_pack("{s:s, s:i, s:b}", BROKER_F_TYPE,
				     BROKER_MSG_SANDBOX_GONE, BROKER_F_ID,
				     (int)id, BROKER_F_DESTROYED, destroyed),
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
				    BROKER_F_TYPE, BROKER_MSG_SANDBOX,
				    BROKER_F_ID, (int)sb->id, BROKER_F_NAME,
				    sb->name, BROKER_F_CA, crt, BROKER_F_KEY,
				    key, BROKER_F_POLICY, "mode",
				    "user-defined", "inject", inject),
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
	send_msg(json_pack("{s:s, s:s, s:i}", BROKER_F_TYPE, BROKER_MSG_CONFIG,
			   BROKER_F_TRUST, trust ? trust : "",
			   BROKER_F_LEAF_DAYS,
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

static enum payload_kind payload_of(const char *status)
{
	return !strcmp(status, BROKER_STATUS_TLS) ? PAYLOAD_TLS :
	       !strcmp(status, BROKER_STATUS_NOT_TLS) ? PAYLOAD_NOT_TLS :
	       !strcmp(status, BROKER_STATUS_MALFORMED) ? PAYLOAD_MALFORMED :
	       PAYLOAD_INCOMPLETE;
}

/* Which flow the broker holds: conntrack knows it by the reply tuple
 * its socket sees; its mark names the sandbox. Status "who" asks for
 * the sandbox alone (its share of the broker); "again", a flow judged
 * before, after a change: a row only when it is refused now. */
static void judge_request(json_t *m)
{
	const char *local, *peer, *status, *sni_hex;
	const char *action = BROKER_ACTION_DENY;
	json_int_t id, lport, pport;
	int ech = 0, again = 0, fam2;
	json_t *sni_v = NULL;	/* null: no server_name */
	struct flow_key reply = { .proto = IPPROTO_TCP }, orig = { 0 };
	struct judgement j = { .host = "" };
	const struct sandbox *sb = NULL;
	char sni[CH_SNI_MAX + 1], dst[INET6_ADDRSTRLEN] = "";
	struct flow_query q = { .proto = IPPROTO_TCP };
	uint32_t mark;
	int family;
	bool allow;

	if (json_unpack(m, "{s:I, s:s, s:I, s:s, s:I, s:s, s?o, s?b, s?b}",
			BROKER_F_ID, &id, BROKER_F_LOCAL, &local,
			BROKER_F_LPORT, &lport, BROKER_F_PEER, &peer,
			BROKER_F_PPORT, &pport, BROKER_F_STATUS, &status,
			BROKER_F_SNI, &sni_v, BROKER_F_ECH, &ech,
			BROKER_F_AGAIN, &again) < 0 ||
	    ip_text_parse(local, &family, reply.src) < 0 ||
	    ip_text_parse(peer, &fam2, reply.dst) < 0 || fam2 != family) {
		log_warnx("broker: unreadable judge request");
		return;
	}
	sni_hex = json_string_value(sni_v);
	reply.family = (uint8_t)family;
	reply.sport = (uint16_t)lport;
	reply.dport = (uint16_t)pport;
	int ctrc = ct_get_reply(&reply, &orig, &mark);

	if (ctrc == 0 && memcmp(orig.dst, reply.src, 16) &&
	    (sb = sandbox_get(mark_get_id(marks, mark))) &&
	    !strcmp(status, BROKER_STATUS_WHO))
		action = BROKER_ACTION_WHO;
	else if (sb) {
		q.payload = payload_of(status);
		if (sni_hex && (q.sni_len = unhex(sni_hex, sni, CH_SNI_MAX)))
			q.sni = sni;
		q.ech = ech;
		q.brokered = true;
		allow = flow_judge(sb, &orig, &q, BIND_FINAL, &j);
		action = !allow ? BROKER_ACTION_DENY : j.inject ?
			 BROKER_ACTION_TERMINATE : BROKER_ACTION_RELAY;
		if (!again || !allow)
			flow_judge_audit(sb, &orig, &q, &j.v, allow);
		inet_ntop(family, orig.dst, dst, sizeof(dst));
	} else
		log_debug("broker: %s port %u: %s", peer, (unsigned)pport,
			  ctrc < 0 ? "no conntrack entry" :
			  !memcmp(orig.dst, reply.src, 16) ? "not redirected" :
			  "of no sandbox");
	send_msg(json_pack("{s:s, s:I, s:s, s:i, s:s, s:i, s:s}",
			   BROKER_F_TYPE, BROKER_MSG_JUDGED, BROKER_F_ID, id,
			   BROKER_F_ACTION, action, BROKER_F_SANDBOX,
			   sb ? (int)sb->id : 0, BROKER_F_DST, dst,
			   BROKER_F_DPORT, (int)orig.dport, BROKER_F_HOST,
			   j.host));
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
	metrics_broker_request(r.status);
	snprintf(r.injected, sizeof(r.injected), "%s", text(inj));
	snprintf(r.error, sizeof(r.error), "%s", text(error));
	audit_request(&r);
}

/* One message of request rows. */
static void requests(json_t *m)
{
	json_t *row;
	size_t i;

	json_array_foreach(json_object_get(m, BROKER_F_ROWS), i, row)
		request(row);
}

static void dispatch(struct daemon *d, json_t *m)
{
	const char *t = json_string_value(json_object_get(m, BROKER_F_TYPE));
	json_int_t v;

	if (t && !strcmp(t, BROKER_MSG_JUDGE))
		judge_request(m);
	else if (t && !strcmp(t, BROKER_MSG_REQUESTS))
		requests(m);
	else if (t && !strcmp(t, BROKER_MSG_HELLO)) {
		if (json_unpack(m, "{s:I}", BROKER_F_PID, &v) == 0)
			broker_pid = (pid_t)v;
		hello(d);
	} else if (t && !strcmp(t, BROKER_MSG_TAKEN) &&
		   json_unpack(m, "{s:I}", BROKER_F_SEQ, &v) == 0) {
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

/* The broker gets the sandbox's rules and CA once the kernel has its
 * injection addresses. */
void broker_sandbox_changed(struct daemon *d, const struct sandbox *sb)
{
	if (sock < 0)
		return;
	inject_addrs_policy(sb, now_ns());
	wait_taken(d, send_sandbox(d, sb));
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
