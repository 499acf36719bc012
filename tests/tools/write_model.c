/* Write a random-weight GGUF of one of the test shapes (tests/arch_models.h)
 * to a file, for measurements on a model of a real size that no test keeps
 * on disk:
 *
 *   build/tests/tools/write_model tinyllama-1.1b q4_0 /tmp/tinyllama.gguf
 *   build/tests/tools/write_model tinyllama-1.1b q4_0 /tmp/t6.gguf --layers 6
 *
 * Options: --layers N (override the shape's layer count), --seed S
 * (default 1), --vocab DIR (default ../shared/models/vocab). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../arch_models.h"

static int usage(void)
{
    fprintf(stderr, "usage: write_model SHAPE TYPE OUT [--layers N] [--seed S] [--vocab DIR]\n"
                    "  SHAPE: tinyllama-1.1b, llama-3-8b or a test architecture (llama3, qwen2, ...)\n");
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || s[0] == '-') return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) return usage();
    const arch_spec *found = arch_spec_find(argv[1]);
    uint32_t type;
    if (!found) return fprintf(stderr, "write_model: unknown shape '%s'\n", argv[1]), 2;
    if (!arch_type_from_name(argv[2], &type))
        return fprintf(stderr, "write_model: unknown type '%s'\n", argv[2]), 2;
    arch_spec s = *found;
    uint64_t seed = 1, layers = s.n_layer;
    const char *vocab = "../shared/models/vocab";
    for (int i = 4; i < argc; i++) {
        bool has = i + 1 < argc;
        if (has && !strcmp(argv[i], "--layers") && parse_u64(argv[i + 1], &layers) && layers > 0 &&
            layers <= 128)
            i++;
        else if (has && !strcmp(argv[i], "--seed") && parse_u64(argv[i + 1], &seed))
            i++;
        else if (has && !strcmp(argv[i], "--vocab"))
            vocab = argv[++i];
        else
            return usage();
    }
    s.n_layer = (uint32_t)layers;
    return arch_model_write(&s, type, seed, false, vocab, argv[3]) ? 0 : 1;
}
