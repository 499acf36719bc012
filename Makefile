# pdvm build.
#   make              build/pdvm, build/libpdvm.a, build/libpdvm.so
#   make test         all cmocka tests (GPU ones on llvmpipe when no GPU)
#   make test-cpu     the CPU-side tests only (what SANITIZE=1 runs in CI)
#   make SANITIZE=1   ASan + UBSan build under build/san
#   make demo         generate text from $(MODEL)
#   make bench        the benchmark suite (build/bench.jsonl)
#   make fuzz         libFuzzer target for the GGUF reader and binder (clang)
#   make fuzz-chat    libFuzzer target for the chat templates (clang)
#   make fuzz-tok     libFuzzer target for tokenize + detokenize of every vocabulary
#   make fuzz-serve   libFuzzer target for pdvm serve's request parser
#   make install PREFIX=/usr/local
# `test` and `demo` first run `deps`, which installs missing Debian packages
# (or prints the exact apt-get line when it cannot).

PREFIX   ?= /usr/local
MODEL    ?= ../shared/models/stories260K.gguf
SANITIZE ?= 0

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

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)
SERVE_CFLAGS := $(shell pkg-config --cflags $(SERVE_PKGS) 2>/dev/null)
SERVE_LIBS   := $(shell pkg-config --libs $(SERVE_PKGS) 2>/dev/null)

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
# test_gl_* and test_gpu_* need an OpenGL ES context (llvmpipe is enough).
TEST_SRC   := $(filter-out tests/test_util.c,$(wildcard tests/test_*.c))
TEST_UTIL  := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UOBJ  := $(TEST_UTIL:%.c=$(BUILD)/obj/%.o)
GPU_TESTS  := $(filter $(BUILD)/tests/test_gl_% $(BUILD)/tests/test_gpu_%,$(TEST_BIN))
# tests/tools/*.c: programs over the test helpers (model writers), built
# with the tests so they keep compiling.
TEST_TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
CPU_TESTS  := $(filter-out $(GPU_TESTS),$(TEST_BIN))

# Objects of test binaries are intermediate in the pattern chain; keep them
# (faster rebuilds, and no `rm` lines after the test summary).
.SECONDARY:

.PHONY: all deps check-pkgs test test-run test-cpu demo demo-run bench bench-run fuzz \
        fuzz-chat fuzz-tok fuzz-serve install clean
all: check-pkgs $(BUILD)/pdvm $(BUILD)/libpdvm.a $(BUILD)/libpdvm.so

check-pkgs:
	@pkg-config --exists $(PKGS) $(SERVE_PKGS) || { \
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
	$(CC) -std=c11 -D_DEFAULT_SOURCE -O1 -Wall -Wextra -Werror -o $@ $<

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
	ar rcs $@ $^

$(BUILD)/libpdvm.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

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
	@PDVM_BIN=$(BUILD)/pdvm tests/run_tests.sh $(TEST_BIN)

test-cpu: check-pkgs $(BUILD)/pdvm $(CPU_TESTS)
	@PDVM_BIN=$(BUILD)/pdvm tests/run_tests.sh $(CPU_TESTS)

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: all
	$(BUILD)/pdvm run -m $(MODEL) -p "Once upon a time" -n 128

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: all
	$(BUILD)/pdvm bench --suite --out $(BUILD)/bench.jsonl

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
	  $(shell pkg-config --libs json-c)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/pdvm $(DESTDIR)$(PREFIX)/bin/pdvm
	install -m 644 $(BUILD)/libpdvm.a $(BUILD)/libpdvm.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/pdvm.h $(DESTDIR)$(PREFIX)/include/pdvm.h
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: pdvm\nDescription: LLM inference on OpenGL ES 3.1 compute\nVersion: 0.1.0\nRequires.private: %s\nLibs: -L$${libdir} -lpdvm\nLibs.private: -lm -lpthread\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' '$(PKGS)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/pdvm.pc

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
