/* The compute shaders of glsl/, embedded at build time by
 * src/tools/embed_shaders.c into $(BUILD)/gen/shaders.c, so the installed
 * binary needs no files beside it. Each glsl/<name>.comp becomes one source
 * with its #include "x.glsl" lines resolved (every file at most once per
 * shader). The sources carry `#line <line> <k>` directives: compiler logs
 * then say "k:line", and k maps back to a file name here. */
#ifndef PDVM_SHADERS_H
#define PDVM_SHADERS_H

#include <stddef.h>

/* Resolved source of glsl/<name>.comp ("rmsnorm" for rmsnorm.comp), without
 * a #version line (the runtime adds it); NULL when there is none. */
const char *pdvm_shader_source(const char *name);

/* File name ("wg.glsl") of a #line source-string number; NULL when
 * the number names no embedded file. Numbers start at 1; 0 is the runtime's
 * preamble. */
const char *pdvm_shader_file(int string_number);

/* The embedded .comp shaders, for listings and tests. */
size_t pdvm_shader_count(void);
const char *pdvm_shader_name(size_t i);

#endif
