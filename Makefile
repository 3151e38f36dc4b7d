# SPDX-License-Identifier: GPL-2.0-or-later
# sbxfw: plain GNU make. `make`, `make check`, `make fuzz`, `make bench`,
# `make soak`.
include config.mk

B := build

# Plain `make' on a machine that lacks what the build needs says so in
# one line, and how to get it, before compiling anything (`make check'
# and the other goals that install first are left to do it).
ifneq ($(filter-out deps check demo bench soak clean deb rpm,$(or $(MAKECMDGOALS),all)),)
MISSING := $(shell command -v $(CC) >/dev/null || echo '$(CC)'; \
	command -v $(PKG_CONFIG) >/dev/null || echo '$(PKG_CONFIG)'; \
	for p in $(PKGS); do $(PKG_CONFIG) --exists $$p 2>/dev/null || echo $$p; done)
ifneq ($(strip $(MISSING)),)
$(error missing: $(strip $(MISSING)); run `make deps` first (as root: it installs them with apt-get), or `make check`, which does)
endif
endif
COMMON_SRC := $(sort $(wildcard common/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
DAEMON_SRC := $(sort $(wildcard daemon/*.c))
BROKER_SRC := $(sort $(wildcard broker/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
# run by `make bench' themselves; the others are tools its scripts start
BENCH_RUN := $(patsubst tests/bench/%.c,$(B)/bench/%,$(sort $(wildcard tests/bench/bench_*.c)))

obj = $(patsubst %.c,$(2)/%.o,$(1))

COMMON_OBJ := $(call obj,$(COMMON_SRC),$(B))
CLI_OBJ := $(call obj,$(CLI_SRC),$(B))
DAEMON_OBJ := $(call obj,$(DAEMON_SRC),$(B))
SAN_DAEMON_OBJ := $(call obj,$(DAEMON_SRC),$(B)/san)
BROKER_OBJ := $(call obj,$(BROKER_SRC),$(B))
SAN_BROKER_OBJ := $(call obj,$(BROKER_SRC),$(B)/san)
SAN_COMMON_OBJ := $(call obj,$(COMMON_SRC),$(B)/san)
SAN_CLI_OBJ := $(call obj,$(CLI_SRC),$(B)/san)
FUZZ_COMMON_OBJ := $(call obj,$(COMMON_SRC),$(B)/fuzz)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRC))

.PHONY: all check deps test fuzz bench soak demo install clean deb rpm
# the objects of the fuzzers and benchmarks, made through pattern chains,
# are kept, named one by one (a bare .SECONDARY would also skip missing
# ones the archive names; make 4.3 deletes them despite a .PRECIOUS
# pattern, and its "rm" line would follow the tests' last)
.SECONDARY: $(patsubst tests/fuzz/%.c,$(B)/fuzz/tests/fuzz/%.o,$(FUZZ_SRC)) \
	$(patsubst tests/bench/%.c,$(B)/tests/bench/%.o,$(BENCH_SRC))
all: $(B)/sbxfw $(B)/sbxfwd $(B)/sbxfw-broker

# --- normal build -----------------------------------------------------------
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(BASE_CFLAGS) $(WARNFLAGS) $(HARDEN) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libsbxfw.a: $(COMMON_OBJ)
	$(call say,AR,$@)$(AR) rcs $@ $^

$(B)/sbxfw: $(CLI_OBJ) $(B)/libsbxfw.a
	$(call say,LD,$@)$(CC) $(HARDEN_LD) -o $@ $^ $(LDLIBS)

$(B)/sbxfwd: $(DAEMON_OBJ) $(B)/libsbxfw.a
	$(call say,LD,$@)$(CC) $(HARDEN_LD) -o $@ $^ $(LDLIBS)

$(B)/sbxfw-broker: $(BROKER_OBJ) $(B)/libsbxfw.a
	$(call say,LD,$@)$(CC) $(HARDEN_LD) -o $@ $^ $(LDLIBS)

# --- ASan/UBSan build for the tests ----------------------------------------
$(B)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(BASE_CFLAGS) $(WARNFLAGS) $(SAN) -O1 -g -MMD -MP -c -o $@ $<

$(B)/san/libsbxfw.a: $(SAN_COMMON_OBJ)
	$(call say,AR,$@)$(AR) rcs $@ $^

$(B)/san/sbxfw: $(SAN_CLI_OBJ) $(B)/san/libsbxfw.a
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(B)/san/sbxfwd: $(SAN_DAEMON_OBJ) $(B)/san/libsbxfw.a
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

$(B)/san/sbxfw-broker: $(SAN_BROKER_OBJ) $(B)/san/libsbxfw.a
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# the daemon's modules too, without its main()
$(B)/san/unit-tests: $(call obj,$(UNIT_SRC),$(B)/san) \
		$(filter-out %/sbxfwd.o,$(SAN_DAEMON_OBJ)) $(B)/san/libsbxfw.a
	$(call say,LD,$@)$(CC) $(SAN) -o $@ $^ $(LDLIBS)

# a tool of the e2e tests: a system call made by the daemon, by ptrace
$(B)/tests/inject_syscall: tests/e2e/inject_syscall.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(WARNFLAGS) $(HARDEN) $(CFLAGS) $(HARDEN_LD) -o $@ $<

# --- libFuzzer harnesses (clang) -------------------------------------------
$(B)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CLANG,$@)$(CLANG) $(BASE_CFLAGS) $(WARNFLAGS) -Wno-unused-command-line-argument -Wno-missing-field-initializers $(FUZZ_SAN) -fsanitize=fuzzer-no-link -O1 -g -MMD -MP -c -o $@ $<

$(B)/fuzz/libsbxfw.a: $(FUZZ_COMMON_OBJ)
	$(call say,AR,$@)$(AR) rcs $@ $^

$(B)/fuzz/%: $(B)/fuzz/tests/fuzz/%.o $(B)/fuzz/libsbxfw.a
	$(call say,LD,$@)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BIN)

# --- benchmarks --------------------------------------------------------------
$(B)/bench/%: $(B)/tests/bench/%.o $(B)/libsbxfw.a
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(HARDEN_LD) -o $@ $^ $(LDLIBS)

# deps first, then a second make: pkg-config must see the libraries
bench:
	@scripts/install-deps --bench
	@$(MAKE) --no-print-directory all $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
	@for b in $(BENCH_RUN); do $$b || exit 1; done
	@tests/bench/bench_datapath.sh
	@tests/bench/bench_broker.sh
	@tests/bench/bench_quic.sh
	@tests/bench/bench_journal.sh

# every load at once for SOAK_MINUTES (default 10) against one daemon, the
# release build (SOAK_BUILD=san: the sanitizers'); deps first, as bench
SOAK_BINS = $(if $(filter san,$(SOAK_BUILD)),$(B)/san/sbxfw $(B)/san/sbxfwd $(B)/san/sbxfw-broker,all)
soak: deps
	@$(MAKE) --no-print-directory $(SOAK_BINS)
	@tests/soak/soak.sh

# --- tests -------------------------------------------------------------------
deps:
	@scripts/install-deps

# check installs what is missing, then builds in a second make so that
# pkg-config sees the freshly installed libraries.
check: deps
	@$(MAKE) --no-print-directory -j2 test

test: all $(B)/san/sbxfw $(B)/san/sbxfwd $(B)/san/sbxfw-broker $(B)/san/unit-tests fuzz \
		$(B)/tests/inject_syscall
	@tests/run

# A sandbox namespace behind sbxfwd: an allowed and a denied request.
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

install: all
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 $(B)/sbxfw $(DESTDIR)$(SBINDIR)/sbxfw
	install -m 0755 $(B)/sbxfwd $(DESTDIR)$(SBINDIR)/sbxfwd
	install -d $(DESTDIR)$(LIBEXECDIR)/sbxfw
	install -m 0755 $(B)/sbxfw-broker $(DESTDIR)$(LIBEXECDIR)/sbxfw/sbxfw-broker
	install -d $(DESTDIR)$(SYSCONFDIR)/sbxfw
	install -m 0644 etc/sbxfw.ini $(DESTDIR)$(SYSCONFDIR)/sbxfw/sbxfw.ini
	install -d $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 man/sbxfw.ini.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/sbxfw.8 man/sbxfwd.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(COMPLETIONDIR)
	install -m 0644 etc/sbxfw.bash-completion $(DESTDIR)$(COMPLETIONDIR)/sbxfw
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	sed 's|/usr/sbin/sbxfwd|$(SBINDIR)/sbxfwd|' etc/sbxfwd.service \
		>$(DESTDIR)$(UNITDIR)/sbxfwd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/sbxfwd.service
	install -m 0644 etc/sbxfw.sysusers $(DESTDIR)$(SYSUSERSDIR)/sbxfw.conf
	install -d -m 0750 $(DESTDIR)$(LOCALSTATEDIR)/lib/sbxfw
	install -d $(DESTDIR)$(DATADIR)/sbxfw/monitoring
	install -m 0644 etc/monitoring/sbxfw-alerts.yml \
		etc/monitoring/sbxfw-dashboard.json $(DESTDIR)$(DATADIR)/sbxfw/monitoring/

# Packages, built from a copy of the tree: sbxfw_VERSION_ARCH.deb and
# sbxfw-VERSION-1.ARCH.rpm land here. DEB_VERSION / RPM_VERSION: another
# version (a rebuild for an upgrade test).
deb: deps
	@scripts/build-deb $(if $(DEB_VERSION),$(DEB_VERSION),$(VERSION))

rpm: deps
	@scripts/build-rpm $(if $(RPM_VERSION),$(RPM_VERSION),$(VERSION))

clean:
	rm -rf $(B)

-include $(shell find $(B) \( -path $(B)/deb -o -path $(B)/rpm \) -prune -o -name '*.d' -type f -print 2>/dev/null)
