# kpiwatch: build, test, bench, install.
#   make                  build ./kpiwatch (in $(BUILDDIR), linked to ./kpiwatch)
#   make test             unit + integration tests, then the same under ASan/UBSan, then valgrind
#   make check            the same as make test
#   make demo             install missing packages, build, run the agent on the demo stream
#   make fuzz             libFuzzer targets under ASan/UBSan, FUZZ_SECONDS (45) each (needs clang)
#   make bench            the agent against a bare floor, memory per series, alert latency,
#                         mad against pandas, per-detector cost (bench/run.sh; BENCH_* to shorten)
#   make accuracy         incidents found and false alarms on simulated CX journeys (the deciding
#                         table), the best possible on them (bench/cx_oracle), then per-interval
#                         accuracy of every detector on labelled series
#   make nab              score of conf/examples/nab.json on the NAB slice, and by leave-one-category-out
#   make install          PREFIX=/usr/local DESTDIR=
#   make deb              $(BUILDDIR)/kpiwatch_VERSION_ARCH.deb, built with dpkg-deb (packaging/debian/)
# Switches: SANITIZE=address,undefined  DEVELOPER=1 (-Werror)  NOOPT=1  BUILDDIR=dir
# Local overrides go in config.mak.

-include config.mak

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share
BUILDDIR   ?= build

CC         ?= cc
CFLAGS     ?= -O2 -g
PKG_CONFIG ?= pkg-config
PKGS       := libzmq libcjson libcurl gsl libcrypto libmicrohttpd rdkafka

# Error texts are deliberately bounded (char err[256]); truncation is fine.
PROJECT_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation \
                  -DKW_VERSION='"$(VERSION)"' -MMD -MP -pthread
ifdef DEVELOPER
PROJECT_CFLAGS += -Werror
endif
ifdef NOOPT
CFLAGS := -O0 -g
endif
ifdef SANITIZE
PROJECT_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
PROJECT_LDFLAGS += -fsanitize=$(SANITIZE)
endif

DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm
# The detector library needs only the statistics and JSON libraries.
DET_LIBS   := $(shell $(PKG_CONFIG) --libs gsl libcjson 2>/dev/null) -lm
CRIT_LIBS  := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

ALL_CFLAGS  = $(PROJECT_CFLAGS) $(DEP_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(PROJECT_LDFLAGS) -pthread $(LDFLAGS)

LIB_SRCS  := $(wildcard lib/*.c)
CORE_SRCS := $(LIB_SRCS) $(filter-out agent/main.c,$(wildcard agent/*.c)) $(wildcard detectors/*.c) $(wildcard notifiers/*.c)
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILDDIR)/%.o)
MAIN_OBJ  := $(BUILDDIR)/agent/main.o
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILDDIR)/%.o)
DELIV_SRCS := $(wildcard tests/delivery/*.c)
DELIV_OBJS := $(DELIV_SRCS:%.c=$(BUILDDIR)/%.o)
INTEG_SRCS := $(wildcard tests/integration/*.c)
INTEG_OBJS := $(INTEG_SRCS:%.c=$(BUILDDIR)/%.o) $(BUILDDIR)/tests/delivery/fake.o
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILDDIR)/bench/%)

# The detector library alone, so detectors can be built and tested without the agent.
DET_SRCS   := $(LIB_SRCS) $(wildcard detectors/*.c)
DET_OBJS   := $(DET_SRCS:%.c=$(BUILDDIR)/%.o)
DET_TEST_SRCS := $(wildcard tests/unit/test_detector*.c)
DET_TEST_OBJS := $(DET_TEST_SRCS:%.c=$(BUILDDIR)/%.o)

BIN        := $(BUILDDIR)/kpiwatch
LIB        := $(BUILDDIR)/libkpiwatch.a

.PHONY: all deps test-deps test check test-plain demo bench accuracy nab install uninstall clean options-doc deb

all: $(BIN) kpiwatch

kpiwatch: $(BIN)
	@ln -sf $(BIN) kpiwatch

deps:
	@sh packaging/install-deps.sh

# What only the tests use as well (promtool, Chromium, playwright-core, rpmspec).
test-deps:
	@sh packaging/install-deps.sh test

$(BUILDDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(DEP_LIBS)

$(BUILDDIR)/unit-tests: $(UNIT_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(LIB) $(DEP_LIBS) $(CRIT_LIBS)

$(BUILDDIR)/libdetectors.a: $(DET_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILDDIR)/detector-tests: $(DET_TEST_OBJS) $(BUILDDIR)/libdetectors.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(DET_TEST_OBJS) $(BUILDDIR)/libdetectors.a $(DET_LIBS) $(CRIT_LIBS)

# Notifiers and the dispatcher against local receivers (tests/receivers/).
$(BUILDDIR)/delivery-tests: $(DELIV_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(DELIV_OBJS) $(LIB) $(DEP_LIBS) $(CRIT_LIBS)

$(BUILDDIR)/integration-tests: $(INTEG_OBJS) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(INTEG_OBJS) $(LIB) $(DEP_LIBS) $(CRIT_LIBS)

# bench/det_*.c need only the detector library; the other benches link the agent.
$(BUILDDIR)/bench/det_%: bench/det_%.c $(BUILDDIR)/libdetectors.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILDDIR)/libdetectors.a $(DET_LIBS)

$(BUILDDIR)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(DEP_LIBS)

# libFuzzer targets (tests/fuzz/), built with clang in their own directory
# and run one after another (FUZZ_JOBS at a time) for FUZZ_SECONDS each on a
# scratch copy of their seed corpus. Fails on any crash, leak, timeout or
# sanitizer report and prints the reproducer. make fuzz FUZZ_TARGETS=fuzz_csv
FUZZ_CC       ?= clang
FUZZ_BUILDDIR ?= build-fuzz
FUZZ_SECONDS  ?= 45
FUZZ_JOBS     ?= 1
FUZZ_TARGETS  ?= fuzz_point fuzz_csv fuzz_config fuzz_state fuzz_lineproto fuzz_history

$(BUILDDIR)/fuzz_%: $(BUILDDIR)/tests/fuzz/fuzz_%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB) $(DEP_LIBS)
.PRECIOUS: $(BUILDDIR)/tests/fuzz/%.o

.PHONY: fuzz fuzz-build
fuzz: fuzz-build
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh tests/fuzz/run.sh $(FUZZ_BUILDDIR) {} $(FUZZ_SECONDS)

# The library with coverage instrumentation; DEVELOPER is off because clang
# does not know every GCC warning flag.
fuzz-build:
	@$(MAKE) --no-print-directory BUILDDIR=$(FUZZ_BUILDDIR) CC=$(FUZZ_CC) CFLAGS="-O1 -g -Wno-unknown-warning-option" DEVELOPER= \
	    SANITIZE=fuzzer-no-link,address,undefined $(FUZZ_TARGETS:%=$(FUZZ_BUILDDIR)/%)

# The README's test command: installs missing packages, then runs every suite.
test: test-deps
	@bash tests/run-all.sh

check: test

# One suite in one build directory (used by tests/run-all.sh).
test-plain: $(BIN) $(BUILDDIR)/unit-tests $(BUILDDIR)/delivery-tests $(BUILDDIR)/integration-tests $(BUILDDIR)/bench/det_accuracy

demo: deps
	@$(MAKE) --no-print-directory all
	./kpiwatch demo -c conf/kpiwatch.json

bench:
	@sh packaging/install-deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@bash bench/run.sh $(BUILDDIR)

accuracy: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@bash bench/accuracy.sh $(BUILDDIR)

# NAB score of the documented backtest config (needs ../shared/data/nab or NAB_DIR),
# then the same config judged by leave-one-category-out cross-validation.
nab: deps
	@$(MAKE) --no-print-directory all
	@bash tools/nab-eval.sh conf/examples/nab.json $(BIN)
	@/usr/bin/python3 tools/nab-loco.py --bin $(BIN) --config conf/examples/nab.json

options-doc: $(BIN)
	@$(BIN) options

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/kpiwatch $(DESTDIR)$(DATADIR)/kpiwatch/examples
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/kpiwatch
	@# An existing config is the operator's: never overwrite it. The service
	@# keeps its state where the unit's StateDirectory is, as the packages do.
	test -e $(DESTDIR)$(SYSCONFDIR)/kpiwatch/kpiwatch.json || \
	    sed 's|"state_dir": ""|"state_dir": "/var/lib/kpiwatch"|' conf/kpiwatch.json > $(DESTDIR)$(SYSCONFDIR)/kpiwatch/kpiwatch.json
	install -m 0644 conf/examples/*.json $(DESTDIR)$(DATADIR)/kpiwatch/examples/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/bin|$(BINDIR)|g' packaging/systemd/kpiwatch.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/kpiwatch.service
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/doc/kpiwatch
	install -m 0644 packaging/man/kpiwatch.1 $(DESTDIR)$(MANDIR)/man1/kpiwatch.1
	install -m 0644 README.md $(DESTDIR)$(DATADIR)/doc/kpiwatch/README.md

# A binary package with dpkg-deb: binary, conffile, hardened unit, man page, README, examples.
deb: $(BIN)
	@sh packaging/debian/build-deb.sh $(BIN) $(VERSION) $(BUILDDIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/kpiwatch $(DESTDIR)$(PREFIX)/lib/systemd/system/kpiwatch.service \
	      $(DESTDIR)$(MANDIR)/man1/kpiwatch.1
	rm -rf $(DESTDIR)$(DATADIR)/kpiwatch $(DESTDIR)$(DATADIR)/doc/kpiwatch

clean:
	rm -rf $(BUILDDIR) build build-* kpiwatch

-include $(CORE_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJS:.o=.d) $(INTEG_OBJS:.o=.d) $(DELIV_OBJS:.o=.d)
-include $(wildcard $(BUILDDIR)/tests/fuzz/*.d)
-include $(wildcard $(BUILDDIR)/bench/*.d)
