/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sbxfw-broker: started by sbxfwd (never by hand) with the socketpair on
 * descriptor 3 and the listener on 4, as the daemon's user with no
 * capability. It checks that, installs its allowlist, then accepts.
 * Here its parts are tied together: the callbacks that let the lower
 * files (ipc, conn, the loops, the workers) hand over to the upper. */
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
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/random.h>

#include "broker.h"
#include "log.h"
#include "secret.h"

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

/* What a judged flow becomes: conn.c sits below relay.c and proxy*.c. */
static const struct conn_handlers handlers = {
	.relay = relay_run,
	.terminate = proxy_start,
};

/* What a message about a sandbox does to its open flows: ipc.c sits
 * below flows.c, which asks the daemon through it. */
static const struct ipc_hooks ipc_flows = {
	.changing = flows_changing,
	.changed = flows_changed,
	.cut = flows_cut,
};

static void serve_job(void *arg)
{
	conn_serve((int)(intptr_t)arg);
}

static void serve(void)
{
	workers_init(proxy_thread_init, proxy_thread_fini);
	conn_setup(&handlers);
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(BROKER_FD_LISTEN, (struct sockaddr *)&peer,
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
	ipc_setup(&ipc_flows);
	if (pthread_create(&ipc, NULL, ipc_thread, NULL) != 0 ||
	    pthread_create(&rows, NULL, ipc_rows_thread, NULL) != 0 ||
	    pthread_create(&flows, NULL, flows_thread, NULL) != 0 ||
	    pthread_create(&changes, NULL, ipc_changes_thread, NULL) != 0)
		fatalx("broker: thread");
	ipc_hello();
	ipc_wait_config();
	loop_start(proxy_thread_init);
	if ((n = broker_filter_install(err, sizeof(err))) < 0)
		fatalx("broker: %s", err);
	log_info("broker: ready: landlock ABI %d, %d system calls allowed, "
		 "pid %d", ll, n, (int)getpid());
	serve();
	return 0;
}
