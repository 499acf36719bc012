/* Compute programs: embedded source + #define preamble, compiled and
 * linked, or taken from the program-binary cache when the driver accepts
 * the cached binary. Logs come back in terms of our file names and lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gl_internal.h"
#include "shaders.h"

static char *assemble(const pdvm_gl *gl, const char *body, const char *defines)
{
    char features[256] = "";
    const pdvm_gl_limits *l = &gl->info.limits;
    if (l->subgroup)
        snprintf(features, sizeof features,
                 "#extension GL_KHR_shader_subgroup_basic : enable\n"
                 "#extension GL_KHR_shader_subgroup_arithmetic : enable\n"
                 "#define PDVM_SUBGROUP 1\n#define PDVM_SUBGROUP_SIZE %u\n",
                 (unsigned)l->subgroup_size);
    if (!defines) defines = "";
    size_t dl = strlen(defines);
    const char *nl = dl && defines[dl - 1] != '\n' ? "\n" : "";
    size_t n = strlen("#version 310 es\n") + strlen(features) + dl + 1 + strlen(body) + 1;
    char *src = malloc(n);
    if (src) snprintf(src, n, "#version 310 es\n%s%s%s%s", features, defines, nl, body);
    return src;
}

static pdvm_status log_failure(const char *name, const char *what, const char *log)
{
    char text[900];
    pdvm_gl_log_rewrite(log, name, text, sizeof text);
    return pdvm_fail(PDVM_ERR_GPU, "shader '%s': %s failed: %s", name, what,
                     text[0] ? text : "(the driver gave no log)");
}

static pdvm_status compile(const char *name, const char *source, GLuint *out)
{
    GLuint sh = glCreateShader(GL_COMPUTE_SHADER);
    if (!sh) return pdvm_fail(PDVM_ERR_GPU, "shader '%s': glCreateShader failed", name);
    glShaderSource(sh, 1, &source, NULL);
    glCompileShader(sh);
    GLint ok = GL_FALSE;
    glGetShaderiv(sh, GL_COMPILE_STATUS, &ok);
    if (!ok) {
        char log[4096] = "";
        glGetShaderInfoLog(sh, sizeof log, NULL, log);
        glDeleteShader(sh);
        return log_failure(name, "compile", log);
    }
    *out = sh;
    return PDVM_OK;
}

static pdvm_status link(const char *name, GLuint sh, GLuint *out)
{
    GLuint prog = glCreateProgram();
    if (!prog) return pdvm_fail(PDVM_ERR_GPU, "shader '%s': glCreateProgram failed", name);
    glAttachShader(prog, sh);
    glProgramParameteri(prog, GL_PROGRAM_BINARY_RETRIEVABLE_HINT, GL_TRUE);
    glLinkProgram(prog);
    glDetachShader(prog, sh);
    GLint ok = GL_FALSE;
    glGetProgramiv(prog, GL_LINK_STATUS, &ok);
    if (!ok) {
        char log[4096] = "";
        glGetProgramInfoLog(prog, sizeof log, NULL, log);
        glDeleteProgram(prog);
        return log_failure(name, "link", log);
    }
    *out = prog;
    return PDVM_OK;
}

static pdvm_status compile_and_link(const char *name, const char *source, GLuint *out)
{
    GLuint sh = 0;
    PDVM_TRY(compile(name, source, &sh));
    pdvm_status st = link(name, sh, out);
    glDeleteShader(sh);
    return st;
}

/* A binary the driver rejects (new driver, other GPU, damaged) is a miss. */
static bool load_cached(const char *path, uint64_t key, GLuint *out)
{
    pdvm_gl_blob blob;
    if (!pdvm_gl_cache_load(path, key, &blob)) return false;
    GLuint prog = glCreateProgram();
    glProgramBinary(prog, blob.format, blob.data, (GLsizei)blob.size);
    free(blob.data);
    GLint ok = GL_FALSE;
    glGetProgramiv(prog, GL_LINK_STATUS, &ok);
    while (glGetError() != GL_NO_ERROR) {} /* GL_INVALID_ENUM for a foreign format */
    if (!ok) {
        glDeleteProgram(prog);
        return false;
    }
    *out = prog;
    return true;
}

static void store_cached(const char *path, uint64_t key, GLuint prog)
{
    GLint len = 0;
    glGetProgramiv(prog, GL_PROGRAM_BINARY_LENGTH, &len);
    if (len <= 0) return;
    pdvm_gl_blob blob = {0, (uint32_t)len, malloc((size_t)len)};
    GLenum format = 0;
    if (blob.data) {
        glGetProgramBinary(prog, len, NULL, &format, blob.data);
        blob.format = format;
        if (glGetError() == GL_NO_ERROR) pdvm_gl_cache_store(path, key, &blob);
    }
    free(blob.data);
}

static pdvm_status build(pdvm_gl *gl, const char *name, const char *body, const char *defines,
                         pdvm_gl_program *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    char *source = assemble(gl, body, defines);
    if (!source) return pdvm_fail(PDVM_ERR_NOMEM, "shader '%s': out of host memory", name);
    uint64_t key = pdvm_fnv1a64(gl->driver_hash, source, strlen(source));
    char path[512];
    bool cache = gl->info.cache_dir[0] != '\0';
    if (cache) pdvm_gl_cache_path(gl->info.cache_dir, key, path, sizeof path);
    pdvm_status st = PDVM_OK;
    if (cache && load_cached(path, key, &out->id)) {
        out->from_cache = true;
    } else {
        st = compile_and_link(out->name, source, &out->id);
        if (st == PDVM_OK && cache) store_cached(path, key, out->id);
    }
    free(source);
    return st;
}

pdvm_status pdvm_gl_program_build(pdvm_gl *gl, const char *shader, const char *defines,
                                  pdvm_gl_program *out)
{
    const char *body = shader ? pdvm_shader_source(shader) : NULL;
    if (!body)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "no embedded shader glsl/%s.comp",
                         shader ? shader : "(null)");
    return build(gl, shader, body, defines, out);
}

pdvm_status pdvm_gl_program_build_source(pdvm_gl *gl, const char *name, const char *source,
                                         const char *defines, pdvm_gl_program *out)
{
    if (!name || !source)
        return pdvm_fail(PDVM_ERR_INVALID_ARG, "pdvm_gl_program_build_source: NULL name or source");
    /* The #line gives inline sources a number of their own in the log. */
    size_t n = strlen(source) + 32;
    char *body = malloc(n);
    if (!body) return pdvm_fail(PDVM_ERR_NOMEM, "shader '%s': out of host memory", name);
    snprintf(body, n, "#line 1 %d\n%s", PDVM_SOURCE_INLINE, source);
    pdvm_status st = build(gl, name, body, defines, out);
    free(body);
    return st;
}

void pdvm_gl_program_delete(pdvm_gl *gl, pdvm_gl_program *p)
{
    (void)gl;
    if (p && p->id) glDeleteProgram(p->id);
    if (p) p->id = 0;
}

void pdvm_gl_uniform_u32(const pdvm_gl_program *p, const char *name, uint32_t v)
{
    GLint loc = glGetUniformLocation(p->id, name);
    if (loc >= 0) glProgramUniform1ui(p->id, loc, v);
}
