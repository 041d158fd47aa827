/* zf gate for the fused MoE ops: gather_qmm_swiglu, gather_qmm_combine and
 * moe (router + both), on Qwen3-30B-A3B's layer shapes (gate_moe.c). */
#ifndef ZF_TOOL_GATE_MOE_H
#define ZF_TOOL_GATE_MOE_H

#include "gate.h"

/* 1 when `op` names one of these gates. */
int zf_gate_moe_op(const char *op);

/* Like zf_gate_run (same return codes and capsule fields, plus the MoE
 * shapes, the routing and per-row expert counts). */
int zf_gate_moe_run(const zf_gate_backend *be, const zf_gate_request *req, cJSON *cap, char *msg, size_t msg_size);

/* Records under "kernels" every variant the gate's two paths run. */
void zf_gate_moe_kernels(cJSON *cap, const char *op, zf_device dev);

#endif
