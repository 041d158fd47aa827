/* zf gate swiglu|add_rms_norm|gather_qmm_swiglu|gather_qmm_combine|moe [--backend cpu|cuda] [--dtype f32|f16|bf16]
 *         [--json] [--quick] [-o capsule.json] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "capsule.h"
#include "commands.h"
#include "core/cuda_loader.h"
#include "gate.h"
#include "gate_moe.h"

static const char k_usage[] =
    "zf gate swiglu|add_rms_norm|gather_qmm_swiglu|gather_qmm_combine|moe [--backend cpu|cuda] [--dtype f32|f16|bf16] [--json] [--quick] [-o capsule.json]";

static int backend_unavailable(const char *name) {
    if (strcmp(name, "cuda") != 0) return zf_usage_error(k_usage, "unknown backend '%s' (expected cpu or cuda)", name);
    const char *why = "";
    zf_cuda_plugin_loaded(&why);
    fprintf(stderr, "zf: the CUDA backend is unavailable to zf gate: this zf has no CUDA gate (tools/zf/gate_cuda.c); "
                    "CUDA plugin: %s\n", why);
    return 2;
}

int zf_cmd_gate(int argc, char **argv) {
    const char *backend = "cpu", *dtype = "bf16", *out = NULL, *pos[1];
    int json = 0, quick = 0, n_pos;
    const zf_opt opts[] = {
        {"--backend", "cpu|cuda", "where the ops run (default cpu)", &backend, NULL},
        {"--dtype", "f32|f16|bf16", "storage dtype (default bf16)", &dtype, NULL},
        {"--json", NULL, "print the capsule (one JSON object) instead of the table", NULL, &json},
        {"--quick", NULL, "a small sweep (CI)", NULL, &quick},
        {"-o", "FILE", "capsule path (default capsules/gate-<op>-<backend>-<dtype>-<time>.json)", &out, NULL},
    };
    int rc = zf_parse_args(k_usage, argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 1, &n_pos);
    if (rc) return rc == 1 ? 0 : rc;
    if (n_pos != 1) return zf_usage_error(k_usage, "which fusion? swiglu, add_rms_norm, gather_qmm_swiglu, gather_qmm_combine or moe");
    int moe = zf_gate_moe_op(pos[0]);
    if (strcmp(pos[0], "swiglu") != 0 && strcmp(pos[0], "add_rms_norm") != 0 && !moe)
        return zf_usage_error(k_usage, "unknown fusion '%s' (expected swiglu, add_rms_norm, gather_qmm_swiglu, "
                              "gather_qmm_combine or moe)", pos[0]);
    zf_gate_request req = {.op = pos[0], .quick = quick};
    if (zf_dtype_parse(dtype, &req.dtype) != ZF_OK || zf_dtype_size(req.dtype) == 0 || req.dtype == ZF_DTYPE_U32 ||
        req.dtype == ZF_DTYPE_I32)
        return zf_usage_error(k_usage, "bad --dtype '%s' (expected f32, f16 or bf16)", dtype);
    const zf_gate_backend *be = zf_gate_backend_find(backend);
    if (!be) return backend_unavailable(backend);
    char msg[512] = "";
    if (be->open(msg, sizeof msg) != 0) {
        fprintf(stderr, "zf: the %s backend is unavailable: %s\n", be->name, msg);
        return 2;
    }

    cJSON *cap = zf_capsule_new("gate");
    if (!cap) { fprintf(stderr, "zf: out of memory\n"); return 1; }
    rc = moe ? zf_gate_moe_run(be, &req, cap, msg, sizeof msg) : zf_gate_run(be, &req, cap, msg, sizeof msg);
    if (rc != 0) {
        fprintf(stderr, "zf: gate %s failed: %s\n", req.op, msg);
        cJSON_Delete(cap);
        return rc;
    }
    const zf_op parts[2][3] = {{ZF_OP_SWIGLU, ZF_OP_SILU, ZF_OP_MUL}, {ZF_OP_ADD_RMS_NORM, ZF_OP_ADD, ZF_OP_RMS_NORM}};
    const zf_op *p = parts[strcmp(req.op, "swiglu") == 0 ? 0 : 1];
    if (moe) {
        zf_gate_moe_kernels(cap, req.op, be->device);
    } else {
        zf_capsule_add_kernel(cap, p[0], be->device, ZF_FIDELITY_AUTO);
        zf_capsule_add_kernel(cap, p[0], be->device, ZF_FIDELITY_STOCK);
        zf_capsule_add_kernel(cap, p[1], be->device, ZF_FIDELITY_AUTO);
        zf_capsule_add_kernel(cap, p[2], be->device, ZF_FIDELITY_AUTO);
    }
    char path[1024], iso[32], compact[32];
    zf_capsule_timestamps(iso, compact);
    if (out) snprintf(path, sizeof path, "%s", out);
    else snprintf(path, sizeof path, "capsules/gate-%s-%s-%s-%s.json", req.op, be->name, zf_dtype_name(req.dtype), compact);
    rc = 0;
    if (zf_capsule_seal(cap) != 0 || zf_capsule_write(cap, path, msg, sizeof msg) != 0) {
        fprintf(stderr, "zf: capsule not written: %s\n", msg);
        rc = 1;
    }
    if (json) {
        char *s = cJSON_Print(cap);
        if (s) printf("%s\n", s);
        free(s);
    } else {
        zf_gate_print(cap, stdout);
    }
    if (rc == 0) fprintf(json ? stderr : stdout, "capsule: %s (id %s)\n", path, zf_cj_str(cap, "id"));
    cJSON_Delete(cap);
    return rc;
}
