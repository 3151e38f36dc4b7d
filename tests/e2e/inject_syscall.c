/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inject_syscall TID openat PATH
 * inject_syscall TID nr NUMBER [ARG...]
 *
 * Makes one thread of a running process make one system call of ours,
 * with ptrace alone, as the thread itself: its credentials, capabilities,
 * Landlock domain and seccomp filter apply. The thread is stopped, its
 * general registers are pointed at a system call instruction it already
 * has (the one it is blocked in, most often) with our number and
 * arguments, it steps once, and gets its registers back. Nothing else of
 * its state is read or written: not the extended register state (a
 * debugger's inferior call writes it whole, which gdb 13 cannot do on a
 * CPU whose XSAVE state holds AMX), nor its heap (the path goes below its
 * stack pointer, past the red zone). No code of ours enters the process.
 *
 * Prints what the call returned: "NAME: N" (a negative errno when it
 * failed); openat closes a descriptor it opened. A call the seccomp
 * filter stops prints "NAME: signal SIGNAME" and leaves the process the
 * signal, as the kernel gave it. Exit 0 when the call was made. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
typedef struct user_regs_struct regs_t;
static const uint8_t insn[] = { 0x0f, 0x05 };		/* syscall */
#define PC(r) ((r)->rip)
#define SP(r) ((r)->rsp)
#define RET(r) ((long)(r)->rax)
#elif defined(__aarch64__)
typedef struct user_regs_struct regs_t;
static const uint8_t insn[] = { 0x01, 0x00, 0x00, 0xd4 };	/* svc #0 */
#define PC(r) ((r)->pc)
#define SP(r) ((r)->sp)
#define RET(r) ((long)(r)->regs[0])
#else
#error "inject_syscall: x86-64 and arm64 only"
#endif

#define RED_ZONE 512		/* below the stack pointer, left alone */
#define PATH_MAX_LEN 256

/* The kernel's restart codes (include/linux/errno.h, not exported). */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

static pid_t tid;
static int sig_stopped;	/* the thread is in the stop of the signal */

static void die(const char *what)
{
	fprintf(stderr, "inject_syscall: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void get_regs(regs_t *r)
{
	struct iovec io = { r, sizeof(*r) };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &io) < 0)
		die("PTRACE_GETREGSET");
}

static void set_regs(const regs_t *r)
{
	struct iovec io = { (void *)r, sizeof(*r) };

	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &io) < 0)
		die("PTRACE_SETREGSET");
}

/* The system call the thread was stopped in, as the kernel sees it:
 * -1 stands for none, so that it restarts nothing on resuming. */
static void set_syscall_nr(regs_t *r, long nr)
{
#if defined(__x86_64__)
	r->orig_rax = (unsigned long)nr;
#else
	int n = (int)nr;
	struct iovec io = { &n, sizeof(n) };

	(void)r;
	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_ARM_SYSTEM_CALL, &io) < 0)
		die("NT_ARM_SYSTEM_CALL");
#endif
}

static long syscall_nr(const regs_t *r)
{
#if defined(__x86_64__)
	return (long)r->orig_rax;
#else
	int n;
	struct iovec io = { &n, sizeof(n) };

	(void)r;
	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_ARM_SYSTEM_CALL, &io) < 0)
		die("NT_ARM_SYSTEM_CALL");
	return n;
#endif
}

static void set_call(regs_t *r, uintptr_t at, long nr, const long *a)
{
	PC(r) = at;
#if defined(__x86_64__)
	r->rax = (unsigned long)nr;
	r->rdi = (unsigned long)a[0];
	r->rsi = (unsigned long)a[1];
	r->rdx = (unsigned long)a[2];
	r->r10 = (unsigned long)a[3];
	r->r8 = (unsigned long)a[4];
	r->r9 = (unsigned long)a[5];
#else
	r->regs[8] = (unsigned long)nr;
	for (int i = 0; i < 6; i++)
		r->regs[i] = (unsigned long)a[i];
#endif
}

/* Whether the bytes at addr are a system call instruction. */
static int is_insn(uintptr_t addr)
{
	uint8_t b[sizeof(long)];
	long w;

	errno = 0;
	w = ptrace(PTRACE_PEEKTEXT, tid, (void *)addr, NULL);
	if (errno)
		return 0;
	memcpy(b, &w, sizeof(b));
	return !memcmp(b, insn, sizeof(insn));
}

/* A system call instruction of the process: the one the thread stopped
 * right after (blocked in a call), else the first in an executable
 * mapping of its own. */
static uintptr_t find_insn(const regs_t *r)
{
	char path[64], line[512];
	uintptr_t lo, hi, a;
	char perms[8];
	FILE *f;

	if (PC(r) >= sizeof(insn) && is_insn(PC(r) - sizeof(insn)))
		return PC(r) - sizeof(insn);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tid);
	if (!(f = fopen(path, "r")))
		die(path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[2] != 'x')
			continue;
		for (a = lo; a + sizeof(long) <= hi && a < lo + (1u << 24);
		     a += sizeof(insn) == 4 ? 4 : 1)
			if (is_insn(a)) {
				fclose(f);
				return a;
			}
	}
	fclose(f);
	errno = ENOENT;
	die("no system call instruction in the process");
	return 0;
}

static void poke(uintptr_t at, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i += sizeof(long)) {
		long w = 0;

		memcpy(&w, s + i, n - i < sizeof(long) ? n - i : sizeof(long));
		if (ptrace(PTRACE_POKEDATA, tid, (void *)(at + i), (void *)w) < 0)
			die("PTRACE_POKEDATA");
	}
}

/* Wait for the thread's next stop. */
static int stopped(void)
{
	int st;

	if (waitpid(tid, &st, __WALL) < 0)
		die("waitpid");
	if (!WIFSTOPPED(st)) {
		errno = ESRCH;
		die("the thread ended");
	}
	return st;
}

/* Whether the thread has sig pending (seccomp's SIGSYS, queued as the
 * call was skipped). */
static int pending_sig(int sig)
{
	char path[64], line[128];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (!(f = fopen(path, "r")))
		die(path);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigPnd: %llx", &mask) == 1)
			break;
	fclose(f);
	return (mask >> (sig - 1)) & 1;
}

/* One call at `at', from the registers `base', to its syscall-exit
 * stop: its return value, with *sig set when the thread has a signal
 * for it (seccomp's SIGSYS). Another signal that stops the thread
 * meanwhile is kept in *other, for the thread after. */
static long call(const regs_t *base, uintptr_t at, long nr, const long *a,
		 int *sig, int *other)
{
	regs_t r = *base;
	int st, stops = 0;

	set_call(&r, at, nr, a);
	set_regs(&r);
	set_syscall_nr(&r, -1);	/* nothing of the thread's to restart */
	while (stops < 2) {	/* its entry, then its exit */
		if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
			die("PTRACE_SYSCALL");
		st = stopped();
		if (WSTOPSIG(st) == (SIGTRAP | 0x80))
			stops++;
		else if (WSTOPSIG(st) == SIGSYS)
			*sig = sig_stopped = SIGSYS;	/* the filter's */
		else if (st >> 16 == 0)
			*other = WSTOPSIG(st);
		if (*sig)
			break;
	}
	if (!*sig && pending_sig(SIGSYS))
		*sig = SIGSYS;
	get_regs(&r);
	return RET(&r);
}

/* The thread's registers as they were. A call it was stopped in starts
 * again as the kernel starts one no handler interrupted (x86-64: its
 * number again, the instruction again); on arm64, where our call took
 * the first argument the kernel keeps for that, it returns EINTR, as a
 * signal would make it. */
static void restore(regs_t *saved, long nr)
{
	long ret = RET(saved);
	int again = nr >= 0 && (ret == -ERESTARTSYS ||
				ret == -ERESTARTNOINTR ||
				ret == -ERESTARTNOHAND ||
				ret == -ERESTART_RESTARTBLOCK);

#if defined(__x86_64__)
	if (again) {
		saved->rax = ret == -ERESTART_RESTARTBLOCK ?
			     SYS_restart_syscall : (unsigned long)nr;
		saved->rip -= sizeof(insn);
	}
	set_regs(saved);
#else
	if (again)
		saved->regs[0] = (unsigned long)-EINTR;
	set_regs(saved);
	set_syscall_nr(saved, again ? -1 : nr);
#endif
}

static void usage(void)
{
	fprintf(stderr, "usage: inject_syscall TID openat PATH\n"
			"       inject_syscall TID nr NUMBER [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long a[6] = { 0 }, nr, ret, saved_nr;
	int st, pending = 0, sig = 0;
	regs_t saved;
	uintptr_t at;
	const char *name;

	if (argc < 4)
		usage();
	tid = (pid_t)atoi(argv[1]);
	name = argv[2];
	if (!strcmp(name, "openat")) {
		if (strlen(argv[3]) >= PATH_MAX_LEN)
			usage();
		nr = SYS_openat;
	} else if (!strcmp(name, "nr") && argc <= 10) {
		nr = strtol(argv[3], NULL, 0);
		for (int i = 4; i < argc; i++)
			a[i - 4] = strtol(argv[i], NULL, 0);
	} else {
		usage();
	}
	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)PTRACE_O_TRACESYSGOOD) < 0)
		die("PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
		die("PTRACE_INTERRUPT");
	st = stopped();
	if (st >> 16 != PTRACE_EVENT_STOP)
		pending = WSTOPSIG(st);	/* a signal's: given back after */
	get_regs(&saved);
	saved_nr = syscall_nr(&saved);
	at = find_insn(&saved);
	if (nr == SYS_openat) {
		uintptr_t path = (SP(&saved) - RED_ZONE - PATH_MAX_LEN) & ~15ul;

		poke(path, argv[3], strlen(argv[3]) + 1);
		a[0] = AT_FDCWD;
		a[1] = (long)path;
		a[2] = O_RDONLY | O_CLOEXEC;
	}
	ret = call(&saved, at, nr, a, &sig, &pending);
	if (sig) {
		/* the filter's: the process's, as the kernel gave it */
		printf("%s: signal %s\n", name, sigabbrev_np(sig));
		if (ptrace(PTRACE_DETACH, tid, NULL,
			   (void *)(long)sig_stopped) < 0)
			die("PTRACE_DETACH");
		return 0;
	}
	if (nr == SYS_openat && ret >= 0) {
		long c[6] = { ret };

		printf("%s: %ld (closed)\n", name, ret);
		if (call(&saved, at, SYS_close, c, &sig, &pending) != 0 || sig) {
			errno = EIO;
			die("close");
		}
	} else {
		printf("%s: %ld\n", name, ret);
	}
	restore(&saved, saved_nr);
	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)pending) < 0)
		die("PTRACE_DETACH");
	return 0;
}
