/* Capsules: versioned JSON records of what zf measured (docs/CAPSULE.md).
 *
 * Every capsule is one JSON object: common header fields (schema, kind, id,
 * created, tool, machine, tier, kernels) and, beside them, the fields of its
 * kind ("gate" now; "validate", "bench" later). A writer makes the header
 * with zf_capsule_new(), adds its own fields, then zf_capsule_seal() sets
 * the content id. */
#ifndef ZF_TOOL_CAPSULE_H
#define ZF_TOOL_CAPSULE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "cj.h"
#include "core/registry.h"

#define ZF_CAPSULE_SCHEMA "zfast.capsule/1"
#define ZF_CAPSULE_SCHEMA_PREFIX "zfast.capsule/"
#define ZF_CAPSULE_MAJOR 1

/* A capsule of `kind` with the header filled in (NULL when out of memory). */
cJSON *zf_capsule_new(const char *kind);
/* Records under "kernels" the variant each op runs on `be` with `fidelity`
 * (AUTO: what the current tier runs), keyed "<op>" or "<op>.<fidelity>",
 * prefixed "cuda." for the CUDA backend. */
void zf_capsule_add_kernel(cJSON *cap, zf_op op, zf_device be, zf_fidelity fidelity);
/* Sets "id": the first 16 hex digits of the SHA-256 of the capsule printed
 * without "id" (cJSON_PrintUnformatted). Returns 0, or -1 when out of memory. */
int zf_capsule_seal(cJSON *cap);
/* 1 when the stored id matches the content, 0 when not (edited or absent). */
int zf_capsule_id_ok(const cJSON *cap);

/* Writes the capsule (pretty JSON) to path, creating its directory when it
 * is missing. Returns 0, or -1 with the reason in err. */
int zf_capsule_write(const cJSON *cap, const char *path, char *err, size_t err_size);
/* Reads and checks a capsule (JSON object, schema of a major version this
 * zf reads). Returns it, or NULL with the reason in err. */
cJSON *zf_capsule_read(const char *path, char *err, size_t err_size);

/* "2025-11-25T22:40:00Z" for now, and a file-name form "20251125-224000". */
void zf_capsule_timestamps(char iso[32], char compact[32]);

/* Prints the common header in a few lines. */
void zf_capsule_print_header(const cJSON *cap, FILE *f);
/* Prints the header fields that differ between a and b (machine, commit, tier, kernels). */
void zf_capsule_diff_header(const cJSON *a, const cJSON *b, FILE *f);

#endif
