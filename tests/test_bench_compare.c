/* The comparison of bench results files (src/cli/bench_compare.h): the
 * noise band from the repetitions, a regression beyond it judged slower,
 * one within it the same, a missing and a new row reported, rows of an
 * older file (no samples) judged against the floor, another engine's rows
 * matched with pdvm's fused ones, bad files refused
 * with the line, and the plot data ordered by weight bytes. Files are
 * written with json-c as pdvm bench writes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench_compare.h"
#include "cli_util.h"
#include "test_util.h"

typedef struct row_spec {
    const char *model, *mode;
    uint32_t depth;
    double decode[4], prefill[4]; /* samples; decode[0] 0: none recorded */
    uint32_t n;
    uint64_t weight_bytes;
} row_spec;

static double median_of(const double *v, uint32_t n)
{
    double s[4];
    memcpy(s, v, n * sizeof *s);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = i + 1; j < n; j++)
            if (s[j] < s[i]) {
                double t = s[i];
                s[i] = s[j], s[j] = t;
            }
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static json_object *samples(const double *v, uint32_t n)
{
    json_object *a = json_object_new_array();
    for (uint32_t i = 0; i < n; i++) json_object_array_add(a, json_object_new_double(v[i]));
    return a;
}

/* The fields pdvm bench writes that the comparison reads, plus one it
 * ignores. A row with n 0 has single values (decode[0], prefill[0]) and
 * no sample arrays, as files written before the samples were. */
static void write_rows(const char *path, const row_spec *r, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "model", json_object_new_string(r[i].model));
        json_object_object_add(o, "type", json_object_new_string("q4_0"));
        json_object_object_add(o, "device", json_object_new_string("testdev"));
        json_object_object_add(o, "mode", json_object_new_string(r[i].mode));
        json_object_object_add(o, "depth", json_object_new_int64(r[i].depth));
        json_object_object_add(o, "n_gen", json_object_new_int64(32));
        json_object_object_add(o, "weight_bytes_per_token", json_object_new_int64((int64_t)r[i].weight_bytes));
        json_object_object_add(o, "achieved_gbps", json_object_new_double(r[i].weight_bytes * 1e-9 * 100));
        json_object_object_add(o, "roofline_gbps", json_object_new_double(4245.0));
        json_object_object_add(o, "gpu_mib", json_object_new_double(1.5));
        uint32_t k = r[i].n ? r[i].n : 1;
        json_object_object_add(o, "decode_tps", json_object_new_double(median_of(r[i].decode, k)));
        json_object_object_add(o, "prefill_tps", json_object_new_double(median_of(r[i].prefill, k)));
        if (r[i].n) {
            json_object_object_add(o, "decode_tps_reps", samples(r[i].decode, r[i].n));
            json_object_object_add(o, "prefill_tps_reps", samples(r[i].prefill, r[i].n));
        }
        fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    }
    assert_int_equal(fclose(f), 0);
}

static char base_path[64], cur_path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(base_path, sizeof base_path, "/tmp/pdvm_cmp_base_%d.jsonl", (int)getpid());
    snprintf(cur_path, sizeof cur_path, "/tmp/pdvm_cmp_cur_%d.jsonl", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(base_path);
    unlink(cur_path);
    return 0;
}

/* Load both files, compare with the floor, return the comparison. */
static void compare_files(bench_recs *b, bench_recs *c, double floor_band, bench_cmp *out)
{
    char err[256];
    assert_true(bench_recs_load(base_path, b, err, sizeof err));
    assert_true(bench_recs_load(cur_path, c, err, sizeof err));
    assert_true(bench_compare(b, c, floor_band, NULL, out));
}

static void test_noise_band(void **state)
{
    (void)state;
    const double v[] = {110, 90, 100};
    assert_true(fabs(bench_noise_band(v, 3) - 0.2) < 1e-12);
    const double w[] = {100, 104, 98, 102}; /* even count: median 101 */
    assert_true(fabs(bench_noise_band(w, 4) - 6.0 / 101.0) < 1e-12);
    assert_true(bench_noise_band(v, 1) < 0); /* one sample: not measured */
    /* Random samples: the median lies between the extremes, so the band
     * lies between the range over the largest and over the smallest. */
    uint64_t seed = 77;
    for (int t = 0; t < 100; t++) {
        double s[9];
        size_t n = 2 + test_rand_u64(&seed) % 8;
        for (size_t i = 0; i < n; i++) s[i] = test_rand_float(&seed, 50.0f, 150.0f);
        double band = bench_noise_band(s, n);
        double lo = s[0], hi = s[0];
        for (size_t i = 1; i < n; i++) lo = fmin(lo, s[i]), hi = fmax(hi, s[i]);
        assert_true(band > 0 && band <= (hi - lo) / lo + 1e-12 && band >= (hi - lo) / hi - 1e-12);
    }
}

/* Decode 20% down with a band of 4%: slower; prefill 2% down: within. */
static void test_regression_beyond_band(void **state)
{
    (void)state;
    row_spec b[] = {{"m", "fused", 0, {100, 98, 102}, {500, 510, 490}, 3, 1000}};
    row_spec c[] = {{"m", "fused", 0, {80, 79, 81}, {490, 480, 500}, 3, 1000}};
    write_rows(base_path, b, 1);
    write_rows(cur_path, c, 1);
    bench_recs rb, rc;
    bench_cmp cmp;
    compare_files(&rb, &rc, 0.01, &cmp);
    assert_int_equal(cmp.n, 1);
    assert_int_equal(cmp.n_slower, 1);
    const bench_cmp_row *r = &cmp.rows[0];
    assert_int_equal(r->verdict, BENCH_SLOWER);
    assert_int_equal(r->decode.verdict, BENCH_SLOWER);
    assert_int_equal(r->prefill.verdict, BENCH_SAME);
    assert_true(r->decode.measured);
    assert_true(fabs(r->decode.band - 0.04) < 1e-9);     /* (102 - 98) / 100 */
    assert_true(fabs(r->decode.change + 0.2) < 1e-9);    /* 80 / 100 - 1 */
    assert_true(fabs(r->prefill.band - 20.0 / 490.0) < 1e-9); /* the current row's */
    bench_cmp_free(&cmp);
    bench_recs_free(&rb);
    bench_recs_free(&rc);
}

/* A drop smaller than the spread of either row passes; a prefill
 * regression alone fails the row; a gain beyond the band is reported. */
static void test_within_band_and_prefill(void **state)
{
    (void)state;
    row_spec b[] = {{"a", "fused", 0, {100, 90, 110}, {500, 505, 495}, 3, 10},
                    {"a", "unfused", 0, {50, 51, 49}, {300, 303, 297}, 3, 10},
                    {"a", "fused", 1024, {40, 41, 39}, {500, 505, 495}, 3, 10}};
    row_spec c[] = {{"a", "fused", 0, {85, 84, 86}, {500, 505, 495}, 3, 10},
                    {"a", "unfused", 0, {50, 51, 49}, {240, 243, 237}, 3, 10},
                    {"a", "fused", 1024, {60, 61, 59}, {500, 505, 495}, 3, 10}};
    write_rows(base_path, b, 3);
    write_rows(cur_path, c, 3);
    bench_recs rb, rc;
    bench_cmp cmp;
    compare_files(&rb, &rc, 0.05, &cmp);
    assert_int_equal(cmp.n, 3);
    assert_int_equal(cmp.rows[0].verdict, BENCH_SAME); /* -15% inside the 20% band */
    assert_int_equal(cmp.rows[1].verdict, BENCH_SLOWER);
    assert_int_equal(cmp.rows[1].decode.verdict, BENCH_SAME);
    assert_int_equal(cmp.rows[1].prefill.verdict, BENCH_SLOWER);
    assert_int_equal(cmp.rows[2].verdict, BENCH_FASTER);
    assert_int_equal(cmp.n_slower, 1);
    assert_int_equal(cmp.n_faster, 1);
    assert_int_equal(cmp.n_same, 1);
    bench_cmp_free(&cmp);
    bench_recs_free(&rb);
    bench_recs_free(&rc);
}

/* A baseline row absent from the current run is MISSING (and does not
 * count as slower); a current row absent from the baseline is NEW; the
 * printed table names both. */
static void test_missing_and_new(void **state)
{
    (void)state;
    row_spec b[] = {{"kept", "fused", 0, {100, 100, 100}, {9, 9, 9}, 3, 10},
                    {"gone", "fused", 0, {100, 100, 100}, {9, 9, 9}, 3, 10}};
    row_spec c[] = {{"kept", "fused", 0, {100, 100, 100}, {9, 9, 9}, 3, 10},
                    {"kept", "fused", 1024, {70, 70, 70}, {9, 9, 9}, 3, 10}};
    write_rows(base_path, b, 2);
    write_rows(cur_path, c, 2);
    bench_recs rb, rc;
    bench_cmp cmp;
    compare_files(&rb, &rc, 0.05, &cmp);
    assert_int_equal(cmp.n, 3);
    assert_int_equal(cmp.rows[1].verdict, BENCH_MISSING);
    assert_string_equal(cmp.rows[1].base->model, "gone");
    assert_null(cmp.rows[1].cur);
    assert_int_equal(cmp.rows[2].verdict, BENCH_NEW);
    assert_int_equal(cmp.rows[2].cur->depth, 1024);
    assert_int_equal(cmp.n_missing, 1);
    assert_int_equal(cmp.n_new, 1);
    assert_int_equal(cmp.n_slower, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    bench_cmp_print(f, &cmp, true, "bench.svg");
    fclose(f);
    assert_non_null(strstr(text, "# pdvm bench: no regression beyond the noise band, missing rows: 1\n"));
    assert_non_null(strstr(text, "| gone "));
    assert_non_null(strstr(text, "| missing |"));
    assert_non_null(strstr(text, "| new     |"));
    assert_non_null(strstr(text, "![achieved GB/s against the roofline](bench.svg)"));
    assert_non_null(strstr(text, "3 rows: 0 slower, 0 faster, 1 within the noise band, 1 missing, 1 new"));
    free(text);
    bench_cmp_free(&cmp);
    bench_recs_free(&rb);
    bench_recs_free(&rc);
}

/* Rows with no samples (files recorded before them): the floor is the
 * band, marked not measured. */
static void test_floor_without_samples(void **state)
{
    (void)state;
    row_spec b[] = {{"m", "fused", 0, {100}, {500}, 0, 10}};
    row_spec c[] = {{"m", "fused", 0, {93}, {500}, 0, 10}};
    write_rows(base_path, b, 1);
    write_rows(cur_path, c, 1);
    bench_recs rb, rc;
    bench_cmp cmp;
    compare_files(&rb, &rc, 0.05, &cmp);
    assert_false(cmp.rows[0].decode.measured);
    assert_true(fabs(cmp.rows[0].decode.band - 0.05) < 1e-9);
    assert_int_equal(cmp.rows[0].verdict, BENCH_SLOWER); /* -7% beyond 5% */
    bench_cmp_free(&cmp);
    bench_recs_free(&rb);
    bench_recs_free(&rc);
    compare_files(&rb, &rc, 0.10, &cmp);
    assert_int_equal(cmp.rows[0].verdict, BENCH_SAME); /* within 10% */
    bench_cmp_free(&cmp);
    bench_recs_free(&rb);
    bench_recs_free(&rc);
}

/* Another engine's rows (mode "llama.cpp") against pdvm's fused ones:
 * matched across modes, the unfused rows left out, not reported new. */
static void test_current_mode(void **state)
{
    (void)state;
    row_spec b[] = {{"f.gguf", "llama.cpp", 0, {200, 200, 200}, {900, 900, 900}, 3, 10},
                    {"f.gguf", "llama.cpp", 1024, {150, 150, 150}, {0, 0, 0}, 3, 10}};
    row_spec c[] = {{"f.gguf", "fused", 0, {100, 100, 100}, {900, 900, 900}, 3, 10},
                    {"f.gguf", "unfused", 0, {80, 80, 80}, {900, 900, 900}, 3, 10},
                    {"f.gguf", "fused", 1024, {150, 151, 149}, {0, 0, 0}, 3, 10}};
    write_rows(base_path, b, 2);
    write_rows(cur_path, c, 3);
    char err[256];
    bench_recs rb, rc;
    bench_cmp cmp;
    assert_true(bench_recs_load(base_path, &rb, err, sizeof err));
    assert_true(bench_recs_load(cur_path, &rc, err, sizeof err));
    assert_true(bench_compare(&rb, &rc, 0.05, "fused", &cmp));
    assert_int_equal(cmp.n, 2);
    assert_string_equal(cmp.rows[0].cur->mode, "fused");
    assert_true(fabs(cmp.rows[0].decode.change + 0.5) < 1e-9);
    assert_int_equal(cmp.rows[0].verdict, BENCH_SLOWER);
    assert_int_equal(cmp.rows[1].verdict, BENCH_SAME);
    assert_false(cmp.rows[1].prefill.present); /* no prefill at depth 1024 */
    assert_int_equal(cmp.n_new, 0);
    bench_cmp_free(&cmp);
    /* Without it the modes differ: nothing matches. */
    assert_true(bench_compare(&rb, &rc, 0.05, NULL, &cmp));
    assert_int_equal(cmp.n_missing, 2);
    assert_int_equal(cmp.n_new, 3);
    bench_cmp_free(&cmp);
    bench_recs_free(&rb);
    bench_recs_free(&rc);
}

/* Each broken line is refused with its line number and the field. */
static void test_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"model\":\"m\",\"type\":\"q4_0\",\"mode\":\"fused\",\"depth\":0,\"decode_tps\":1,"
         "\"prefill_tps\":1}\n{\"model\":\"m\"\n", ":2: not JSON"},
        {"\n{\"type\":\"q4_0\",\"mode\":\"fused\",\"depth\":0,\"decode_tps\":1,\"prefill_tps\":1}\n",
         ":2: not a bench row: field model"},
        {"{\"model\":\"m\",\"type\":\"q4_0\",\"mode\":\"fused\",\"depth\":-3,\"decode_tps\":1,"
         "\"prefill_tps\":1}\n", ":1: not a bench row: field depth"},
        {"{\"model\":\"m\",\"type\":\"q4_0\",\"mode\":\"fused\",\"depth\":0,\"decode_tps\":1,"
         "\"prefill_tps\":1,\"decode_tps_reps\":[1,\"x\"]}\n", "field decode_tps_reps"},
        {"[1,2]\n", ":1: not a bench row: field (not an object)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(base_path, "w");
        assert_non_null(f);
        fputs(cases[i].text, f);
        fclose(f);
        bench_recs r;
        char err[256] = "";
        assert_false(bench_recs_load(base_path, &r, err, sizeof err));
        assert_non_null(strstr(err, cases[i].want));
        assert_null(r.v);
    }
    bench_recs r;
    char err[256] = "";
    assert_false(bench_recs_load("/nonexistent/results.jsonl", &r, err, sizeof err));
    assert_non_null(strstr(err, "No such file"));
}

/* Plot data: models by weight bytes, one column per mode and depth, NaN
 * where a model lacks one. */
static void test_plot_data(void **state)
{
    (void)state;
    row_spec c[] = {{"big", "fused", 0, {1, 1, 1}, {1, 1, 1}, 3, 5000000},
                    {"big", "unfused", 0, {1, 1, 1}, {1, 1, 1}, 3, 5000000},
                    {"small", "fused", 0, {1, 1, 1}, {1, 1, 1}, 3, 1000000}};
    write_rows(cur_path, c, 3);
    bench_recs r;
    char err[256], *text = NULL;
    size_t len = 0;
    assert_true(bench_recs_load(cur_path, &r, err, sizeof err));
    FILE *f = open_memstream(&text, &len);
    bench_plot_data(f, &r);
    fclose(f);
    const char *want = "# device: testdev\n"
                       "x\tmodel\tweight_MB\troofline\tfused, depth 0\tunfused, depth 0\n"
                       "1\tsmall q4_0\t1.000\t4245.0\t0.1\tNaN\n"
                       "2\tbig q4_0\t5.000\t4245.0\t0.5\t0.5\n";
    assert_string_equal(text, want);
    free(text);
    bench_recs_free(&r);
}

/* What make bench relies on, through the tool: exit 0 within the band,
 * 1 on a regression (table on stdout, one line on stderr, the markdown
 * written either way), 2 for a file that is not bench rows. */
static void test_cli_exit_codes(void **state)
{
    (void)state;
    char md[64];
    snprintf(md, sizeof md, "/tmp/pdvm_cmp_%d.md", (int)getpid());
    row_spec b[] = {{"m", "fused", 0, {100, 98, 102}, {500, 510, 490}, 3, 1000}};
    row_spec same[] = {{"m", "fused", 0, {99, 97, 101}, {505, 500, 495}, 3, 1000}};
    row_spec slow[] = {{"m", "fused", 0, {70, 71, 69}, {505, 500, 495}, 3, 1000}};
    write_rows(base_path, b, 1);
    write_rows(cur_path, same, 1);
    const char *const args[] = {"bench", "--compare", base_path, cur_path, "--md", md, NULL};
    cli_result r = cli_run(args, NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "| ok      |"));
    cli_result_free(&r);
    write_rows(cur_path, slow, 1);
    r = cli_run(args, NULL);
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.out, "| SLOWER  |"));
    assert_int_equal(cli_count_lines(r.err), 1);
    assert_non_null(strstr(r.err, "1 rows slower"));
    cli_result_free(&r);
    size_t n;
    uint8_t *raw = test_read_file(md, &n);
    char *text = realloc(raw, n + 1); /* NUL-terminated for strstr */
    assert_non_null(text);
    text[n] = '\0';
    assert_non_null(strstr(text, "# pdvm bench: slower than the baseline"));
    assert_non_null(strstr(text, "-30.0%"));
    free(text);
    unlink(md);
    FILE *f = fopen(cur_path, "w");
    assert_non_null(f);
    fputs("{\"model\":1}\n", f);
    fclose(f);
    cli_expect_one_line_error(args, NULL, 2, ":1: not a bench row: field model");
    cli_expect_one_line_error((const char *const[]){"bench", "--compare", base_path, NULL}, NULL,
                              2, "needs the CURRENT results file");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noise_band),
        cmocka_unit_test_setup_teardown(test_regression_beyond_band, setup, teardown),
        cmocka_unit_test_setup_teardown(test_within_band_and_prefill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floor_without_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_current_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plot_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_exit_codes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
