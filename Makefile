# pdvm build.
#   make              build/pdvm, build/libpdvm.a, build/libpdvm.so
#   make test         all cmocka tests (GPU ones on llvmpipe when no GPU);
#                     make -jN test runs N test binaries at a time (or TEST_JOBS=N)
#   make test-cpu     the CPU-side tests only (what SANITIZE=1 runs in CI)
#   make SANITIZE=1   ASan + UBSan build under build/san
#   make demo         generate text from $(MODEL)
#   make bench        the benchmark suite (build/bench.jsonl)
#   make fuzz         libFuzzer target for the GGUF reader and binder (clang)
#   make fuzz-chat    libFuzzer target for the chat templates (clang)
#   make fuzz-tok     libFuzzer target for tokenize + detokenize of every vocabulary
#   make fuzz-serve   libFuzzer target for pdvm serve's request parser
#   make test-serve-load   pdvm serve under load for 2 minutes, ASan build
#   make install PREFIX=/usr/local
#   make test-zink    the GPU tests on Mesa's zink (OpenGL on Vulkan) over lavapipe
#   make CROSS=aarch64-linux-gnu (or ARCH=arm64)   cross-build under build/aarch64-linux-gnu
#   make deps-arm64   the Debian packages for that (arm64 libraries, cross gcc, qemu)
#   make test-arm64   every test, built for arm64, under qemu-aarch64-static
#   make deb [ARCH=arm64]   a Debian package (build/deb/pdvm_<version>_<arch>.deb)
# `test` and `demo` first run `deps`, which installs missing Debian packages
# (or prints the exact apt-get line when it cannot).

PREFIX   ?= /usr/local
MODEL    ?= ../shared/models/stories260K.gguf
SANITIZE ?= 0

# ---- Cross-building ---------------------------------------------------------
# CROSS=<GNU triplet> (or ARCH=<Debian architecture>) builds the target code
# with $(CROSS)-gcc under build/<triplet>, the build machine's tools (the
# shader embedder) with $(HOST_CC), and reads the target's .pc files from
# its multiarch folder. The usual variables do the same by hand:
#   make CC=aarch64-linux-gnu-gcc AR=aarch64-linux-gnu-ar BUILD=build/arm64 \
#        PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
# Tests of a cross build run through $(RUNNER) (see test-arm64).
HOST_CC ?= cc
ifneq ($(filter command line environment,$(origin ARCH)),)
ifneq ($(ARCH),$(shell dpkg --print-architecture))
CROSS ?= $(shell dpkg-architecture -a$(ARCH) -qDEB_HOST_MULTIARCH 2>/dev/null)
ifeq ($(CROSS),)
$(error ARCH=$(ARCH) is not a Debian architecture (dpkg-architecture -L lists them))
endif
endif
endif
ifneq ($(CROSS),)
ifeq ($(origin CC),default)
CC := $(CROSS)-gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS)-ar
endif
PKG_CONFIG ?= PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS)/pkgconfig:/usr/share/pkgconfig pkg-config
BUILD      ?= build/$(CROSS)
RUNNER     ?= qemu-$(firstword $(subst -, ,$(CROSS)))-static
endif
# On make's command line it would not reach $(shell) (make 4.3).
ifeq ($(origin PKG_CONFIG_LIBDIR),command line)
PKG_CONFIG ?= env PKG_CONFIG_LIBDIR=$(PKG_CONFIG_LIBDIR) pkg-config
endif
PKG_CONFIG ?= pkg-config
# ---- end of cross-building ----------------------------------------------------

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS :=
endif

PKGS      := egl glesv2 gbm libdrm json-c libpcre2-8
TEST_PKGS := cmocka
# pdvm serve only (the tool and the server tests link it; libpdvm does not).
SERVE_PKGS := libmicrohttpd json-c
DEPS_DEB  := libegl-dev libgles-dev libgbm-dev libdrm-dev libcmocka-dev libjson-c-dev \
             libpcre2-dev libmicrohttpd-dev libegl-mesa0 libgl1-mesa-dri pkg-config
# Programs the server and chat tests drive (an HTTP client, a terminal).
TEST_TOOLS_DEB := curl tmux

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)
SERVE_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(SERVE_PKGS) 2>/dev/null)
SERVE_LIBS   := $(shell $(PKG_CONFIG) --libs $(SERVE_PKGS) 2>/dev/null)

OPT     ?= -O2 -g
# Include paths follow the layers (DESIGN.md): platform/ sees only the
# public header, the engine (src/) everything below it, so a back-edge does
# not compile. The library exports only what pdvm.h marks PDVM_API.
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE $(OPT) -Wall -Wextra -Werror -fPIC \
               $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP $(EXTRA_CFLAGS)
CFLAGS  := $(BASE_CFLAGS) -fvisibility=hidden -Iinclude -Isrc -Isrc/bench -Iplatform -I$(BUILD)/gen
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)
LDLIBS  := $(PKG_LIBS) -lm -lpthread

LIB_SRC  := $(wildcard src/*.c) $(wildcard src/bench/*.c) $(wildcard platform/*.c)
CLI_SRC  := $(wildcard src/cli/*.c)
SERVE_SRC := $(wildcard src/server/*.c)
GEN_SRC  := $(BUILD)/gen/shaders.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/shaders.o
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SERVE_OBJ := $(SERVE_SRC:%.c=$(BUILD)/obj/%.o)
SHADERS  := $(wildcard glsl/*.comp) $(wildcard glsl/*.glsl)

# tests/test_*.c are one binary each; other tests/*.c are shared helpers.
# test_gl_*, test_gpu_* and test_*_gpu need an OpenGL ES context (llvmpipe is enough).
TEST_SRC   := $(filter-out tests/test_util.c,$(wildcard tests/test_*.c))
TEST_UTIL  := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UOBJ  := $(TEST_UTIL:%.c=$(BUILD)/obj/%.o)
GPU_TESTS  := $(filter $(BUILD)/tests/test_gl_% $(BUILD)/tests/test_gpu_% $(BUILD)/tests/test_%_gpu,$(TEST_BIN))
# tests/tools/*.c: programs over the test helpers (model writers), built
# with the tests so they keep compiling.
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
CPU_TESTS  := $(filter-out $(GPU_TESTS),$(TEST_BIN))

# Test binaries run TEST_JOBS at a time (default: make's -j), the slowest
# first (CPU time on llvmpipe, most first) so that parallel jobs end
# together; tests/run_tests.sh prints each one's output whole.
TEST_JOBS  ?= $(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),1)
SLOW_TESTS := test_arch_gpu test_gpu_types test_gpu_batch test_gpu_batch_seq test_gpu_e2e \
              test_gpu_matmul test_gpu_session_seq test_gpu_kernels test_gl_cli_info test_gpu_mem \
              test_arch_cpu test_gpu_perplexity test_golden
slow_first  = $(foreach t,$(SLOW_TESTS),$(filter %/$(t),$(1))) \
              $(filter-out $(addprefix %/,$(SLOW_TESTS)),$(1))
RUN_TESTS   = PDVM_TEST_JOBS=$(TEST_JOBS) tests/run_tests.sh

# Objects of test binaries are intermediate in the pattern chain; keep them
# (faster rebuilds, and no `rm` lines after the test summary).
.SECONDARY:

.PHONY: all deps check-pkgs test test-run test-cpu demo demo-run bench bench-run fuzz \
        fuzz-chat fuzz-tok fuzz-serve install clean
all: check-pkgs $(BUILD)/pdvm $(BUILD)/libpdvm.a $(BUILD)/libpdvm.so

check-pkgs:
	@$(PKG_CONFIG) --exists $(PKGS) $(SERVE_PKGS) || { \
	  echo "pdvm: missing build libraries; run: make deps  (or: sudo apt-get install -y $(DEPS_DEB))" >&2; \
	  exit 1; }

deps:
	@if pkg-config --exists $(PKGS) $(SERVE_PKGS) $(TEST_PKGS) && \
	    command -v curl >/dev/null && command -v tmux >/dev/null && \
	    ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 && \
	    ls /usr/share/glvnd/egl_vendor.d/*mesa*.json >/dev/null 2>&1; then exit 0; fi; \
	 if [ "$$(id -u)" = 0 ]; then SUDO=; \
	 elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	 else echo "pdvm: missing packages; run: sudo apt-get update && sudo apt-get install -y $(DEPS_DEB) $(TEST_TOOLS_DEB)" >&2; exit 1; fi; \
	 echo "pdvm deps: installing $(DEPS_DEB) $(TEST_TOOLS_DEB)"; \
	 $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEPS_DEB) $(TEST_TOOLS_DEB) || \
	 { $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEPS_DEB) $(TEST_TOOLS_DEB); }

$(BUILD)/tools/embed_shaders: src/tools/embed_shaders.c
	@mkdir -p $(dir $@)
	$(HOST_CC) -std=c11 -D_DEFAULT_SOURCE -O1 -Wall -Wextra -Werror -o $@ $<

$(GEN_SRC): $(SHADERS) $(BUILD)/tools/embed_shaders
	@mkdir -p $(dir $@)
	$(BUILD)/tools/embed_shaders glsl $@

$(BUILD)/obj/gen/shaders.o: $(GEN_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/platform/%.o: platform/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -fvisibility=hidden -Iinclude -c -o $@ $<

# The tool is a client of the public API: pdvm.h, its own headers, and for
# pdvm bench src/bench/pdvm_bench.h by relative path.
$(BUILD)/obj/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Iinclude -c -o $@ $<

# pdvm serve: a client of the public API like the rest of the tool (pdvm.h
# and src/cli's headers by relative path), plus libmicrohttpd and json-c.
$(BUILD)/obj/src/server/%.o: src/server/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(SERVE_CFLAGS) -Iinclude -c -o $@ $<

# The server's objects as an archive, so that its unit tests link only the
# modules they use.
$(BUILD)/libpdvm_server.a: $(SERVE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libpdvm.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# The ABI may change with every 0.x release: SONAME libpdvm.so.0.
SOVERSION := 0
$(BUILD)/libpdvm.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libpdvm.so.$(SOVERSION) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/pdvm: $(CLI_OBJ) $(SERVE_OBJ) $(BUILD)/libpdvm.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(SERVE_OBJ) $(BUILD)/libpdvm.a $(LDLIBS) $(SERVE_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_UOBJ) $(BUILD)/libpdvm.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_UOBJ) $(BUILD)/libpdvm.a $(LDLIBS) $(TEST_LIBS)

# tests/test_server_*.c test the server's modules directly (with the
# tool's helpers they use, all of src/cli but main).
CLI_LIB_OBJ := $(filter-out %/main.o,$(CLI_OBJ))
$(BUILD)/tests/test_server_%: $(BUILD)/obj/tests/test_server_%.o $(TEST_UOBJ) \
                              $(BUILD)/libpdvm_server.a $(CLI_LIB_OBJ) $(BUILD)/libpdvm.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_UOBJ) $(BUILD)/libpdvm_server.a $(CLI_LIB_OBJ) \
	  $(BUILD)/libpdvm.a $(LDLIBS) $(SERVE_LIBS) $(TEST_LIBS)

# deps may install pkg-config files, so the real work runs in a sub-make
# that evaluates pkg-config afresh.
test: deps
	@$(MAKE) --no-print-directory test-run

# Tests that run the CLI find it through PDVM_BIN.
test-run: all $(TEST_BIN) $(TEST_TOOLS)
	@PDVM_BIN=$(BUILD)/pdvm $(RUN_TESTS) $(call slow_first,$(TEST_BIN))

test-cpu: check-pkgs $(BUILD)/pdvm $(CPU_TESTS)
	@PDVM_BIN=$(BUILD)/pdvm $(RUN_TESTS) $(call slow_first,$(CPU_TESTS))

# pdvm serve's load acceptance (issue 14): 2 minutes, 32 clients, the ASan
# build; tests/serve_load.py says what it checks and why its ASAN_OPTIONS.
.PHONY: test-serve-load
test-serve-load: check-pkgs
	@$(MAKE) --no-print-directory SANITIZE=1 build/san/pdvm
	python3 tests/serve_load.py --bin build/san/pdvm --seconds 120 --clients 32

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	$(BUILD)/pdvm run -m $(MODEL) -p "Once upon a time" -n 128

# BASELINE=bench/results/<device>.jsonl: compare with it (exit 1 when decode
# or prefill fell beyond the noise band, BENCH_MIN_BAND its floor) and write
# build/bench.md. Always: build/bench.svg, the roofline chart (gnuplot).
BENCH_DEB      := gnuplot-nox
BENCH_MIN_BAND ?= 0.05
.PHONY: bench-deps bench-charts
bench: deps bench-deps
	@$(MAKE) --no-print-directory bench-run

bench-deps:
	@$(call apt_install,$(BENCH_DEB),command -v gnuplot >/dev/null)

bench-run: all
	$(BUILD)/pdvm bench --suite --out $(BUILD)/bench.jsonl
	bench/roofline.sh $(BUILD)/pdvm $(BUILD)/bench.jsonl $(BUILD)/bench.svg
	$(if $(BASELINE),$(BUILD)/pdvm bench --compare $(BASELINE) $(BUILD)/bench.jsonl \
	  --md $(BUILD)/bench.md --md-chart bench.svg --min-band $(BENCH_MIN_BAND))

# bench/results/<device>.svg from the results on record (bench/README.md
# embeds them); peer-*.jsonl are llama.cpp's figures, not pdvm's rows.
bench-charts: bench-deps all
	@for f in $(filter-out bench/results/peer-%,$(wildcard bench/results/*.jsonl)); do \
	  echo "bench/roofline.sh $$f"; bench/roofline.sh $(BUILD)/pdvm $$f $${f%.jsonl}.svg || exit 1; done

# The comparison's unit test links the tool's comparison files alone.
BENCH_CMP_OBJ := $(BUILD)/obj/src/cli/bench_compare.o $(BUILD)/obj/src/cli/bench_compare_print.o
$(BUILD)/tests/test_bench_compare: $(BUILD)/obj/tests/test_bench_compare.o $(TEST_UOBJ) \
                                   $(BENCH_CMP_OBJ) $(BUILD)/libpdvm.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_UOBJ) $(BENCH_CMP_OBJ) $(BUILD)/libpdvm.a $(LDLIBS) $(TEST_LIBS)

# libFuzzer: the CPU-side parsers only, no GL.
FUZZ_SRC := src/error.c $(wildcard src/gguf*.c) src/quant.c src/quant_blocks.c src/half.c \
            src/model.c src/model_arch.c src/model_hparams.c src/util.c $(wildcard src/tokenizer*.c)
FUZZ_TOK_SRC := src/error.c $(wildcard src/gguf*.c) src/quant.c src/quant_blocks.c src/half.c \
                $(wildcard src/tokenizer*.c) \
                src/tokenize_api.c src/detok.c
FUZZ_CC := clang -std=c11 -D_DEFAULT_SOURCE -g -O1 -Iinclude -Isrc \
           -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60
fuzz: build/fuzz/fuzz_gguf
	@mkdir -p build/fuzz/corpus
	@cp -n ../shared/models/*.gguf build/fuzz/corpus/ 2>/dev/null || true
	build/fuzz/fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -artifact_prefix=build/fuzz/ build/fuzz/corpus tests/fuzz/regressions

build/fuzz/fuzz_gguf: tests/fuzz/fuzz_gguf.c $(FUZZ_SRC) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ tests/fuzz/fuzz_gguf.c $(FUZZ_SRC) -lm $(shell pkg-config --libs libpcre2-8)

# Tokenize + detokenize every vocabulary of ../shared/models/vocab (PDVM_FUZZ_VOCAB_DIR).
fuzz-tok: build/fuzz/fuzz_tokenizer
	@mkdir -p build/fuzz/corpus-tok
	build/fuzz/fuzz_tokenizer -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -max_len=4096 -artifact_prefix=build/fuzz/tok- build/fuzz/corpus-tok tests/fuzz/corpus-tok

build/fuzz/fuzz_tokenizer: tests/fuzz/fuzz_tokenizer.c $(FUZZ_TOK_SRC) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ tests/fuzz/fuzz_tokenizer.c $(FUZZ_TOK_SRC) -lm $(shell pkg-config --libs libpcre2-8)

CHAT_FUZZ_SRC := src/error.c src/chat_template.c src/chat_detect.c src/chat_formats.c
fuzz-chat: build/fuzz/fuzz_chat
	@mkdir -p build/fuzz/chat_corpus
	build/fuzz/fuzz_chat -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -artifact_prefix=build/fuzz/chat- build/fuzz/chat_corpus

build/fuzz/fuzz_chat: tests/fuzz/fuzz_chat.c $(CHAT_FUZZ_SRC) src/chat_template.h include/pdvm.h
	@mkdir -p $(dir $@)
	clang -std=c11 -D_DEFAULT_SOURCE -g -O1 -Iinclude -Isrc \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ tests/fuzz/fuzz_chat.c $(CHAT_FUZZ_SRC)

# The server's request parser (json-c bodies to requests).
REQ_FUZZ_SRC := src/server/request.c src/sampler.c src/error.c
fuzz-serve: build/fuzz/fuzz_request
	@mkdir -p build/fuzz/corpus-request
	build/fuzz/fuzz_request -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 \
	  -artifact_prefix=build/fuzz/request- build/fuzz/corpus-request tests/fuzz/corpus-request

build/fuzz/fuzz_request: tests/fuzz/fuzz_request.c $(REQ_FUZZ_SRC) src/server/request.h \
                         src/server/job.h include/pdvm.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SERVE_CFLAGS) -o $@ tests/fuzz/fuzz_request.c $(REQ_FUZZ_SRC) -lm \
	  $(shell $(PKG_CONFIG) --libs json-c)

LIBDIR  ?= $(PREFIX)/lib
VERSION := 0.1.0
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 $(BUILD)/pdvm $(DESTDIR)$(PREFIX)/bin/pdvm
	install -m 644 $(BUILD)/libpdvm.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(BUILD)/libpdvm.so $(DESTDIR)$(LIBDIR)/libpdvm.so.$(SOVERSION)
	ln -sf libpdvm.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libpdvm.so
	install -m 644 include/pdvm.h $(DESTDIR)$(PREFIX)/include/pdvm.h
	printf 'prefix=%s\nlibdir=%s\nincludedir=$${prefix}/include\n\nName: pdvm\nDescription: LLM inference on OpenGL ES 3.1 compute\nVersion: %s\nRequires.private: %s\nLibs: -L$${libdir} -lpdvm\nLibs.private: -lm -lpthread\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' '$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))' '$(VERSION)' '$(PKGS)' \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/pdvm.pc

# ---- A second Mesa stack, ARM64 under emulation, a Debian package -------------

# $(call apt_install,PACKAGES,TEST): unless the shell test TEST holds, install
# the Debian packages as root or with password-less sudo (after `dpkg
# --add-architecture` of any :arch they name), else print the exact lines.
define apt_install
if $(2); then exit 0; fi; \
archs="$$(printf '%s\n' $(1) | sed -n 's/.*:\([a-z0-9]*\)$$/\1/p' | sort -u)"; \
if [ "$$(id -u)" = 0 ]; then SUDO=; \
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
else echo "pdvm: missing packages; run:" >&2; \
  for a in $$archs; do echo "  sudo dpkg --add-architecture $$a" >&2; done; \
  echo "  sudo apt-get update && sudo apt-get install -y $(strip $(1))" >&2; exit 1; fi; \
for a in $$archs; do $$SUDO dpkg --add-architecture $$a; done; \
echo "pdvm deps: installing $(strip $(1))"; \
$$SUDO apt-get update -q && \
$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(1)
endef
installed = [ "$$(dpkg-query -W -f='$${db:Status-Abbrev}\n' $(1) 2>/dev/null | grep -c '^ii')" = $(words $(1)) ]

# zink (Mesa's OpenGL on Vulkan) over lavapipe: GLSL goes through NIR and
# SPIR-V as on the boards' drivers, not llvmpipe's own path. Needs a runtime
# directory; PDVM_EXPECT_DRIVER makes test_gl_cli_info fail if Mesa fell back.
ZINK_DEB := mesa-vulkan-drivers
ZINK_ENV := GALLIUM_DRIVER=zink LIBGL_ALWAYS_SOFTWARE=1 PDVM_EXPECT_DRIVER=zink
.PHONY: deps-zink test-zink test-zink-run deps-arm64 test-arm64 test-emulated ci-arm64 \
        ci-emulated compare-arm64 deb deb-run test-deb
deps-zink: deps
	@$(call apt_install,$(ZINK_DEB),$(call installed,$(ZINK_DEB)))

test-zink: deps-zink
	@$(MAKE) --no-print-directory test-zink-run

# ZINK_TESTS: a subset of the GPU test binaries (CI's time budget).
ZINK_TESTS ?= $(GPU_TESTS)
test-zink-run: all $(ZINK_TESTS)
	@rt=$${XDG_RUNTIME_DIR:-$$(mktemp -d)}; XDG_RUNTIME_DIR=$$rt $(ZINK_ENV) \
	  PDVM_BIN=$(BUILD)/pdvm $(RUN_TESTS) $(call slow_first,$(ZINK_TESTS))

# ARM64 on an x86-64 Debian machine: Debian's multiarch arm64 libraries (the
# same -dev packages as DEPS_DEB), the cross compiler, and qemu-user, run as
# a prefix (PDVM_RUNNER) rather than through binfmt, which needs privileges.
# Plain qemu-aarch64-static: with -L /usr/aarch64-linux-gnu it pairs the
# cross toolchain's ld.so with the multiarch libc and hangs.
ARM64     := aarch64-linux-gnu
ARM64_DEB := gcc-$(ARM64) binutils-$(ARM64) libc6-dev-arm64-cross qemu-user-static \
             $(addsuffix :arm64,$(filter-out pkg-config,$(DEPS_DEB)))
deps-arm64:
	@$(call apt_install,$(ARM64_DEB),$(call installed,$(ARM64_DEB)))

# Every test binary of the arm64 build, on the arm64 Mesa (llvmpipe,
# surfaceless): the GPU tests at the driver's limits and PDVM_LIMITS=minimum;
# then compare-arm64.
test-arm64: deps-arm64
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory CROSS=$(ARM64) test-emulated

# CI's share of it (.ci/run must stay under 30 minutes on 2 cores): every
# CPU-side test binary, then stories260K end to end on the GPU at both
# limits, f32 and q4_0, byte for byte against this machine.
ci-arm64: deps-arm64
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory CROSS=$(ARM64) ci-emulated

EMU_ENV = PDVM_RUNNER="$$(command -v $(RUNNER))" PDVM_BIN=$(BUILD)/pdvm

test-emulated: all $(TEST_BIN)
	@$(EMU_ENV) $(RUN_TESTS) $(call slow_first,$(TEST_BIN))
	@$(MAKE) --no-print-directory compare-arm64

# With TEST_JOBS > 1 the CPU-side tests (one at a time) run beside the
# comparison, which takes about as long; the tests' output comes after.
CI_E2E_MODELS := stories260K stories260K-q4_0
ci-emulated: all $(CPU_TESTS)
	@if [ $(TEST_JOBS) -gt 1 ]; then \
	  log=$$(mktemp); \
	  $(EMU_ENV) PDVM_TEST_JOBS=1 tests/run_tests.sh $(call slow_first,$(CPU_TESTS)) > $$log 2>&1 & \
	  $(MAKE) --no-print-directory compare-arm64 E2E_MODELS="$(CI_E2E_MODELS)"; rc=$$?; \
	  wait $$!; rt=$$?; cat $$log; rm -f $$log; [ $$rc = 0 ] && [ $$rt = 0 ]; \
	else \
	  $(EMU_ENV) tests/run_tests.sh $(call slow_first,$(CPU_TESTS)) && \
	  $(MAKE) --no-print-directory compare-arm64 E2E_MODELS="$(CI_E2E_MODELS)"; \
	fi

# `pdvm run` greedy on the stories260K files, at the driver's limits and at
# PDVM_LIMITS=minimum: the emulated build's text must equal the native one's.
E2E_MODELS ?= stories260K stories260K-f16 stories260K-q8_0 stories260K-q4_0
compare-arm64:
	@$(EMU_ENV) NATIVE=build/pdvm MODELS_DIR=$${PDVM_MODELS_DIR:-../shared/models} \
	  tests/compare_cross.sh $(E2E_MODELS)

# Debian package of the tool, the library, the header, pdvm.pc, a man page
# made from --help and a systemd unit for `pdvm serve` (disabled until
# enabled; settings in /etc/default/pdvm). ARCH=arm64 (or CROSS=...) for a
# board. dpkg-shlibdeps works out Depends (it reads debian/control, so it
# runs in a scratch folder holding a stub one).
PKG_DIR    = docs/packaging
DEB_ARCH   = $(if $(CROSS),$(shell dpkg-architecture -t$(CROSS) -qDEB_HOST_ARCH 2>/dev/null),$(shell dpkg --print-architecture))
DEB_MA     = $(if $(CROSS),$(CROSS),$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null))
DEB_OUT    = $(BUILD)/deb
DEB_ROOT   = $(DEB_OUT)/root
DEB_FILE   = $(DEB_OUT)/pdvm_$(VERSION)_$(DEB_ARCH).deb
STRIP     ?= $(if $(CROSS),$(CROSS)-strip,strip)
# A real address for a release (lintian rejects hosts such as localhost).
DEB_MAINTAINER ?= pdvm developers <pdvm@example.org>
DEB_TOOLS := dpkg-dev lintian
deb: $(if $(CROSS),deps-arm64,deps)
	@$(call apt_install,$(DEB_TOOLS),$(call installed,$(DEB_TOOLS)))
	@$(MAKE) --no-print-directory deb-run

deb-run: all
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_ROOT)/DEBIAN $(DEB_OUT)/shlibs/debian
	$(MAKE) --no-print-directory install DESTDIR=$(DEB_ROOT) PREFIX=/usr LIBDIR=/usr/lib/$(DEB_MA)
	$(STRIP) --strip-unneeded --remove-section=.comment --remove-section=.note \
	  $(DEB_ROOT)/usr/bin/pdvm $(DEB_ROOT)/usr/lib/$(DEB_MA)/libpdvm.so.$(SOVERSION)
	$(STRIP) --strip-debug $(DEB_ROOT)/usr/lib/$(DEB_MA)/libpdvm.a
	install -d $(DEB_ROOT)/usr/share/man/man1 $(DEB_ROOT)/usr/share/doc/pdvm \
	  $(DEB_ROOT)/lib/systemd/system $(DEB_ROOT)/usr/lib/sysusers.d $(DEB_ROOT)/etc/default
	$(PKG_DIR)/manpage.sh $(VERSION) $(if $(CROSS),"$$(command -v $(RUNNER))") $(BUILD)/pdvm \
	  | gzip -9n > $(DEB_ROOT)/usr/share/man/man1/pdvm.1.gz
	install -m 644 $(PKG_DIR)/copyright $(DEB_ROOT)/usr/share/doc/pdvm/copyright
	$(PKG_DIR)/changelog.sh $(VERSION) '$(DEB_MAINTAINER)' | gzip -9n > $(DEB_ROOT)/usr/share/doc/pdvm/changelog.gz
	install -m 644 $(PKG_DIR)/pdvm.service $(DEB_ROOT)/lib/systemd/system/pdvm.service
	install -m 644 $(PKG_DIR)/pdvm.sysusers $(DEB_ROOT)/usr/lib/sysusers.d/pdvm.conf
	install -m 644 $(PKG_DIR)/pdvm.default $(DEB_ROOT)/etc/default/pdvm
	install -m 755 $(PKG_DIR)/postinst $(PKG_DIR)/prerm $(PKG_DIR)/postrm $(DEB_ROOT)/DEBIAN/
	echo /etc/default/pdvm > $(DEB_ROOT)/DEBIAN/conffiles
	echo 'libpdvm $(SOVERSION) pdvm (>= $(VERSION))' > $(DEB_ROOT)/DEBIAN/shlibs
	echo 'activate-noawait ldconfig' > $(DEB_ROOT)/DEBIAN/triggers
	printf 'Source: pdvm\n\nPackage: pdvm\nArchitecture: any\n' > $(DEB_OUT)/shlibs/debian/control
	cd $(DEB_OUT)/shlibs && DEB_HOST_ARCH=$(DEB_ARCH) dpkg-shlibdeps -O \
	  -e$(CURDIR)/$(DEB_ROOT)/usr/bin/pdvm -e$(CURDIR)/$(DEB_ROOT)/usr/lib/$(DEB_MA)/libpdvm.so.$(SOVERSION) \
	  | sed -n 's/^shlibs:Depends=//p' > ../depends
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' -e 's/@MAINTAINER@/$(DEB_MAINTAINER)/' \
	  -e "s/@DEPENDS@/$$(cat $(DEB_OUT)/depends)/" \
	  -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
	  $(PKG_DIR)/control.in > $(DEB_ROOT)/DEBIAN/control
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' \
	  | sort -z | xargs -0 md5sum > DEBIAN/md5sums
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB_FILE)

# The package: dpkg-deb --info, lintian (errors), installed into a scratch
# root where its pdvm, man page, unit, library and pdvm.pc are used (a
# foreign one through $(RUNNER)).
test-deb: deb
	@CC=$(CC) $(if $(CROSS),PDVM_RUNNER="$$(command -v $(RUNNER))") tests/deb_install.sh $(DEB_FILE)
# ---- end of zink, ARM64, Debian package ---------------------------------------

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
