/* The two renderings of `pdvm info`: aligned text for people, JSON (json-c)
 * for scripts and CI. */
#include <json-c/json.h>
#include <string.h>

#include "info.h"

static const char *const subgroup_features[] = {
    "basic", "vote", "arithmetic", "ballot", "shuffle", "shuffle_relative",
    "clustered", "quad", "partitioned_nv",
};
enum { N_FEATURES = sizeof subgroup_features / sizeof subgroup_features[0] };

static void print_bytes(FILE *f, const char *label, int64_t bytes)
{
    if (bytes >= (1 << 20) && bytes % (1 << 20) == 0)
        fprintf(f, "  %-34s %lld B (%lld MiB)\n", label, (long long)bytes, (long long)(bytes >> 20));
    else if (bytes >= 1024 && bytes % 1024 == 0)
        fprintf(f, "  %-34s %lld B (%lld KiB)\n", label, (long long)bytes, (long long)(bytes >> 10));
    else
        fprintf(f, "  %-34s %lld B\n", label, (long long)bytes);
}

static void print_limits(FILE *f, const pdvm_device_limits *l)
{
    fprintf(f, "%-15s %s\n", "limits",
            l->minimum ? "GLES 3.1 minimums (PDVM_LIMITS=minimum)" : "as the driver reports");
    fprintf(f, "  %-34s %d\n", "SSBO bindings per compute shader", l->max_ssbo_bindings);
    fprintf(f, "  %-34s %d\n", "workgroup invocations", l->max_invocations);
    fprintf(f, "  %-34s %d x %d x %d\n", "workgroup size", l->max_wg_size[0], l->max_wg_size[1],
            l->max_wg_size[2]);
    fprintf(f, "  %-34s %d x %d x %d\n", "workgroup count", l->max_wg_count[0],
            l->max_wg_count[1], l->max_wg_count[2]);
    print_bytes(f, "shared memory", l->max_shared_bytes);
    print_bytes(f, "SSBO block size", l->max_ssbo_bytes);
    print_bytes(f, "SSBO offset alignment", l->ssbo_align);
}

static void print_subgroup(FILE *f, const pdvm_device_limits *l)
{
    if (!l->subgroup_features && !l->subgroup) {
        fprintf(f, "%-15s %s\n", "subgroups",
                l->minimum ? "off (PDVM_LIMITS=minimum)" : "no GL_KHR_shader_subgroup for compute");
        return;
    }
    fprintf(f, "%-15s %s, size %u:", "subgroups", l->subgroup ? "used" : "not usable (no compute arithmetic)",
            l->subgroup_size);
    for (int i = 0; i < N_FEATURES; i++)
        if (l->subgroup_features & (1u << i)) fprintf(f, " %s", subgroup_features[i]);
    fputc('\n', f);
}

static void print_measured(FILE *f, const pdvm_info_report *r)
{
    if (r->bandwidth_error[0])
        fprintf(f, "%-15s failed: %s\n", "bandwidth", r->bandwidth_error);
    else
        fprintf(f, "%-15s %.1f GB/s SSBO read over %llu MiB\n", "bandwidth", r->bandwidth_gbps,
                (unsigned long long)(r->bandwidth_bytes >> 20));
    if (r->latency_error[0])
        fprintf(f, "%-15s failed: %s\n", "latency", r->latency_error);
    else
        fprintf(f, "%-15s %.1f us per dependent dispatch\n", "latency", r->latency_us);
}

/* The name to give GALLIUM_DRIVER or MESA_LOADER_DRIVER_OVERRIDE, and the
 * DRI driver that hosts it when that is another one (swrast). */
static void print_mesa_driver(FILE *f, const pdvm_device_info *in)
{
    if (!in->mesa_driver[0])
        fprintf(f, "%-15s %s\n", "Mesa driver", "none (not a Mesa driver, or no EGL_MESA_query_driver)");
    else if (strcmp(in->mesa_driver, in->dri_driver))
        fprintf(f, "%-15s %s (DRI driver %s)\n", "Mesa driver", in->mesa_driver, in->dri_driver);
    else
        fprintf(f, "%-15s %s\n", "Mesa driver", in->mesa_driver);
}

void pdvm_info_print_text(FILE *f, const pdvm_info_report *r)
{
    const pdvm_device_info *in = r->in;
    const pdvm_device_limits *l = &in->limits;
    const char *report = in->platform_report;
    fprintf(f, "%-15s %s (%s)\n", "platform", in->platform, in->device);
    if (report[0]) fprintf(f, "%-15s %s\n", "  not chosen", report);
    fprintf(f, "%-15s %s, EGL %s\n", "EGL", in->egl_vendor, in->egl_version);
    fprintf(f, "%-15s %s\n", "GL", in->gl_version);
    fprintf(f, "%-15s %s\n", "GL vendor", in->gl_vendor);
    fprintf(f, "%-15s %s\n", "renderer", in->renderer);
    print_mesa_driver(f, in);
    fprintf(f, "%-15s %s\n", "GLSL", in->glsl_version);
    print_limits(f, l);
    print_subgroup(f, l);
    fprintf(f, "%-15s %s\n", "GPU timing", in->timing);
    fprintf(f, "%-15s %s\n", "debug output", in->debug_output ? "GL_KHR_debug" : "no");
    fprintf(f, "%-15s %d format(s)", "program binary", in->n_binary_formats);
    for (int i = 0; i < in->n_binary_formats && i < 8; i++)
        fprintf(f, "%s0x%04x", i ? ", " : ": ", (unsigned)in->binary_formats[i]);
    fprintf(f, "; cache %s\n", in->cache_dir[0] ? in->cache_dir : "off");
    print_measured(f, r);
}

/* ---------------------------------------------------------------- JSON */

static void add(json_object *o, const char *key, json_object *v) { json_object_object_add(o, key, v); }
static json_object *str(const char *s) { return json_object_new_string(s); }
static json_object *i64(int64_t v) { return json_object_new_int64(v); }

static json_object *triple(const int32_t v[3])
{
    json_object *a = json_object_new_array();
    for (int i = 0; i < 3; i++) json_object_array_add(a, i64(v[i]));
    return a;
}

static json_object *limits_json(const pdvm_device_limits *l)
{
    json_object *o = json_object_new_object();
    add(o, "minimum", json_object_new_boolean(l->minimum));
    add(o, "max_ssbo_bindings", i64(l->max_ssbo_bindings));
    add(o, "max_invocations", i64(l->max_invocations));
    add(o, "max_shared_bytes", i64(l->max_shared_bytes));
    add(o, "max_wg_size", triple(l->max_wg_size));
    add(o, "max_wg_count", triple(l->max_wg_count));
    add(o, "max_ssbo_bytes", i64(l->max_ssbo_bytes));
    add(o, "ssbo_align", i64(l->ssbo_align));
    return o;
}

static json_object *subgroup_json(const pdvm_device_limits *l)
{
    json_object *o = json_object_new_object(), *features = json_object_new_array();
    add(o, "used", json_object_new_boolean(l->subgroup));
    add(o, "size", i64(l->subgroup_size));
    for (int i = 0; i < N_FEATURES; i++)
        if (l->subgroup_features & (1u << i)) json_object_array_add(features, str(subgroup_features[i]));
    add(o, "features", features);
    return o;
}

static json_object *measured_json(const pdvm_info_report *r)
{
    json_object *o = json_object_new_object();
    add(o, "bandwidth_bytes", i64((int64_t)r->bandwidth_bytes));
    add(o, "bandwidth_gbps", r->bandwidth_error[0] ? NULL : json_object_new_double(r->bandwidth_gbps));
    add(o, "latency_us", r->latency_error[0] ? NULL : json_object_new_double(r->latency_us));
    if (r->bandwidth_error[0]) add(o, "bandwidth_error", str(r->bandwidth_error));
    if (r->latency_error[0]) add(o, "latency_error", str(r->latency_error));
    return o;
}

static json_object *driver_json(const pdvm_info_report *r)
{
    const pdvm_device_info *in = r->in;
    json_object *o = json_object_new_object(), *formats = json_object_new_array();
    add(o, "egl_vendor", str(in->egl_vendor));
    add(o, "egl_version", str(in->egl_version));
    add(o, "gl_version", str(in->gl_version));
    add(o, "gl_vendor", str(in->gl_vendor));
    add(o, "renderer", str(in->renderer));
    add(o, "mesa_driver", in->mesa_driver[0] ? str(in->mesa_driver) : NULL);
    add(o, "dri_driver", in->dri_driver[0] ? str(in->dri_driver) : NULL);
    add(o, "glsl_version", str(in->glsl_version));
    add(o, "timer_query", json_object_new_boolean(in->limits.timer_query));
    add(o, "timing", str(in->timing));
    add(o, "debug_output", json_object_new_boolean(in->debug_output));
    for (int i = 0; i < in->n_binary_formats && i < 8; i++)
        json_object_array_add(formats, i64(in->binary_formats[i]));
    add(o, "program_binary_formats", formats);
    add(o, "shader_cache", in->cache_dir[0] ? str(in->cache_dir) : NULL);
    return o;
}

pdvm_status pdvm_info_print_json(FILE *f, const pdvm_info_report *r)
{
    json_object *root = json_object_new_object();
    if (!root) return PDVM_ERR_NOMEM;
    add(root, "platform", str(r->in->platform));
    add(root, "device", str(r->in->device));
    add(root, "not_chosen", str(r->in->platform_report));
    add(root, "driver", driver_json(r));
    add(root, "limits", limits_json(&r->in->limits));
    add(root, "subgroup", subgroup_json(&r->in->limits));
    add(root, "measured", measured_json(r));
    fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return PDVM_OK;
}
