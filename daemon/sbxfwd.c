/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbxfwd: start-up order, the event loop, signals. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "apply.h"
#include "audit.h"
#include "audit_query.h"
#include "broker.h"
#include "broker_proc.h"
#include "flow_judge.h"
#include "inject_addrs.h"
#include "conns.h"
#include "control.h"
#include "ct.h"
#include "ct_proc.h"
#include "daemon.h"
#include "dns.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "nflog.h"
#include "nft_watch.h"
#include "notify.h"
#include "priv.h"
#include "queue.h"
#include "route.h"
#include "rst.h"
#include "secret.h"
#include "settle.h"
#include "sandbox.h"
#include "clock.h"
#include "verdict.h"

#define TICK_MS 100
#define RESOLV_CONF "/etc/resolv.conf"
#define COMMAND_LOCK_WAIT_MS 200	/* the longest a change holds the loop up */

/* epoll tags of the daemon's own descriptors */
static char tag_queue, tag_nflog, tag_signal, tag_timer, tag_dns, tag_query,
	    tag_broker, tag_nft;

static void usage(void)
{
	fprintf(stderr, "usage: sbxfwd [-c FILE] [-n] [-v]\n"
			"       sbxfwd --remove-table\n"
			"  -c FILE         configuration (default %s)\n"
			"  -n              check the configuration and exit\n"
			"  -v              verbose: log every verdict\n"
			"  --remove-table  remove the table (sandboxes are no "
			"longer filtered) and exit\n",
			CFG_DEFAULT_PATH);
	exit(2);
}

static void nft_opts_of(struct daemon *d)
{
	d->nft.marks = &d->marks;
	d->nft.queue = d->cfg.queue;
	d->nft.queues = d->cfg.queues;
	d->nft.log_group = d->cfg.queue;
	d->nft.fail_open = d->cfg.fail_open;
	d->nft.drop = d->cfg.deny_action == DENY_DROP;
	d->nft.log_allowed = d->cfg.log_allowed;
	d->nft.flow_rate = d->cfg.flow_rate;
	d->nft.own_table = d->cfg.table_owner;
}

/* What the verdicts and the resolver take from the ini: at start and on
 * SIGHUP. The upstream resolvers are the ini's, else resolv.conf's. */
static void configure(struct sbxfw_config *c)
{
	flow_judge_configure(c->ech == ECH_DENY,
			     c->ip_binding == BINDING_STRICT);
	verdict_configure(c->deny_action == DENY_DROP);
	if (cfg_upstream_from_resolv(c, RESOLV_CONF) < 0 && !c->nupstream)
		log_warnx("dns: no upstream resolver (none in the ini or %s): "
			  "sandboxes' allowed names get SERVFAIL", RESOLV_CONF);
	dns_configure(c->upstream, c->nupstream);
}

static int watch(int ep, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int ticker(void)
{
	struct itimerspec it = {
		.it_interval = { 0, TICK_MS * 1000000L },
		.it_value = { 0, TICK_MS * 1000000L },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	timerfd_settime(fd, 0, &it, NULL);
	return fd;
}

/* SIGHUP: the ini again, and the ruleset rebuilt from it in one batch.
 * What the running kernel state depends on cannot change without a
 * restart: the mark layout and the queue numbers. */
static void reload(struct daemon *d)
{
	struct sbxfw_config c;
	char err[512];
	bool owner;

	cfg_defaults(&c);
	if (cfg_load(d->config_path, &c, err, sizeof(err)) < 0) {
		log_warnx("reload: %s; keeping the running configuration",
			  err);
		return;
	}
	if (c.mark_mask != d->cfg.mark_mask || c.queue != d->cfg.queue ||
	    c.queues != d->cfg.queues || strcmp(c.socket, d->cfg.socket) ||
	    strcmp(c.database, d->cfg.database))
		log_warnx("reload: mark_mask, queue, queues, socket and "
			  "database change only with a restart");
	if (strcmp(c.metrics_listen, d->cfg.metrics_listen) ||
	    c.metrics_per_sandbox != d->cfg.metrics_per_sandbox ||
	    c.journal != d->cfg.journal)
		log_warnx("reload: [metrics] and [audit] journal change only "
			  "with a restart");
	c.journal = d->cfg.journal;
	memcpy(c.metrics_listen, d->cfg.metrics_listen,
	       sizeof(c.metrics_listen));
	c.metrics_per_sandbox = d->cfg.metrics_per_sandbox;
	c.mark_mask = d->cfg.mark_mask;
	c.queue = d->cfg.queue;
	c.queues = d->cfg.queues;
	memcpy(c.socket, d->cfg.socket, sizeof(c.socket));
	memcpy(c.database, d->cfg.database, sizeof(c.database));
	owner = c.table_owner != d->cfg.table_owner;
	d->cfg = c;
	nft_opts_of(d);
	configure(&d->cfg);
	audit_limits(c.retention_days, c.max_size);
	/* the rules only: a whole table would lose the sets' elements the
	 * kernel keeps, and flows in their handshake with them; the table's
	 * owner flags only on creating it */
	if ((owner || nft_rules_replace(&d->nft, err, sizeof(err)) < 0) &&
	    commands_table(d, err, sizeof(err)) < 0)
		log_warnx("reload: %s", err);
	else
		log_info("configuration reloaded");
}

/* true: keep running */
static bool on_signal(int fd, struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			notify_send("RELOADING=1");
			reload(d);
			apply_configured(d);
			notify_send("READY=1");
			continue;
		}
		log_info("signal %u: stopping", si.ssi_signo);
		return false;
	}
	return true;
}

/* A sandbox's flow ended: bytes and end time into its audit row. */
/* Audit counts the query thread has ready go to their askers. */
static void answer_queries(struct daemon *d)
{
	struct audit_counts a;

	while (audit_query_take(&a))
		control_reply(a.tag, commands_stats_reply(&a), d);
}

/* Once a second: the kernel's own allows hold for NFT_ALIVE_MS more. */
static void alive_tick(uint64_t now)
{
	static uint64_t next;
	static bool failing;
	char err[256];

	if (now < next)
		return;
	next = now + 1000000000ull;
	if (nft_alive(err, sizeof(err)) < 0) {
		if (!failing)
			log_warnx("%s", err);
		failing = true;
		return;
	}
	failing = false;
}

/* Another program's change to the table: built again at once. */
static void table_watch(struct daemon *d)
{
	char who[128];

	/* owned, nobody else can change it: lost events are only lost */
	if (nft_watch_read(nft_portid(), who, sizeof(who)) &&
	    !nft_table_owned())
		commands_table_changed(d, who);
}

static void run(struct daemon *d, int ep, int sfd, int tfd)
{
	struct epoll_event evs[32];
	uint64_t ticks;

	for (;;) {
		int n = epoll_wait(ep, evs, 32, -1);

		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_queue) {
				if (queue_receive(verdict_packet, NULL) < 0)
					log_warn("queue");
			} else if (tag == &tag_nflog) {
				nflog_receive();
			} else if (tag == &tag_signal) {
				if (!on_signal(sfd, d))
					return;
			} else if (tag == &tag_query) {
				answer_queries(d);
			} else if (tag == &tag_dns) {
				dns_event();
				settle_tick(d, now_ns());
			} else if (tag == &tag_nft) {
				table_watch(d);
			} else if (tag == &tag_broker) {
				broker_event(d);
			} else if (tag == &tag_timer) {
				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				/* flows' ends, read on the tick: a wake-up
				 * for each cost as much as its verdict */
				ct_events_read(verdict_flow_ended, NULL);
				dns_tick(now_ns());
				verdict_tick(now_ns());
				alive_tick(now_ns());
				settle_tick(d, now_ns());
				inject_addrs_tick(now_ns());
				if (d->table.pending)
					commands_table_changed(d, "a retry");
				audit_tick();
				metrics_tick();
			} else {
				control_event(tag, evs[i].events, d);
			}
		}
		/* every verdict decided in this round, in one datagram */
		queue_flush();
	}
}

static void load_config(struct daemon *d, bool check_only)
{
	char err[512];

	cfg_defaults(&d->cfg);
	if (cfg_load(d->config_path, &d->cfg, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (marks_init(&d->marks, d->cfg.mark_mask) < 0)
		fatalx("%s: mark_mask 0x%08x: must be contiguous bits, at "
		       "least %d", d->config_path, d->cfg.mark_mask,
		       MARK_STATE_BITS + 1);
	if (check_only) {
		printf("configuration OK\n");
		exit(0);
	}
	nft_opts_of(d);
}

/* The names of open flows kept across a restart, beside the database. */
static void conns_file(const struct daemon *d, char *out, size_t len)
{
	snprintf(out, len, "%s-conns", d->cfg.database);
}

/* Without a daemon no new sandbox flow goes through, not even one the
 * kernel could allow alone (SPEC §1.5): at a stop, and when a start
 * cannot go on. Returns what happened to the table, for the log. */
static const char *close_table(const struct daemon *d)
{
	static char what[320];
	char err[256];
	int rc;

	if (d->cfg.fail_open)
		return "the table stays, letting new flows through (fail_open)";
	if ((rc = nft_init(err, sizeof(err))) == 0 &&
	    (rc = nft_close(err, sizeof(err))) == -ENOENT)
		return "there is no table (sandboxes are not filtered)";
	if (rc < 0) {
		snprintf(what, sizeof(what), "the table stays but could not "
			 "be closed (%s)", err);
		return what;
	}
	return "the table stays, refusing every new sandbox flow";
}

/* A start that cannot load its sandboxes (a damaged or emptied
 * database) stops, never runs with fewer: the table of the last run
 * stays and refuses every new flow of theirs. One line. */
static void __attribute__((noreturn)) refuse_start(const struct daemon *d,
						   const char *why)
{
	fatalx("%s: not starting; %s", why, close_table(d));
}

/* A database file that is there but empty is no new database: it was
 * truncated, and would start the daemon with no sandbox at all. */
static void check_not_emptied(const struct daemon *d)
{
	struct stat st;
	char why[PATH_MAX + 96];

	if (stat(d->cfg.database, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == 0) {
		snprintf(why, sizeof(why), "%s: an empty file (truncated?), "
			 "not a database", d->cfg.database);
		refuse_start(d, why);
	}
}

/* The table outlives the daemon, failing closed; only this removes it
 * (the packages' removal). */
static int remove_table(void)
{
	char err[512];
	int rc = nft_init(err, sizeof(err));

	if (rc == 0)
		rc = nft_table_delete(err, sizeof(err));
	if (rc == -EPERM) {
		log_warnx("table inet %s belongs to a running sbxfwd: stop "
			  "it first", NFT_TABLE);
		return 1;
	}
	if (rc < 0 && rc != -ENOENT) {
		log_warnx("%s", err);
		return 1;
	}
	nft_fini();
	log_info("table inet %s removed: sandboxes are no longer filtered",
		 NFT_TABLE);
	return 0;
}

/* What the resolver tells: flows waiting for its answer are decided,
 * addresses of injection domains go to the kernel's inject sets. */
static const struct dns_hooks dns_hooks = { verdict_resolved,
					    inject_addrs_learned };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "remove-table", no_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d = { .config_path = CFG_DEFAULT_PATH };
	struct priv priv;
	enum log_level level = LOG_LVL_INFO;
	bool check = false, remove = false;
	int ch, ep, qfd, lfd, sfd, tfd, dfd, afd, wfd, n;
	char conns_path[PATH_MAX + 8];
	char err[512];

	daemon_argv = argv;
	while ((ch = getopt_long(argc, argv, "c:nvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'R':
			remove = true;
			break;
		case 'c':
			d.config_path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			level = LOG_LVL_DEBUG;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("sbxfwd", level);
	if (remove)
		return remove_table();
	/* per-flow buffers come and go at connection rate: keep freed memory
	 * mapped instead of faulting it back in on the verdict path */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 4 << 20);
	load_config(&d, check);
	secret_json_init();
	d.started = time(NULL);
	/* blocked before any thread starts, so that none takes them */
	sfd = signals();
	ep = epoll_create1(EPOLL_CLOEXEC);
	/* root's work: the user, the state's owner, the raw sockets, the
	 * control socket (root's, the group's) */
	if (priv_prepare(d.cfg.user, d.cfg.group, &priv, err,
			 sizeof(err)) < 0 ||
	    priv_state_dir(&priv, d.cfg.database, err, sizeof(err)) < 0 ||
	    priv_state_files(&priv, d.cfg.database, err, sizeof(err)) < 0 ||
	    priv_socket_dir(&priv, d.cfg.socket, err, sizeof(err)) < 0 ||
	    priv_ca_dir(&priv, d.cfg.ca_dir, err, sizeof(err)) < 0 ||
	    broker_start(&d, &priv, level == LOG_LVL_DEBUG,
			 &d.nft.broker_port, err, sizeof(err)) < 0)
		fatalx("%s", err);
	rst_init(mark_state(&d.marks, NFT_FORGED_STATE));
	if (!ct_proc_open())
		log_warnx("/proc/net/nf_conntrack: %s (policy changes walk "
			  "conntrack by netlink)", strerror(errno));
	if (control_open(d.cfg.socket, d.cfg.group, d.cfg.admin_group, ep,
			 err, sizeof(err)) < 0 ||
	    priv_drop(&priv, err, sizeof(err)) < 0)
		fatalx("%s", err);
	/* from here on as the user, with CAP_NET_ADMIN: files it creates
	 * are its own, their modes from its umask (never opened again to
	 * set them: a close drops the process's SQLite locks) */
	check_not_emptied(&d);
	if (store_open(&d.store, d.cfg.database, true, err, sizeof(err)) < 0)
		refuse_start(&d, err);
	sandbox_init(d.marks.max_id);
	if (commands_load(&d, err, sizeof(err)) < 0)
		refuse_start(&d, err);
	/* the event loop carries verdicts, DNS and the broker: a change
	 * that meets another process's write lock (a sysadmin's DELETE, a
	 * backup) fails at once with "database is locked" rather than
	 * holding them up */
	store_patience(&d.store, COMMAND_LOCK_WAIT_MS);
	if (audit_init(d.cfg.database, d.cfg.log_allowed,
		       d.cfg.retention_days, d.cfg.max_size, err,
		       sizeof(err)) < 0 ||
	    (afd = audit_query_start(d.cfg.database, err, sizeof(err))) < 0 ||
	    (d.cfg.journal && journal_start(err, sizeof(err)) < 0))
		fatalx("%s", err);
	verdict_init(&d.marks);
	conns_init(65536);
	conns_file(&d, conns_path, sizeof(conns_path));
	if ((n = conns_load(conns_path)) < 0)
		log_warnx("%s: %s", conns_path, strerror(-n));
	else if (n)
		log_info("%d open flows' names kept from the last run", n);
	if (nft_init(err, sizeof(err)) < 0 ||
	    nft_probe_native_queue(&d.nft.native_queue, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_info("queue: %s", d.nft.native_queue ? "nft queue statement" :
		 "xt NFQUEUE target through nft_compat (this kernel has no "
		 "nft queue)");
	if ((qfd = queue_open(d.cfg.queue, d.cfg.queues, err,
			      sizeof(err))) < 0 ||
	    (lfd = nflog_open(d.cfg.queue, &d.marks, err, sizeof(err))) < 0 ||
	    (dfd = dns_open(&d.marks, &dns_hooks, &d.nft.dns_port, err,
			    sizeof(err))) < 0 ||
	    ct_events_open(err, sizeof(err)) < 0 ||
	    (wfd = nft_watch_open(err, sizeof(err))) < 0 ||
	    commands_table(&d, err, sizeof(err)) < 0)
		fatalx("%s", err);
	if (nft_table_owned())
		log_info("table inet %s: owned by sbxfwd (no other program "
			 "changes it; `nft flush ruleset' leaves it)", NFT_TABLE);
	else
		log_warnx("table inet %s: not owned (%s): another program may "
			  "change or remove it; sbxfwd builds it again when it "
			  "does", NFT_TABLE, d.cfg.table_owner ?
			  "this kernel cannot, Linux 6.9 can" :
			  "table_owner = false");
	tfd = ticker();
	if (watch(ep, qfd, &tag_queue) < 0 || watch(ep, lfd, &tag_nflog) < 0 ||
	    watch(ep, sfd, &tag_signal) < 0 || watch(ep, tfd, &tag_timer) < 0 ||
	    watch(ep, dfd, &tag_dns) < 0 || watch(ep, afd, &tag_query) < 0 ||
	    watch(ep, wfd, &tag_nft) < 0 ||
	    (broker_fd() >= 0 && watch(ep, broker_fd(), &tag_broker) < 0))
		fatal("epoll_ctl");
	configure(&d.cfg);
	apply_configured(&d);
	/* a scrape endpoint that cannot listen leaves the firewall up */
	if (metrics_start(&d, err, sizeof(err)) < 0)
		log_warnx("%s: no metrics", err);
	log_info("ready: %zu sandboxes, queues %u-%u, mark_mask 0x%08x, "
		 "DNS on port %u, broker on port %u", sandbox_count(),
		 d.cfg.queue, d.cfg.queue + d.cfg.queues - 1, d.marks.mask,
		 d.nft.dns_port, d.nft.broker_port);
	/* the table is built, the queues bound, the socket listens */
	notify_send("READY=1\nSTATUS=%zu sandboxes, DNS on port %u",
		    sandbox_count(), d.nft.dns_port);
	run(&d, ep, sfd, tfd);
	notify_send("STOPPING=1");

	/* in reverse: held packets denied, audit flushed; the table stays,
	 * failing closed until a daemon starts again (SPEC §1.1, §1.5) */
	verdict_release_all();
	queue_flush();
	log_info("%s until sbxfwd starts again (sbxfwd --remove-table "
		 "removes it)", close_table(&d));
	metrics_stop();
	nflog_drain();
	control_close();
	dns_close();
	queue_close();
	nflog_close();
	nft_watch_close();
	nft_fini();
	ct_fini();
	route_fini();
	rst_fini();
	audit_query_stop();
	audit_fini();
	journal_stop();
	if ((n = conns_save(conns_path)) < 0)
		log_warnx("%s: %s", conns_path, strerror(-n));
	conns_fini();
	inject_addrs_fini();
	sandbox_fini();
	store_close(&d.store);
	log_info("stopped");
	return 0;
}
