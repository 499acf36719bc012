/* Placeholder until its issue lands: replaced by the real subcommand. */
#include <stdio.h>

#include "cli.h"

int pdvm_cli_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pdvm info: not available yet\n");
    return PDVM_EXIT_FAIL;
}
