/* Edge-tier int8 kernel (fidelity approx; docs/NUMERICS.md §8.7) on
 * AVX-512 (F/BW): the walk of qmm_i8_walk.h with its 4-bit block dots on
 * 512-bit vectors, four blocks per maddubs instead of two. x is the AVX2
 * kernel's prepared row (zf_avx2_qx_i8_prepare, the same layout), and the
 * results are the AVX2 kernel's bit for bit (test_qmm_i8 checks): the
 * block dots are exact integers and the f32 part is the template's. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "cpu/qmm_i8.h"

/* 4-bit block dots on 512-bit vectors: a quad of blocks j .. j+3 is 64
 * bytes of codes, one block per 128-bit lane; its low nibbles meet
 * [E(j) E(j+1) E(j+2) E(j+3)] (E: a block's even elements, O: odd) and its
 * high nibbles [O(j) .. O(j+3)], both taken from the pair layout's two
 * 64-byte units [E(j) E(j+1) O(j) O(j+1)], [E(j+2) E(j+3) O(j+2) O(j+3)]
 * by one lane shuffle each. The sums are exact integers, so a stretch's 8
 * block dots are those of the AVX2 walk bit for bit. */
INLINE __m512i quad4(__m512i lo, __m512i hi, const int8_t *xq) {
    const __m512i A = _mm512_loadu_si512(xq), B = _mm512_loadu_si512(xq + 64);
    return _mm512_add_epi16(_mm512_maddubs_epi16(lo, _mm512_shuffle_i64x2(A, B, 0x44)),
                            _mm512_maddubs_epi16(hi, _mm512_shuffle_i64x2(A, B, 0xee)));
}
INLINE void split4(const uint8_t *w, __m512i *lo, __m512i *hi) {
    const __m512i m4 = _mm512_set1_epi8(15), c = _mm512_loadu_si512(w);
    *lo = _mm512_and_si512(c, m4);
    *hi = _mm512_and_si512(_mm512_srli_epi16(c, 4), m4);
}
/* The 8 int32 block dots from the int16 pair sums of blocks 0-3 (v0, lane
 * L = block L) and 4-7 (v1), in block order. */
INLINE __m256i reduce8(__m512i v0, __m512i v1) {
    const __m512i ones = _mm512_set1_epi16(1);
    const __m512i a = _mm512_madd_epi16(v0, ones), b = _mm512_madd_epi16(v1, ones); /* 4 int32 per block */
    __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
    s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_CDAB)); /* lane L: [block L] x 2, [block L + 4] x 2 */
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castsi512_si256(_mm512_permutexvar_epi32(idx, s));
}
INLINE __m256i stretch4(const uint8_t *w, const int8_t *xq) {
    __m512i lo0, hi0, lo1, hi1;
    split4(w, &lo0, &hi0);
    split4(w + 64, &lo1, &hi1);
    return reduce8(quad4(lo0, hi0, xq), quad4(lo1, hi1, xq + 128));
}
INLINE void stretch4_x2(const uint8_t *w, const int8_t *xq0, const int8_t *xq1, __m256i *d0, __m256i *d1) {
    __m512i lo0, hi0, lo1, hi1;
    split4(w, &lo0, &hi0);
    split4(w + 64, &lo1, &hi1);
    *d0 = reduce8(quad4(lo0, hi0, xq0), quad4(lo1, hi1, xq0 + 128));
    *d1 = reduce8(quad4(lo0, hi0, xq1), quad4(lo1, hi1, xq1 + 128));
}

#define ZF_I8(name) zf_avx512_##name
#define ZF_I8_CANON zf_avx512_qdot
#include "cpu/qmm_i8_walk.h"
