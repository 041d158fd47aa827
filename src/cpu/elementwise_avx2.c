/* AVX2/FMA/F16C elementwise kernels: 8 lanes, bit-identical to the scalar
 * kernels in elementwise.c (the loops are in elementwise_simd.h). */
#include "cpu/elementwise.h"
#include "cpu/simd_avx2.h"

#define ZF_VEC __m256
#define ZF_VW 8
#define ZF_V(name) zf_avx2_##name
#define ZF_VINLINE ZF_AVX2_INLINE
#define ZF_VZERO _mm256_setzero_ps
#define ZF_VADD _mm256_add_ps
#define ZF_VMUL _mm256_mul_ps
#define ZF_VDIV _mm256_div_ps
#define ZF_VLOAD_F32A _mm256_load_ps
#define ZF_VSTORE_F32A _mm256_store_ps

#include "cpu/elementwise_simd.h"
