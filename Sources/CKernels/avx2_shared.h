// The AVX2 pieces that ckernels.c, cktiny.c and ckscreen.c share, so that the paths compute
// the same bits: the in-register 8 x 8 transpose, lane masks, the AdamW update of eight
// parameters, and the walk over the decode layout two panels at a time.
// x86 only; include after <immintrin.h>. A private header of the CKernels target.
#ifndef CK_AVX2_SHARED_H
#define CK_AVX2_SHARED_H

// In-place 8 x 8 transpose of the rows r[0..7].
__attribute__((target("avx2,fma")))
static inline void transpose8x8_avx2(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// A mask of lanes 0..<k of 8 for maskload/maskstore; k below 0 gives none, above 8 all.
__attribute__((target("avx2")))
static inline __m256i ck_lane_mask(long k) {
    long c = k < 0 ? 0 : k > 8 ? 8 : k;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The decode layout read two panels of W outputs at a time (matvec_decode_avx2, the greedy
// head's screen): of the 2W outputs of panels q and q + 1 (q alone when it is the last of
// [q0,q1), its stream then read twice), how many are real.
static inline long ck_panel_pair_valid(long q, long q1, long N, long W) {
    long j0 = q * W;
    long valid = N - j0 < 2 * W ? N - j0 : 2 * W;
    if (q + 1 >= q1 && valid > W) valid = W;
    return valid;
}

// Stores the first `valid` (≤ 32) of the outputs c0..c3 at out.
__attribute__((target("avx2,fma")))
static inline void ck_store_panel_pair(float *out, long valid, __m256 c0, __m256 c1, __m256 c2, __m256 c3) {
    if (valid == 32) {
        _mm256_storeu_ps(out, c0); _mm256_storeu_ps(out + 8, c1);
        _mm256_storeu_ps(out + 16, c2); _mm256_storeu_ps(out + 24, c3);
    } else {
        float t[32] __attribute__((aligned(32)));
        _mm256_store_ps(t, c0); _mm256_store_ps(t + 8, c1);
        _mm256_store_ps(t + 16, c2); _mm256_store_ps(t + 24, c3);
        for (long r = 0; r < valid; r++) out[r] = t[r];
    }
}

// The AdamW constants as vectors (spec/TRAINING.md's update; bias1/bias2 are 1 − β^t).
// divide1/divide2: 0 once a bias correction has rounded to 1 (β^t at most 2^-25: from
// step 165 for β1 0.9, from step 17 321 for β2 0.999). x / 1 is x, bit for bit (−0, ∞ and
// NaN too), so the update skips that division; its divisions and root are most of its time.
typedef struct {
    __m256 b1, omb1, b2, omb2, lr, eps, bias1, bias2;
    int divide1, divide2;
} ck_adamw_vectors;

__attribute__((target("avx2,fma")))
static inline ck_adamw_vectors ck_adamw_vectors_make(float lr, float beta1, float one_minus_beta1, float beta2,
                                                     float one_minus_beta2, float eps, float bias1, float bias2) {
    ck_adamw_vectors c = {_mm256_set1_ps(beta1), _mm256_set1_ps(one_minus_beta1), _mm256_set1_ps(beta2),
                          _mm256_set1_ps(one_minus_beta2), _mm256_set1_ps(lr), _mm256_set1_ps(eps),
                          _mm256_set1_ps(bias1), _mm256_set1_ps(bias2), bias1 != 1.0f, bias2 != 1.0f};
    return c;
}

// Elements i..i+7 with gradient gi: m and v updated, then
// p ← p·decay − lr·(m / bias1) / (√(v / bias2) + eps), separate multiplies and adds, exact
// division and square root (the scalar code's order, so every lane rounds as it does).
__attribute__((target("avx2,fma")))
static inline void ck_adamw8(const ck_adamw_vectors *c, __m256 decay, float *p, float *m, float *v, __m256 gi, long i) {
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(c->b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c->omb1, gi));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(c->b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(c->omb2, _mm256_mul_ps(gi, gi)));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 num = _mm256_mul_ps(c->lr, c->divide1 ? _mm256_div_ps(mi, c->bias1) : mi);
    __m256 den = _mm256_add_ps(_mm256_sqrt_ps(c->divide2 ? _mm256_div_ps(vi, c->bias2) : vi), c->eps);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i), decay), _mm256_div_ps(num, den)));
}

#endif
