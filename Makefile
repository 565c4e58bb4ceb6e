# pam-k8s top-level Makefile.
#   make            build everything into $(O)/ (default build/)
#   make check      install test deps (root, apt-get), build, unit + integration tests,
#                   then unit + in-process tests again under ASan+UBSan, valgrind on NSS, short fuzz
#   make demo       the main job on a self-contained local cluster endpoint
#   make bench      figures
#   make install DESTDIR=...

PREFIX     ?= /usr
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= /lib/$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
PAMDIR     ?= $(LIBDIR)/security
MANDIR     ?= $(PREFIX)/share/man
STOREDIR   ?= /var/lib/k8s-auth
LIBEXECDIR ?= $(PREFIX)/libexec/k8s-auth
VERSION    ?= 0.1.0

O          ?= build
V          ?=
Q          := $(if $(V),,@)
SAN        ?=
CC         ?= gcc

# Signatures are Nettle's (common/jwks.c says why); libcrypto only for
# the tests' independent checks and, loaded on use, x5c and HTTPS (http.c).
PKGS       := jansson yaml-0.1 libssl libcrypto nettle hogweed
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lgmp -ldl -lpthread

WARN       := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes \
              -Wmissing-prototypes -Wno-unused-parameter
DEFS       := -D_GNU_SOURCE -DK8S_VERSION=\"$(VERSION)\" -DK8S_STOREDIR=\"$(STOREDIR)\" \
              -DK8S_HELPER_PATH=\"$(LIBEXECDIR)/k8s-auth-helper\"
ifeq ($(SAN),1)
# GCC leaves float-cast-overflow out of "undefined" (clang does not): named here.
OPT        := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow \
              -fno-sanitize-recover=all
SANLD      := -fsanitize=address,undefined,float-cast-overflow
else
OPT        := -O2 -g -D_FORTIFY_SOURCE=2
SANLD      :=
endif
CFLAGS     ?=
CFLAGS     += -std=gnu11 $(OPT) $(WARN) -fstack-protector-strong -fPIC $(DEFS) -Icommon $(PKG_CFLAGS)
LDFLAGS    += -Wl,-z,relro,-z,now -Wl,--as-needed $(SANLD)

# Code the NSS module may contain: no jansson/curl/OpenSSL/YAML.
NSS_COMMON := $(wildcard common/storefmt.c common/preauth.c common/procstat.c common/trusted.c)
# Code pam_k8s.so may contain besides its own: libc only (the module links
# libc and libpam alone; everything else runs in k8s-auth-helper).
PAM_COMMON := common/util.c common/err.c common/sha256.c common/frame.c common/hproto.c common/pamargs.c
COMMON_SRC := $(filter-out $(NSS_COMMON),$(wildcard common/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
NSSC_OBJ   := $(NSS_COMMON:%.c=$(O)/%.nss.o)
LIBCOMMON  := $(O)/libk8scommon.a

PAM_SRC    := $(wildcard pam_k8s/*.c)
HELPER_SRC := cli/helper_main.c
NSS_SRC    := $(wildcard nss_k8s/*.c)
CLI_SRC    := $(wildcard cli/k8s-auth*.c)
ASKPASS_SRC:= $(wildcard askpass/askpass*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
TESTLIB_SRC:= $(wildcard tests/unit/lib_*.c)
TESTLIB_OBJ:= $(TESTLIB_SRC:%.c=$(O)/%.o)

PAM_SO     := $(O)/pam_k8s.so
NSS_SO     := $(O)/libnss_k8s.so.2
CLI        := $(O)/k8s-auth
ASKPASS    := $(O)/k8s-ssh-askpass
HELPER     := $(O)/k8s-auth-helper

TARGETS    := $(LIBCOMMON) $(CLI) $(HELPER) $(UNIT_BIN)
ifneq ($(PAM_SRC),)
TARGETS    += $(PAM_SO)
endif
ifneq ($(NSS_SRC),)
TARGETS    += $(NSS_SO)
endif
ifneq ($(ASKPASS_SRC),)
TARGETS    += $(ASKPASS)
endif

.SECONDARY:
.PHONY: all check deps test unit integration asan valgrind fuzz fuzz-build demo bench install clean man
all: $(TARGETS)

$(O)/%.o: %.c $(wildcard common/*.h pam_k8s/*.h nss_k8s/*.h cli/*.h askpass/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(O)/%.nss.o: %.c $(wildcard common/*.h nss_k8s/*.h)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ) $(NSSC_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(PAM_SO): $(PAM_SRC:%.c=$(O)/%.o) $(PAM_COMMON:%.c=$(O)/%.o) $(NSSC_OBJ) pam_k8s/pam_k8s.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(filter %.o,$^) -Wl,--version-script=pam_k8s/pam_k8s.map $(LDFLAGS) -lpam

$(HELPER): $(HELPER_SRC:%.c=$(O)/%.o) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIBCOMMON) $(LDFLAGS) -pie $(PKG_LIBS)

$(NSS_SO): $(NSS_SRC:%.c=$(O)/%.nss.o) $(NSSC_OBJ) $(O)/common/sha256.nss.o nss_k8s/nss_k8s.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $(filter %.o,$^) -Wl,-soname,libnss_k8s.so.2 -Wl,--version-script=nss_k8s/nss_k8s.map $(LDFLAGS)

$(CLI): $(CLI_SRC:%.c=$(O)/%.o) $(LIBCOMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIBCOMMON) $(LDFLAGS) -pie $(PKG_LIBS)

$(ASKPASS): $(ASKPASS_SRC:%.c=$(O)/%.o) $(O)/common/sha256.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) -pie

# A test of code outside libk8scommon links that code's objects (never
# #includes its .c): k8s-ssh-askpass's parsers.
$(O)/tests/%: $(O)/tests/unit/%.o $(TESTLIB_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $(filter %.o,$^) $(LIBCOMMON) $(LDFLAGS) $(PKG_LIBS) -lcmocka -lpam

$(O)/tests/test_pam_askpass: $(O)/askpass/askpass_parse.o

# ---------------------------------------------------------------- tests
# `make check` is the README's test command and what .ci/run runs.
check: deps
	$(MAKE) all
	tests/run-all.sh

deps:
	tests/install-deps.sh

unit: all
	tests/run-unit.sh $(O)

integration: all
	tests/run-integration.sh

asan:
	$(MAKE) O=build-asan SAN=1 all
	tests/run-unit.sh build-asan

fuzz-build:
	$(MAKE) -f fuzz/fuzz.mk

FUZZ_SECS ?= 30
fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECS)

demo:
	tests/install-deps.sh
	$(MAKE) all
	tests/demo.sh

bench: all
	bench/run.sh

# What the packages ship, without the unit tests (debian/rules builds those
# only for dh_auto_test); man pages from docs/man/*.scd (scdoc).
install: $(filter-out $(UNIT_BIN),$(TARGETS)) man
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	[ ! -f $(PAM_SO) ] || install -m 0644 $(PAM_SO) $(DESTDIR)$(PAMDIR)/pam_k8s.so
	[ ! -f $(NSS_SO) ] || install -m 0644 $(NSS_SO) $(DESTDIR)$(LIBDIR)/libnss_k8s.so.2
	install -m 0755 $(CLI) $(DESTDIR)$(SBINDIR)/k8s-auth
	install -d $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(HELPER) $(DESTDIR)$(LIBEXECDIR)/k8s-auth-helper
	[ ! -f $(ASKPASS) ] || install -m 0755 $(ASKPASS) $(DESTDIR)$(BINDIR)/k8s-ssh-askpass
	for p in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${p##*.}; install -d $$d && install -m 0644 $$p $$d/ || exit 1; \
	done

MAN_PAGES  := $(patsubst docs/man/%.scd,$(O)/man/%,$(wildcard docs/man/*.scd))
man: $(MAN_PAGES)

$(O)/man/%: docs/man/%.scd
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  SCDOC   $@")
	$(Q)scdoc < $< > $@.tmp && mv $@.tmp $@

clean:
	rm -rf build build-asan build-fuzz
