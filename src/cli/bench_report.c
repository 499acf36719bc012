/* Bench output: an aligned table for people, JSON lines for machines. */
#include <json-c/json.h>

#include "bench.h"

void bench_table_header(FILE *f)
{
    fprintf(f, "| %-18s | %-5s | %-7s | %5s | %10s | %9s | %10s | %8s | %8s | %9s | %7s | %8s "
               "| %8s | %8s |\n",
            "model", "type", "mode", "depth", "prefill/s", "pp GFLOP/s", "decode/s", "ms/layer", "disp/tok",
            "GB/s", "roof%", "fused/un", "GPU MiB", "RSS MiB");
    fprintf(f, "|%.20s|%.7s|%.9s|%.7s|%.12s|%.11s|%.12s|%.10s|%.10s|%.11s|%.9s|%.10s|%.10s|%.10s|\n",
            "--------------------", "-------", "---------", "-------", "------------",
            "-----------", "------------", "----------", "----------", "-----------", "---------",
            "----------", "----------", "----------");
}

void bench_table_row(FILE *f, const bench_row *r, const bench_row *other)
{
    char ratio[16] = "";
    if (other && other->decode_tps > 0)
        snprintf(ratio, sizeof ratio, "%.2fx", r->decode_tps / other->decode_tps);
    fprintf(f, "| %-18.18s | %-5s | %-7s | %5u | %10.1f | %9.2f | %10.1f | %8.3f | %8.1f | %9.1f | %6.1f%% "
               "| %8s | %8.1f | %8.1f |\n",
            r->model, r->type, r->mode, r->depth, r->prefill_tps, r->prefill_gflops, r->decode_tps, r->ms_per_layer,
            r->dispatches_per_token, r->achieved_gbps, 100.0 * r->roofline_fraction, ratio,
            r->gpu_mib, r->peak_rss_mib);
    fflush(f);
}

static json_object *samples(const double *v, uint32_t n)
{
    json_object *a = json_object_new_array_ext((int)n);
    for (uint32_t i = 0; i < n; i++) json_object_array_add(a, json_object_new_double(v[i]));
    return a;
}

void bench_json_row(FILE *f, const bench_row *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "model", json_object_new_string(r->model));
    json_object_object_add(o, "arch", json_object_new_string(r->arch));
    json_object_object_add(o, "type", json_object_new_string(r->type));
    json_object_object_add(o, "n_params", json_object_new_int64((int64_t)r->n_params));
    json_object_object_add(o, "device", json_object_new_string(r->device));
    json_object_object_add(o, "platform", json_object_new_string(r->platform));
    json_object_object_add(o, "mode", json_object_new_string(r->mode));
    json_object_object_add(o, "n_prompt", json_object_new_int64(r->n_prompt));
    json_object_object_add(o, "n_gen", json_object_new_int64(r->n_gen));
    json_object_object_add(o, "depth", json_object_new_int64(r->depth));
    json_object_object_add(o, "prefill_tps", json_object_new_double(r->prefill_tps));
    json_object_object_add(o, "prefill_gflops", json_object_new_double(r->prefill_gflops));
    json_object_object_add(o, "decode_tps", json_object_new_double(r->decode_tps));
    json_object_object_add(o, "ms_per_layer", json_object_new_double(r->ms_per_layer));
    json_object_object_add(o, "dispatches_per_token",
                           json_object_new_double(r->dispatches_per_token));
    json_object_object_add(o, "weight_bytes_per_token",
                           json_object_new_int64((int64_t)r->weight_bytes_per_token));
    json_object_object_add(o, "achieved_gbps", json_object_new_double(r->achieved_gbps));
    json_object_object_add(o, "roofline_gbps", json_object_new_double(r->roofline_gbps));
    json_object_object_add(o, "roofline_fraction", json_object_new_double(r->roofline_fraction));
    json_object_object_add(o, "gpu_mib", json_object_new_double(r->gpu_mib));
    json_object_object_add(o, "peak_rss_mib", json_object_new_double(r->peak_rss_mib));
    json_object_object_add(o, "reps", json_object_new_int64(r->n_reps));
    json_object_object_add(o, "decode_tps_reps", samples(r->decode_reps, r->n_reps));
    json_object_object_add(o, "prefill_tps_reps", samples(r->prefill_reps, r->n_prefill_reps));
    fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    fflush(f);
    json_object_put(o);
}
