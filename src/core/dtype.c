#include "core/dtype.h"
#include "core/error.h"

#include <string.h>

static const char *const k_names[ZF_DTYPE_COUNT] = {"f32", "f16", "bf16", "u32", "i32"};
static const size_t k_sizes[ZF_DTYPE_COUNT] = {4, 2, 2, 4, 4};

const char *zf_dtype_name(zf_dtype t) {
    return (t >= 0 && t < ZF_DTYPE_COUNT) ? k_names[t] : "invalid";
}

size_t zf_dtype_size(zf_dtype t) { return (t >= 0 && t < ZF_DTYPE_COUNT) ? k_sizes[t] : 0; }

zf_status zf_dtype_parse(const char *s, zf_dtype *out) {
    if (!s || !out) return zf_error(ZF_ERR_INVALID_ARG, "[dtype] NULL argument");
    for (int i = 0; i < ZF_DTYPE_COUNT; i++)
        if (strcmp(s, k_names[i]) == 0) { *out = (zf_dtype)i; return ZF_OK; }
    return zf_error(ZF_ERR_INVALID_ARG, "[dtype] unknown dtype '%s' (expected f32, f16, bf16, u32 or i32)", s);
}

uint16_t zf_f32_to_f16(float x) { return zf_cvt_f32_f16(x); }
float zf_f16_to_f32(uint16_t h) { return zf_cvt_f16_f32(h); }
uint16_t zf_f32_to_bf16(float x) { return zf_cvt_f32_bf16(x); }
float zf_bf16_to_f32(uint16_t h) { return zf_cvt_bf16_f32(h); }
