/* AVX-512 (F/BW/VL) elementwise kernels: 16 lanes, masked tails,
 * bit-identical to the scalar kernels in elementwise.c (the loops are in
 * elementwise_simd.h). */
#include "cpu/elementwise.h"
#include "cpu/simd_avx512.h"

#define ZF_VEC __m512
#define ZF_VW 16
#define ZF_V(name) zf_avx512_##name
#define ZF_VINLINE ZF_AVX512_INLINE
#define ZF_VZERO _mm512_setzero_ps
#define ZF_VADD _mm512_add_ps
#define ZF_VMUL _mm512_mul_ps
#define ZF_VDIV _mm512_div_ps
#define ZF_VLOAD_F32A _mm512_load_ps
#define ZF_VSTORE_F32A _mm512_store_ps

#include "cpu/elementwise_simd.h"
