# relayguard — build, run, test. See README.md.
CC      ?= cc
BUILD   ?= build
PKGS     = libevent libevent_openssl libssl libcrypto libcares libmicrohttpd libidn2 zlib \
           libgsasl sqlite3 libcap libgit2 hiredis ldns jansson
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wno-missing-field-initializers $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
override LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
PYTEST   = /usr/bin/python3 -m pytest
CONF    ?= etc/relayguard.conf

LIB_SRC  = $(filter-out src/main.c,$(wildcard src/*/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 60

.PHONY: all deps test-deps run test unit integration asan fuzz fuzz-build fuzz-long bench clean \
        format install install-user uninstall

# make install: PREFIX for the program, unit and docs; the config goes to SYSCONFDIR (/etc, as
# packagers expect, whatever the PREFIX); DESTDIR is prepended to every path (staged installs).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
SBINDIR    ?= $(PREFIX)/sbin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/relayguard
DOCS        = README.md docs/config.md docs/operations.md docs/design.md
INSTALL_BIN ?= $(BUILD)/relayguard

all: deps $(BUILD)/relayguard

deps:
	@sh scripts/deps.sh build
test-deps:
	@sh scripts/deps.sh test

$(BUILD)/%.o: %.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/librelayguard.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/relayguard: $(BUILD)/src/main.o $(BUILD)/librelayguard.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(BUILD)/librelayguard.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(BUILD)/librelayguard.a $(LDLIBS)

# The self-signed certificate of the embedded default config (etc/relayguard.conf): made once,
# key readable by its owner only (made by root: and by the group relayguard, since serve drops
# to that user and a reload reads the key again). Replace both files with a real certificate
# for production.
TLS_CERT = var/tls/relayguard.crt
TLS_KEY  = var/tls/relayguard.key
$(TLS_CERT):
	@mkdir -p $(dir $@)
	umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	  -days 825 -subj "/CN=relayguard.localhost" \
	  -addext "subjectAltName=DNS:relayguard.localhost,DNS:localhost" \
	  -keyout $(TLS_KEY) -out $@.tmp 2>/dev/null
	chmod 0600 $(TLS_KEY) && chmod 0644 $@.tmp && mv $@.tmp $@
	@if [ "$$(id -u)" -eq 0 ] && getent group relayguard >/dev/null; then \
	  chgrp relayguard $(dir $@) $(TLS_KEY) && chmod 0750 $(dir $@) && chmod 0640 $(TLS_KEY); fi

run: all $(TLS_CERT)
	$(BUILD)/relayguard serve -c $(CONF)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: $(BUILD)/relayguard $(TLS_CERT)
	RELAYGUARD_BIN=$(abspath $(BUILD)/relayguard) $(PYTEST) -q -x tests/integration

test: test-deps
	$(MAKE) unit integration

# The same suite with AddressSanitizer + UndefinedBehaviorSanitizer.
asan: test-deps
	RELAYGUARD_SANITIZED=1 $(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" unit integration

# libFuzzer targets (clang, ASan + UBSan), each run for FUZZ_SECONDS from its seed corpus.
# FUZZ_TARGETS picks some (make fuzz FUZZ_TARGETS="fuzz_auth fuzz_dns"). fuzz-long is the
# campaign (fuzz/campaign.sh: FUZZ_RUNS executions per target, totals kept in fuzz/campaign.tsv).
FUZZ_TARGETS ?= $(FUZZ_SRC:fuzz/%.c=%)
FUZZ_BIN = $(FUZZ_TARGETS:%=build-fuzz/%)
FUZZ_CFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
  -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_RUNS ?= 100000000

fuzz-build: test-deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" \
	  build-fuzz/librelayguard.a
	@$(MAKE) --no-print-directory $(FUZZ_BIN)

build-fuzz/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h build-fuzz/librelayguard.a
	clang -std=c11 -D_GNU_SOURCE $(subst fuzzer-no-link,fuzzer,$(FUZZ_CFLAGS)) -Isrc -o $@ $< \
	  build-fuzz/librelayguard.a $(LDLIBS)

fuzz: fuzz-build
	@set -e; for n in $(FUZZ_TARGETS); do mkdir -p fuzz/corpus-run/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=4096 fuzz/corpus-run/$$n \
	    fuzz/corpus/$$n; done

fuzz-long: fuzz-build
	bash fuzz/campaign.sh $(FUZZ_RUNS) $(FUZZ_TARGETS)

bench: all
	bash bench/run.sh

format:
	clang-format -i src/*/*.c src/*/*.h src/main.c tests/unit/*.c tests/unit/*.h fuzz/*.c

# The binary, `sendmail` and `mailq` as links to it (it will act on the name it is called by),
# the example config only if there is none, the systemd unit, the docs. INSTALL_BIN: install an
# already built binary as it is (no rebuild).
install: $(INSTALL_BIN)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/relayguard
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(SBINDIR)/relayguard
	ln -sf relayguard $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf relayguard $(DESTDIR)$(SBINDIR)/mailq
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/relayguard/relayguard.conf ]; then \
	  echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/relayguard/relayguard.conf"; \
	else install -m 0644 etc/relayguard.system.conf \
	  $(DESTDIR)$(SYSCONFDIR)/relayguard/relayguard.conf; fi
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/relayguard/dnsbl-lists ]; then \
	  echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/relayguard/dnsbl-lists"; \
	else install -m 0644 etc/dnsbl-lists $(DESTDIR)$(SYSCONFDIR)/relayguard/dnsbl-lists; fi
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	  -e 's|@DOCDIR@|$(DOCDIR)|g' etc/relayguard.service.in \
	  > $(DESTDIR)$(UNITDIR)/relayguard.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/relayguard.service
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)
	@$(MAKE) -s install-user

# The system user `relayguard serve` becomes when started as root (docs/design.md, "Privilege
# separation"): created if missing, as scripts/deps.sh does. A staged install (DESTDIR) leaves it
# to the package's postinst. uninstall never removes it (files may still belong to it).
RUN_USER_ADD = useradd --system --home-dir /nonexistent --no-create-home \
	--shell /usr/sbin/nologin --user-group relayguard
install-user:
	@if [ -n "$(DESTDIR)" ]; then \
	  echo "install: staged install: the package must create the user: $(RUN_USER_ADD)"; \
	elif getent passwd relayguard >/dev/null; then :; \
	elif [ "$$(id -u)" -eq 0 ]; then $(RUN_USER_ADD) && \
	  echo "install: created the system user relayguard"; \
	else echo "install: not root: create the system user as root: $(RUN_USER_ADD)"; fi

# Everything install put there except the config, which is the admin's.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/relayguard $(DESTDIR)$(SBINDIR)/sendmail \
	  $(DESTDIR)$(SBINDIR)/mailq $(DESTDIR)$(UNITDIR)/relayguard.service
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(DOCDIR)
	@echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/relayguard/relayguard.conf is left in place"
	@echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/relayguard/dnsbl-lists is left in place"
	@echo "uninstall: the system user relayguard is left in place (userdel relayguard)"

clean:
	rm -rf build build-asan build-fuzz
