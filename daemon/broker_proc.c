/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The broker's supervisor (broker_proc.h): a small process of the
 * user's, with no capability, that starts sbxfw-broker from the program
 * the daemon opened as root, on the listener and socketpair the daemon
 * made, and starts it again when it ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
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

#include "broker_proc.h"
#include "broker_proto.h"
#include "config.h"
#include "log.h"

#define SNDBUF (4 << 20)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

char **daemon_argv;

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

/* The broker's program is opened by the daemon while root
 * (BROKER_FD_EXE): the user sbxfw may have no way to its directory (a
 * build under /root). */
static void exec_broker(const char *path, bool verbose)
{
	char *const argv[] = { (char *)"sbxfw-broker",
			       verbose ? (char *)"-v" : NULL, NULL };
	char *const envp[] = { NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execveat(BROKER_FD_EXE, "", argv, envp, AT_EMPTY_PATH);
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
	    dup2(100, BROKER_FD_IPC) < 0 || dup2(101, BROKER_FD_LISTEN) < 0 ||
	    dup2(102, BROKER_FD_EXE) < 0 ||
	    fcntl(BROKER_FD_EXE, F_SETFD, FD_CLOEXEC) < 0)
		fatal("broker supervisor: descriptors");
	syscall(SYS_close_range, BROKER_FD_EXE + 1, ~0U, 0);
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

int broker_proc_start(const char *cfg, const struct priv *pv, bool verbose,
		      uint16_t *port, int *ipc, char *err, size_t errlen)
{
	int sp[2], lfd, exe, buf = SNDBUF;
	pid_t pid, self = getpid();
	static char path[PATH_MAX + 64];

	*port = 0;
	*ipc = -1;
	broker_path(cfg, path, sizeof(path));
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
	*ipc = sp[0];
	fcntl(*ipc, F_SETFL, O_NONBLOCK);
	return 0;
}
