# Build settings shared by every target. Override on the command line:
#   make CFLAGS=-O0 V=1
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
# sbxfwd finds the broker at ../libexec/sbxfw/ from its own directory
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
VERSION := $(shell sed -n 's/^\#define SBXFW_VERSION "\(.*\)"/\1/p' daemon/daemon.h)

CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
PKGS := libnetfilter_queue libmnl libnftnl wolfssl sqlite3 inih libpcap libseccomp \
	jansson libidn2 libmicrohttpd libsystemd

CFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Icommon -Icli -Idaemon \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -pthread
HARDEN_LD := -pie -Wl,-z,relro,-z,now

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif
