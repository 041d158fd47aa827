/* AVX2/FMA/F16C norm kernels: 8 lanes, bit-identical to the scalar kernels
 * in norm.c (the loops are in norm_simd.h). */
#include "cpu/simd_avx2.h"

#define ZF_VEC __m256
#define ZF_VW 8
#define ZF_V(name) zf_avx2_##name
#define ZF_VINLINE ZF_AVX2_INLINE
#define ZF_VSET1 _mm256_set1_ps
#define ZF_VADD _mm256_add_ps
#define ZF_VSUB _mm256_sub_ps
#define ZF_VMUL _mm256_mul_ps
#define ZF_VFMA _mm256_fmadd_ps
#define ZF_VSTORE_F32 _mm256_storeu_ps

/* fma on lanes < m; the others keep c exactly (no +0 added to them) */
ZF_AVX2_INLINE __m256 zf_avx2_fma_first(__m256 a, __m256 b, __m256 c, int64_t m) {
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)m), lane));
    return _mm256_blendv_ps(c, _mm256_fmadd_ps(a, b, c), keep);
}
#define ZF_VFMA_FIRST zf_avx2_fma_first

#include "cpu/norm_simd.h"
