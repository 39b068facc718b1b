# netdx — GNU make.  `make help` lists the targets.
#
# Variables: PREFIX (/usr/local), DESTDIR, BUILD (build), CC, NO_OMP=1
# (build without OpenMP), WERROR=1 (warnings are errors), DICOM=0 (build
# without the DICOM reader; on by default when DCMTK's headers are there).

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CROSS   ?= aarch64-linux-gnu-
QEMU    ?= qemu-aarch64-static

MACHINE := $(shell $(CC) -dumpmachine)
VERSION := $(shell sed -n 's/^\#define NDX_VERSION "\(.*\)"/\1/p' include/netdx.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libnetdx.so.$(SOMAJOR)

CFLAGS  ?= -O2 -g
# -fvisibility=hidden: the shared library exports what include/*.h declares
# (their visibility push/pop) and nothing else (tests/check_exports.py).
CFLAGS  += -std=c11 -Wall -Wextra -fPIC -fvisibility=hidden -MMD -MP
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Iinclude
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifneq ($(NO_OMP),1)
CFLAGS  += -fopenmp
LDFLAGS += -fopenmp
endif
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# FUZZ=1 (set by `make fuzz`): coverage for libFuzzer and the sanitizers.
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
endif
ifeq ($(STATIC),1)
LDFLAGS += -static
endif
.DEFAULT_GOAL := all

# MPI (docs/mpi.md): on when mpicc is found; MPI=1 forces it, MPI=0 turns
# it off.  Only tools/mpi.c (in the netdx binary) sees it, never the library.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := -DNDX_MPI $(shell mpicc --showme:compile)
MPI_LIBS   := $(shell mpicc --showme:link)
endif
# DICOM (docs/data.md): src/io/dicom.cc, the one C++ file, a shim over
# DCMTK (libdcmtk-dev) with a C interface; on when DCMTK's headers are
# found, DICOM=0 leaves it out (a .dcm file is then refused clearly).
DICOM ?= $(if $(wildcard /usr/include/dcmtk/dcmdata/dctk.h),1,0)
DICOM_LIBS := -ldcmjpls -ldcmjpeg -ldcmimgle -ldcmdata -loflog -lofstd -lstdc++
ifeq ($(DICOM),1)
LDLIBS  += $(DICOM_LIBS)
endif
LDLIBS  += -lpng16 -lz -lcjson -lxxhash -lmicrohttpd -lsqlite3 -lpthread -lm
CHECK_LIBS = -lcheck -lsubunit -lrt -lpthread -lm

# ---- sources ---------------------------------------------------------------
# kernels/*.c: dispatch and the code every set shares (the plans).
KERNEL_SRC := $(wildcard kernels/*.c) $(wildcard kernels/ref/*.c)
ifneq ($(findstring x86_64,$(MACHINE)),)
KERNEL_SRC += $(wildcard kernels/avx2/*.c) $(wildcard kernels/avx512/*.c)
endif
ifneq ($(findstring aarch64,$(MACHINE)),)
KERNEL_SRC += $(wildcard kernels/neon/*.c)
endif
LIB_SRC  := $(KERNEL_SRC) $(wildcard src/*/*.c)
# Files the library carries inside it (tools/embed.sh): the lexicon and
# every stage's pages, looked up by path with ndx__asset().
ASSETS   := $(sort $(wildcard data/*.json) $(wildcard src/*/assets/*))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/assets.o
ifeq ($(DICOM),1)
LIB_OBJ  += $(BUILD)/src/io/dicom.o
endif
CLI_SRC  := $(wildcard tools/*.c)
TEST_SRC := $(wildcard tests/check_*.c)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# The kernel suites, also cross-built for check-neon.
KTEST_SRC := tests/check_kernels.c tests/check_golden.c tests/check_ref.c tests/check_conv.c \
             tests/check_simd.c

# Per-directory flags: the oracle without contraction, ISA flags only on
# the ISA's own files.
$(BUILD)/kernels/ref/%.o:  XFLAGS := -ffp-contract=off
$(BUILD)/kernels/bilinear-plan.o: XFLAGS := -ffp-contract=off
$(BUILD)/kernels/resize-aa-plan.o: XFLAGS := -ffp-contract=off
$(BUILD)/kernels/avx2/%.o: XFLAGS := -mavx2 -mfma
$(BUILD)/kernels/avx512/%.o: XFLAGS := -mavx2 -mfma -mavx512f -mavx512bw -mavx512dq -mavx512vl
# The Winograd transforms are plain C loops left to the vectorizer (baseline
# ISA, no contraction: results equal the scalar loops').
ifneq ($(FUZZ),1)   # gcc's flags; the clang build for fuzzing goes without
$(BUILD)/src/core/winograd.o: XFLAGS := -ftree-vectorize -fvect-cost-model=dynamic
endif

# The DICOM shim: the C flags but for the language standard; image.c knows
# whether it is there; a change of DICOM= rebuilds image.o.  The fuzzing
# build links with clang, whose C++ part of UBSan (vptr) it would lack.
$(BUILD)/src/io/dicom.o: src/io/dicom.cc Makefile
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(filter-out -std=%,$(CFLAGS)) -std=c++17 -fvisibility-inlines-hidden \
	  $(if $(filter 1,$(FUZZ)),-fno-sanitize=vptr) -c $< -o $@
ifeq ($(DICOM),1)
$(BUILD)/src/io/image.o: XFLAGS := -DNDX_DICOM
endif
DICOM_STAMP := $(BUILD)/dicom-$(DICOM).stamp
$(DICOM_STAMP):
	@mkdir -p $(@D) && rm -f $(BUILD)/dicom-*.stamp && touch $@
$(BUILD)/src/io/image.o: $(DICOM_STAMP)

$(BUILD)/tools/mpi.o: XFLAGS := $(MPI_CFLAGS)
# A change of MPI= rebuilds tools/mpi.o and relinks netdx.
MPI_STAMP := $(BUILD)/mpi-$(MPI).stamp
$(MPI_STAMP):
	@mkdir -p $(@D) && rm -f $(BUILD)/mpi-*.stamp && touch $@
$(BUILD)/tools/mpi.o: $(MPI_STAMP)

# ---- targets -----------------------------------------------------------------
.PHONY: all lib check check-tree check-asan check-neon check-torch check-browser bench demo \
        install uninstall install-test clean deps help run-tests fuzz fuzz-regress fuzz-bin

all: lib $(BUILD)/netdx

lib: $(BUILD)/libnetdx.a $(BUILD)/libnetdx.so

# Objects depend on the Makefile: a change of flags (e.g. -fvisibility)
# rebuilds them.
$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(XFLAGS) -c $< -o $@

$(BUILD)/gen/assets.c: $(ASSETS) tools/embed.sh
	@mkdir -p $(@D)
	tools/embed.sh $(ASSETS) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c Makefile
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libnetdx.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# The shared library laid out as `make install` lays it out, so a program
# linked against build/ finds its SONAME there: libnetdx.so.$(VERSION), and
# libnetdx.so.$(SOMAJOR) and libnetdx.so linking to it.
$(BUILD)/libnetdx.so.$(VERSION): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/$(SONAME): $(BUILD)/libnetdx.so.$(VERSION)
	ln -sf libnetdx.so.$(VERSION) $@
$(BUILD)/libnetdx.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/netdx: $(CLI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libnetdx.a
	$(CC) $(LDFLAGS) $(filter %.o %.a,$^) -o $@ $(LDLIBS) $(MPI_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libnetdx.a
	$(CC) $(LDFLAGS) $^ -o $@ $(CHECK_LIBS) $(LDLIBS)
$(BUILD)/tests/%.o: CPPFLAGS += -Ikernels -Itests

# Every suite, once with the kernel set chosen for this CPU and once with
# NETDX_KERNELS=ref; then the kernel suites under every other set this CPU
# runs (avx2 where avx512 is the default); tests/run.sh totals Check's
# summaries.
run-tests: $(TESTS) $(BUILD)/netdx   # check_cli runs the netdx beside it
	@tests/run.sh --kernels "default ref" $(TESTS)
	@best=$$(env -u NETDX_KERNELS $(BUILD)/netdx info | sed -n 's/^kernels: //p'); \
	sets=$$(env -u NETDX_KERNELS $(BUILD)/netdx info | \
	  sed -n 's/^set \([a-z0-9]*\) *runs:.*/\1/p' | grep -vx -e ref -e "$$best" | tr '\n' ' '); \
	if [ -n "$$sets" ]; then tests/run.sh --kernels "$$sets" $(KTEST_SRC:tests/%.c=$(BUILD)/tests/%); fi

check:
	@tools/install-deps.sh build mpi
	@$(MAKE) --no-print-directory all $(TESTS)
	@$(MAKE) --no-print-directory run-tests
	@$(MAKE) --no-print-directory check-tree

# Checks of the build and the source tree, each printing "<name>: N passed,
# M failed": the shared library exports exactly include/*.h; a program linked
# against build/ (not installed) starts and runs; includes follow the layer
# table of docs/layers.md; no function or file past its size bound
# (tests/size-allow.txt lists today's exceptions).
check-tree: $(BUILD)/libnetdx.so
	@/usr/bin/python3 tests/check_exports.py $(BUILD)/libnetdx.so
	@$(CC) $(CPPFLAGS) tests/install/use_sgemm.c -o $(BUILD)/use_sgemm_tree \
	  -L$(BUILD) -lnetdx && LD_LIBRARY_PATH=$(BUILD) $(BUILD)/use_sgemm_tree && \
	  echo "build-tree link: 1 passed, 0 failed"
	@/usr/bin/python3 tests/check_layers.py
	@/usr/bin/python3 tests/check_sizes.py tests/size-allow.txt

check-asan:
	@tools/install-deps.sh build mpi
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 run-tests

# libFuzzer harnesses, one per loader (fuzz/fuzz_*.c, docs/reliability.md):
# the library built again with clang, -fsanitize=fuzzer-no-link,address,
# undefined in $(FUZZ_BUILD).  `make fuzz` runs each for FUZZ_SECONDS, new
# inputs into $(FUZZ_BUILD)/corpus, crashes into $(FUZZ_BUILD)/crashes;
# `make fuzz-regress` runs each once over fuzz/corpus/NAME and
# fuzz/crashes/NAME.  FUZZERS="fuzz_png fuzz_npy" picks some.
FUZZ_BUILD   ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZERS      ?= $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
fuzz:
	@tools/install-deps.sh build fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang CXX=clang++ NO_OMP=1 FUZZ=1 WERROR=0 fuzz-bin
	@tools/fuzz.sh run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZERS)
fuzz-regress:
	@tools/install-deps.sh build fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang CXX=clang++ NO_OMP=1 FUZZ=1 WERROR=0 fuzz-bin
	@tools/fuzz.sh regress $(FUZZ_BUILD) $(FUZZERS)
fuzz-bin: $(FUZZERS:%=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h $(BUILD)/libnetdx.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ikernels -Itests -DNDX_SRCDIR='"$(CURDIR)"' $(CFLAGS) -fsanitize=fuzzer \
	  $< $(BUILD)/libnetdx.a -o $@ $(LDLIBS)

# The kernel suites, cross-built static for aarch64 (NEON set), under qemu.
NEON_BUILD = build/neon
check-neon:
	@tools/install-deps.sh neon
	@# The kernel suites need neither libpng nor cJSON (Debian ships no static
	@# arm64 cJSON), so they link with the core libraries only.
	@$(MAKE) --no-print-directory BUILD=$(NEON_BUILD) CC=$(CROSS)gcc STATIC=1 DICOM=0 \
	  LDLIBS="-lxxhash -lpthread -lm" \
	  $(KTEST_SRC:tests/%.c=$(NEON_BUILD)/tests/%)
	@# qemu runs aarch64 code several times slower: Check's 4 s per test x 5.
	@CK_TIMEOUT_MULTIPLIER=5 tests/run.sh --kernels "default ref" --wrap $(QEMU) \
	  $(KTEST_SRC:tests/%.c=$(NEON_BUILD)/tests/%)

# arm64 and Debian packages (docs/arm.md).  `make cross ARCH=aarch64`: the
# library (static, shared), the CLI and every suite for arm64 in
# build/aarch64, cross-built as check-neon builds its suites (MPI off), then
# netdx info under qemu.  `make deb [ARCH=aarch64]`: libnetdx0, libnetdx-dev
# and netdx by dpkg-buildpackage from debian/ on a copy of the tree, lintian
# errors fatal, into build/deb/<arch>; `make deb-test [ARCH=aarch64]` unpacks
# them into a scratch root and runs them from there (tools/deb.sh).
ARCH       ?= $(shell dpkg --print-architecture 2>/dev/null)
DEB_ARCH    = $(if $(filter aarch64 arm64,$(ARCH)),arm64,$(ARCH))
DEB_OUT     = build/deb/$(DEB_ARCH)
CROSS_BUILD = build/aarch64
# Debian's aarch64 GCC 12 stops with an internal compiler error in the
# vectorizer on some suites (vect_transform_reduction, tree-vect-loop.cc:7457,
# check_nn_graph.c and check_rank.c): their loops stay scalar.
$(CROSS_BUILD)/tests/%.o: XFLAGS := -fno-tree-vectorize
.PRECIOUS: $(CROSS_BUILD)/tests/%.o
.PHONY: cross deb deb-test
cross:
	@test "$(DEB_ARCH)" = arm64 || { echo "make cross: only ARCH=aarch64" >&2; exit 2; }
	@tools/install-deps.sh cross
	@$(MAKE) --no-print-directory BUILD=$(CROSS_BUILD) CC=$(CROSS)gcc AR=$(CROSS)ar MPI=0 DICOM=0 \
	  all $(TEST_SRC:tests/%.c=$(CROSS_BUILD)/tests/%)
	@out=$$($(QEMU) -L / $(CROSS_BUILD)/netdx info) && printf '%s\n' "$$out" | sed -n 1,2p
deb:
	@tools/install-deps.sh deb $(if $(filter arm64,$(DEB_ARCH)),cross)
	@tools/deb.sh build $(DEB_ARCH) $(DEB_OUT)
deb-test: deb
	@tools/deb.sh test $(DEB_ARCH) $(DEB_OUT)

# The survey pages end to end in Debian's chromium, headless, driven by
# playwright-core (pinned in tests/browser/package-lock.json, installed
# without its install scripts or browser downloads): a survey from
# tests/survey_fixture.c, `netdx survey serve`, a reader's walk through it;
# screenshots in $(BUILD)/screenshots/.
check-browser:
	@tools/install-deps.sh build browser
	@$(MAKE) --no-print-directory $(BUILD)/netdx $(BUILD)/tests/survey_fixture
	@cd tests/browser && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@node tests/browser/survey.mjs $(BUILD)
	@node tests/browser/explain.mjs $(BUILD)

# Benchmarks: bench/<name>.c programs linked with the static library (and
# OpenBLAS, for comparison only); bench/run.sh runs them beside PyTorch and
# writes bench/RESULTS.md.
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))
$(BUILD)/bench/%: bench/%.c $(BUILD)/libnetdx.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ikernels $(CFLAGS) $< $(BUILD)/libnetdx.a -o $@ $(LDFLAGS) -lopenblas $(LDLIBS)

# The six zoo networks at full input size, live against Debian's PyTorch
# (tools/check_torch.py; weights and inputs in a temporary directory).
check-torch:
	@tools/install-deps.sh build golden
	@$(MAKE) --no-print-directory all
	/usr/bin/python3 tools/check_torch.py $(BUILD)/netdx

bench:
	@tools/install-deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCHES)
	@bench/run.sh $(BUILD)

# The main job end to end on the built-in phantom data, into demo/
# (DEMO_OUT=dir to change): synth, patches, train, dissect, and report when
# the survey has left answers.jsonl there.
DEMO_OUT ?= demo
demo:
	@tools/install-deps.sh build mpi
	@$(MAKE) --no-print-directory all
	@tools/demo.sh $(BUILD) $(DEMO_OUT)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/*.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libnetdx.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libnetdx.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libnetdx.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libnetdx.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
	  -e 's|@DICOM_LIBS@|$(if $(filter 1,$(DICOM)),$(DICOM_LIBS))|g' netdx.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/netdx.pc
	install -m 755 $(BUILD)/netdx $(DESTDIR)$(PREFIX)/bin/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(wildcard include/*.h)) $(DESTDIR)$(PREFIX)/lib/libnetdx.a \
	  $(DESTDIR)$(PREFIX)/lib/libnetdx.so $(DESTDIR)$(PREFIX)/lib/$(SONAME) \
	  $(DESTDIR)$(PREFIX)/lib/libnetdx.so.$(VERSION) \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/netdx.pc $(DESTDIR)$(PREFIX)/bin/netdx

# Installs into a scratch prefix, builds tests/install/use_sgemm.c with
# pkg-config against both libraries, runs it, then uninstalls.
install-test:
	@tools/install-deps.sh build mpi
	@rm -rf $(BUILD)/prefix
	@$(MAKE) --no-print-directory install PREFIX=$(CURDIR)/$(BUILD)/prefix >/dev/null
	@export PKG_CONFIG_PATH=$(CURDIR)/$(BUILD)/prefix/lib/pkgconfig; \
	$(CC) tests/install/use_sgemm.c $$(pkg-config --cflags netdx) -o $(BUILD)/use_sgemm \
	  $$(pkg-config --libs netdx) && \
	LD_LIBRARY_PATH=$(CURDIR)/$(BUILD)/prefix/lib $(BUILD)/use_sgemm && \
	$(CC) tests/install/use_sgemm.c $$(pkg-config --cflags netdx) -o $(BUILD)/use_sgemm_static \
	  $$(pkg-config --variable=libdir netdx)/libnetdx.a \
	  $$(pkg-config --static --libs netdx | sed 's/-lnetdx//') && \
	$(BUILD)/use_sgemm_static
	@$(MAKE) --no-print-directory uninstall PREFIX=$(CURDIR)/$(BUILD)/prefix >/dev/null
	@test -z "$$(find $(BUILD)/prefix -type f)" && echo "install-test: 2 passed, 0 failed"

deps:
	tools/install-deps.sh all

clean:
	rm -rf build

help:
	@echo "targets: all check check-tree check-asan check-neon check-torch check-browser bench demo fuzz fuzz-regress install uninstall clean deps cross deb deb-test"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
