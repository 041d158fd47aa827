/* Strict option parsing for zf commands: every option is declared; an
 * unknown option, a missing value or a stray argument is a usage error. */
#ifndef ZF_TOOL_ARGS_H
#define ZF_TOOL_ARGS_H

typedef struct zf_opt {
    const char *name;    /* "--dtype" or "-o" */
    const char *metavar; /* "f32|f16|bf16"; NULL for a flag */
    const char *help;
    const char **value;  /* receives the value (options with a metavar) */
    int *flag;           /* set to 1 (flags) */
} zf_opt;

/* Parses argv[1..argc): "--name value", "--name=value", flags, and up to
 * max_pos positionals into pos[] (count in *n_pos). Returns 0 when parsed,
 * 1 when --help was printed, 2 after printing a usage error to stderr. */
int zf_parse_args(const char *usage, int argc, char **argv, const zf_opt *opts, int n_opts, const char **pos,
                  int max_pos, int *n_pos);

/* Prints "zf: <message>" and the usage line to stderr; returns 2. */
int zf_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The value s of option `flag` as an integer in [lo, hi] into *out; a NULL
 * s (the option not given) keeps *out. Returns 0, or 2 after the usage
 * error "FLAG 'S': expected LO..HI". */
int zf_arg_long(const char *usage, const char *flag, const char *s, long lo, long hi, long *out);

#endif
