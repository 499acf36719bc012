/* Helpers for the tests of the GL runtime and the tools beside the test
 * binaries (shared: linked into every test). Include after <cmocka.h>. */
#ifndef PDVM_TEST_GL_UTIL_H
#define PDVM_TEST_GL_UTIL_H

#include <stddef.h>

#include "gl_runtime.h"

/* Open a context on the default platform order; fails the test (with the
 * runtime's message) when none works: the GL tests need one. */
pdvm_gl *test_gl_open(void);

/* <directory of this test binary>/rel, e.g. "../pdvm" for $(BUILD)/pdvm. */
void test_sibling_path(const char *rel, char *out, size_t cap);

/* The start of a shell command that runs the `pdvm` built beside this test
 * binary (<dir>/../pdvm, quoted) through $PDVM_RUNNER when that is set: an
 * emulator such as qemu-aarch64-static for a cross build, whose tools are
 * built for the same machine as its tests. Fails the test when pdvm is not
 * built. */
void test_pdvm_command(char *out, size_t cap);

/* Run a shell command, capture its stdout and stderr together (truncated
 * to cap-1 bytes); returns its exit status, -1 when it could not run. */
int test_run_command(const char *cmd, char *out, size_t cap);

/* glsl/rt_latency.comp (each dispatch adds 1 to a counter) built with
 * `defines`, its zeroed counter bound at binding 0; asserts on failure. */
typedef struct test_chain {
    pdvm_gl_program prog;
    pdvm_gl_buffer counter;
} test_chain;
void test_chain_open(pdvm_gl *gl, const char *defines, test_chain *c);
uint32_t test_chain_count(pdvm_gl *gl, const test_chain *c); /* read back */
void test_chain_close(pdvm_gl *gl, test_chain *c);

/* XOR one byte of a file with 0xFF. */
void test_flip_byte(const char *path, long offset);

/* A fresh temporary directory (mkdtemp) in out; fails the test on error. */
void test_temp_dir(char *out, size_t cap);

#endif
