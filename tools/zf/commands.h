/* The zf subcommands. Each lives in its own tools/zf/cmd_*.c; add one by
 * adding a line here (name, one-line help) and defining zf_cmd_<name>.
 * A command gets argv with argv[0] = its name and returns the exit code:
 * 0 done, 1 the work failed, 2 bad usage or environment. */
#ifndef ZF_TOOL_COMMANDS_H
#define ZF_TOOL_COMMANDS_H

#define ZF_COMMANDS(X)                                                                         \
    X(version, "print the zfast version and build")                                            \
    X(caps, "what this machine offers and which kernel runs per op and tier [--json]")         \
    X(gate, "time a fusion against its stock composition: gate swiglu|add_rms_norm|gather_qmm_swiglu|gather_qmm_combine|moe") \
    X(capsule, "read capsules: capsule show FILE | capsule diff A B")                            \
    X(run, "generate text, streamed: run MODEL -p PROMPT [-n N] [--chat] [--temp T ...]")                 \
    X(validate, "stock path vs a tier on a real model, every token compared: validate MODEL [options]") \
    X(bench, "prefill and decode tok/s vs the memory roofline: bench MODEL [-p 128] [-n 64] [-r 3] [--json]") \
    X(ppl, "perplexity of a text file: ppl MODEL TEXTFILE [-c CTX]")                               \
    X(synth, "write a model with seeded random weights: synth --arch A --preset P --format gguf|mlx -o PATH")

#define ZF_DECLARE_COMMAND(name, help) int zf_cmd_##name(int argc, char **argv);
ZF_COMMANDS(ZF_DECLARE_COMMAND)
#undef ZF_DECLARE_COMMAND

#endif
