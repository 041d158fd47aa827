/* zf: the zfast command. Dispatches to the subcommands of commands.h. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "zfast.h"

typedef struct zf_command {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
} zf_command;

#define ZF_COMMAND_ENTRY(name, help) {#name, help, zf_cmd_##name},
static const zf_command k_commands[] = {ZF_COMMANDS(ZF_COMMAND_ENTRY)};
#undef ZF_COMMAND_ENTRY
#define N_COMMANDS ((int)(sizeof k_commands / sizeof *k_commands))

static void print_help(FILE *f) {
    fprintf(f, "usage: zf COMMAND [options]   (zf COMMAND --help for its options)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-9s %s\n", k_commands[i].name, k_commands[i].help);
    fprintf(f, "\nenvironment: ZF_TIER=stable|fast|edge, ZF_CPU_ISA=scalar|avx2|avx512\n");
}

int zf_cmd_version(int argc, char **argv) {
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "zf: version takes no arguments\nusage: zf version\n");
        return 2;
    }
    printf("zf %s\n%s\n", zf_version(), zf_build_info());
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) return zf_cmd_version(1, argv + 1);
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], k_commands[i].name) != 0) continue;
        /* a ZF_TIER or ZF_CPU_ISA that names nothing stops every command but version */
        if (k_commands[i].fn != zf_cmd_version && zf_env_check() != ZF_OK) {
            fprintf(stderr, "zf: %s\n", zf_last_error());
            return 2;
        }
        return k_commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "zf: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return 2;
}
