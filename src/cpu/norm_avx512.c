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

#include "cpu/norm_simd.h"
