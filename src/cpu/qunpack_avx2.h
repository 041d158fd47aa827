/* Unpacking quantized codes into 32-bit lanes with AVX2, shared by the
 * canonical-dot kernels of qmm_avx2.c and qmm_avx512.c (which builds with
 * AVX2 too). Include only from files built with -mavx2. */
#ifndef ZF_CPU_QUNPACK_AVX2_H
#define ZF_CPU_QUNPACK_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define ZF_QU_INLINE static inline __attribute__((always_inline))

ZF_QU_INLINE uint32_t zf_qu_ld16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
ZF_QU_INLINE uint32_t zf_qu_ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
ZF_QU_INLINE uint64_t zf_qu_ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* q of elements 8r .. 8r+7 of the block at b (bits words, LSB-first) as
 * integers in 8 lanes: the word (or bytes) holding them broadcast, one
 * variable shift, one mask. May read up to 3 bytes past a 3/5/6-bit block;
 * callers pad a row's last block. */
ZF_QU_INLINE __m256i zf_qu_unpack8(const uint8_t *b, int r, const int bits) {
    __m256i v, sh;
    switch (bits) {
    case 2: /* 16 bits: no read past the block */
        v = _mm256_set1_epi32((int)zf_qu_ld16(b + 2 * r));
        sh = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
        break;
    case 3:
        v = _mm256_set1_epi32((int)zf_qu_ld32(b + 3 * r));
        sh = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
        break;
    case 4:
        v = _mm256_set1_epi32((int)zf_qu_ld32(b + 4 * r));
        sh = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        break;
    case 5: { /* 40 bits: lanes 0-5 from the low word, 6-7 from the word 8 bits up */
        uint64_t u = zf_qu_ld64(b + 5 * r);
        v = _mm256_blend_epi32(_mm256_set1_epi32((int)(uint32_t)u), _mm256_set1_epi32((int)(uint32_t)(u >> 8)), 0xC0);
        sh = _mm256_setr_epi32(0, 5, 10, 15, 20, 25, 22, 27);
        break;
    }
    case 6: { /* 48 bits: lanes 0-4 from the low word, 5-7 from the word 16 bits up */
        uint64_t u = zf_qu_ld64(b + 6 * r);
        v = _mm256_blend_epi32(_mm256_set1_epi32((int)(uint32_t)u), _mm256_set1_epi32((int)(uint32_t)(u >> 16)), 0xE0);
        sh = _mm256_setr_epi32(0, 6, 12, 18, 24, 14, 20, 26);
        break;
    }
    default: /* 8 */
        return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(b + 8 * r)));
    }
    return _mm256_and_si256(_mm256_srlv_epi32(v, sh), _mm256_set1_epi32((1 << bits) - 1));
}

#endif
