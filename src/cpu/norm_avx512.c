/* AVX-512 norm kernels: 16 lanes, bit-identical to the scalar kernels in
 * norm.c (the loops are in norm_simd.h); the 256 L256 lanes fit in 16 of
 * the 32 vector registers. */
#include "cpu/simd_avx512.h"

#define ZF_VEC __m512
#define ZF_VW 16
#define ZF_V(name) zf_avx512_##name
#define ZF_VINLINE ZF_AVX512_INLINE
#define ZF_VSET1 _mm512_set1_ps
#define ZF_VADD _mm512_add_ps
#define ZF_VSUB _mm512_sub_ps
#define ZF_VMUL _mm512_mul_ps
#define ZF_VFMA _mm512_fmadd_ps
#define ZF_VSTORE_F32 _mm512_storeu_ps
/* fma on lanes < m; the others keep c exactly */
#define ZF_VFMA_FIRST(a, b, c, m) _mm512_mask3_fmadd_ps(a, b, c, zf_avx512_first(m))

ZF_AVX512_INLINE void zf_avx512_stream(zf_dtype t, void *p, int64_t i, __m512 v) {
    switch (t) {
    case ZF_DTYPE_F16: _mm256_stream_si256((__m256i *)((uint16_t *)p + i), zf_avx512_cvt_f16(v)); break;
    case ZF_DTYPE_BF16: _mm256_stream_si256((__m256i *)((uint16_t *)p + i), zf_avx512_cvt_bf16(v)); break;
    default: _mm512_stream_ps((float *)p + i, v); break;
    }
}
#define ZF_VSTREAM zf_avx512_stream

#include "cpu/norm_simd.h"
