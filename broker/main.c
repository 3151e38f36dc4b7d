/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbxfw-broker: started by sbxfwd (never by hand) with the socketpair on
 * descriptor 3 and the listener on 4, as the daemon's user with no
 * capability. It checks that, installs its allowlist, then accepts. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/random.h>

#include "broker.h"
#include "clock.h"
#include "log.h"
#include "secret.h"

#define STACK (256 * 1024)


#if defined(__SANITIZE_ADDRESS__)
/* started with an empty environment: a small quarantine, so that its
 * memory shows what the broker keeps, not what ASan does */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=4:detect_leaks=0";
}
#endif

/* No capability in any set, and no way to gain one. */
static void check_unprivileged(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("broker: prctl");
	if (syscall(SYS_capget, &h, d) < 0)
		fatal("broker: capget");
	if (d[0].effective | d[0].permitted | d[0].inheritable |
	    d[1].effective | d[1].permitted | d[1].inheritable)
		fatalx("broker: started with capabilities: refusing");
	if (getuid() == 0 || geteuid() == 0)
		fatalx("broker: started as root: refusing");
}

/* Jobs wait here for a worker: a new flow, or one of the loops' flows
 * that needs a new connection to its server. Workers are made when none
 * is idle, up to BROKER_CONNS_MAX, and end after IDLE_S idle beyond
 * WORKERS_KEPT: a connection costs no thread creation at steady load. */
#define IDLE_S 30
#define WORKERS_KEPT 16

struct job {
	void (*fn)(void *);
	void *arg;
};

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qwake = PTHREAD_COND_INITIALIZER;
static struct job queue[BROKER_CONNS_MAX];
static size_t qhead, qcount;
static int workers, idle_workers;
static pthread_attr_t worker_attr;

static bool next_job(struct job *out)
{
	struct timespec until;

	pthread_mutex_lock(&qlock);
	idle_workers++;
	while (!qcount) {
		until = deadline_ms(IDLE_S * 1000);
		if (pthread_cond_timedwait(&qwake, &qlock, &until) ==
		    ETIMEDOUT && !qcount && idle_workers > WORKERS_KEPT) {
			idle_workers--;
			workers--;
			pthread_mutex_unlock(&qlock);
			return false;
		}
	}
	idle_workers--;
	*out = queue[qhead];
	qhead = (qhead + 1) % BROKER_CONNS_MAX;
	qcount--;
	pthread_mutex_unlock(&qlock);
	return true;
}

static void *worker(void *arg)
{
	struct job j;

	(void)arg;
	proxy_thread_init();
	while (next_job(&j))
		j.fn(j.arg);
	proxy_thread_fini();
	return NULL;
}

/* Every job is a flow that conn_admit counted: the queue never fills. */
void work_submit(void (*fn)(void *), void *arg)
{
	pthread_t t;

	pthread_mutex_lock(&qlock);
	queue[(qhead + qcount++) % BROKER_CONNS_MAX] =
		(struct job){ .fn = fn, .arg = arg };
	/* idle workers already woken for queued jobs do not count */
	if ((size_t)idle_workers < qcount && workers < BROKER_CONNS_MAX &&
	    pthread_create(&t, &worker_attr, worker, NULL) == 0)
		workers++;
	pthread_cond_signal(&qwake);
	pthread_mutex_unlock(&qlock);
}

static void serve_job(void *arg)
{
	conn_serve((int)(intptr_t)arg);
}

static void serve(void)
{
	pthread_attr_init(&worker_attr);
	pthread_attr_setstacksize(&worker_attr, STACK);
	pthread_attr_setdetachstate(&worker_attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(BROKER_LISTEN_FD, (struct sockaddr *)&peer,
				 &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			fatal("broker: accept");
		}
		if (conn_refused_early(fd, &peer))
			continue;
		if (!conn_admit()) {
			close(fd);
			continue;
		}
		work_submit(serve_job, (void *)(intptr_t)fd);
	}
}

int main(int argc, char **argv)
{
	pthread_t ipc, rows, flows, changes;
	char err[256];
	WC_RNG rng;
	int n, ll;

	log_init("sbxfw-broker", argc > 1 && !strcmp(argv[1], "-v") ?
		 LOG_LVL_DEBUG : LOG_LVL_INFO);
	secret_json_init();
	check_unprivileged();
	if (wolfSSL_Init() != WOLFSSL_SUCCESS || wc_InitRng(&rng) != 0)
		fatalx("broker: wolfSSL");
	wc_FreeRng(&rng);	/* its source is open before the filter */
	/* Landlock binds the calling thread and those it makes after */
	if ((ll = broker_landlock(err, sizeof(err))) < 0)
		fatalx("broker: %s", err);
	if (ll == 0)
		log_warnx("broker: %s", err);
	if (pthread_create(&ipc, NULL, ipc_thread, NULL) != 0 ||
	    pthread_create(&rows, NULL, ipc_rows_thread, NULL) != 0 ||
	    pthread_create(&flows, NULL, flows_thread, NULL) != 0 ||
	    pthread_create(&changes, NULL, ipc_changes_thread, NULL) != 0)
		fatalx("broker: thread");
	ipc_hello();
	ipc_wait_config();
	loop_start();
	if ((n = broker_filter_install(err, sizeof(err))) < 0)
		fatalx("broker: %s", err);
	log_info("broker: ready: landlock ABI %d, %d system calls allowed, "
		 "pid %d", ll, n, (int)getpid());
	serve();
	return 0;
}
