/* Placeholder: replaced by the shader embedder (issue 2). Emits an empty table. */
#include <stdio.h>
int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    FILE *f = fopen(argv[2], "w");
    if (!f) return 1;
    fprintf(f, "#include <stddef.h>\nconst char *pdvm_shader_source(const char *name);\n"
               "const char *pdvm_shader_source(const char *name) { (void)name; return NULL; }\n");
    return fclose(f) ? 1 : 0;
}
