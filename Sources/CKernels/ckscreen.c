// ckscreen.c: the greedy head's half-precision screen (include/ckscreen.h).
#include "ckscreen.h"
#include "ckernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "avx2_shared.h"
#define CK_SCREEN_X86 1
#define CK_F16C __attribute__((target("avx2,fma,f16c")))
#else
#define CK_SCREEN_X86 0
#endif

int ck_screen_available(void) {
#if CK_SCREEN_X86
    if (!ck_avx2_available()) return 0;
    __builtin_cpu_init();   // cpuid once per process (ck_avx2_available ran it already)
    return __builtin_cpu_supports("f16c") ? 1 : 0;
#else
    return 0;
#endif
}

#if CK_SCREEN_X86
// One pass at memory speed: each panel's floats are converted and stored, and per row
// (per lane) a float sum of squares and a range check are kept; the radius then follows
// from the bounds in ckscreen.h, with ‖b_j‖₂ ≤ B_j = √(S_j/(1 − γ_{K+1}) + K·2⁻¹²⁶) for
// the float sum S_j (the last term: squares lost to underflow).
CK_F16C
static void screen_pack_f16c(uint16_t *half, double *radius, const float *packed, long K, long N, long q0, long q1) {
    const long W = CK_DECODE_PANEL;
    const double u = 0x1p-24, n = (double)(K + 2), m = (double)(K + 1);
    const double gamma = n * u / (1.0 - n * u), sumFactor = 1.0 / (1.0 - m * u / (1.0 - m * u));
    const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 halfMax = _mm256_set1_ps(65504.0f);
    for (long q = q0; q < q1; q++) {
        const float *src = packed + q * W * K;
        uint16_t *dst = half + q * W * K;
        __m256 sq0 = _mm256_setzero_ps(), sq1 = sq0;
        __m256 ok0 = _mm256_castsi256_ps(_mm256_set1_epi32(-1)), ok1 = ok0;
        for (long p = 0; p < K; p++) {
            __m256 x0 = _mm256_load_ps(src + p * W), x1 = _mm256_load_ps(src + p * W + 8);
            _mm_store_si128((__m128i *)(dst + p * W), _mm256_cvtps_ph(x0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            _mm_store_si128((__m128i *)(dst + p * W + 8), _mm256_cvtps_ph(x1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            sq0 = _mm256_fmadd_ps(x0, x0, sq0);
            sq1 = _mm256_fmadd_ps(x1, x1, sq1);
            // NaN compares false: it clears the lane's flag like a value out of range.
            ok0 = _mm256_and_ps(ok0, _mm256_cmp_ps(_mm256_and_ps(x0, absMask), halfMax, _CMP_LE_OQ));
            ok1 = _mm256_and_ps(ok1, _mm256_cmp_ps(_mm256_and_ps(x1, absMask), halfMax, _CMP_LE_OQ));
        }
        float sq[16], ok[16];
        _mm256_storeu_ps(sq, sq0); _mm256_storeu_ps(sq + 8, sq1);
        _mm256_storeu_ps(ok, ok0); _mm256_storeu_ps(ok + 8, ok1);
        for (long r = 0; r < W && q * W + r < N; r++) {
            unsigned flag;
            memcpy(&flag, ok + r, sizeof flag);
            double b = sqrt((double)sq[r] * sumFactor + (double)K * 0x1p-126);
            double e = 0x1p-11 * b + sqrt((double)K) * 0x1p-25;   // ‖b_j − h_j‖₂
            double h = b + e;                                     // ‖h_j‖₂
            double rad = (e + gamma * (b + h)) * (1.0 + 0x1p-20);
            radius[q * W + r] = flag && isfinite(rad) ? rad : INFINITY;
        }
    }
}

// Two panels side by side, two chains each (as matvec_decode_avx2): the half stream is
// read once, at memory speed.
CK_F16C
static void screen_product_f16c(float *out, const float *a, const uint16_t *half, long K, long N, long q0, long q1) {
    const long W = CK_DECODE_PANEL;
    for (long q = q0; q < q1; q += 2) {
        const uint16_t *w0 = half + q * W * K;
        const uint16_t *w1 = q + 1 < q1 ? w0 + W * K : w0;
        long j0 = q * W, valid = ck_panel_pair_valid(q, q1, N, W);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (long p = 0; p < K; p++) {
            __m256 ap = _mm256_broadcast_ss(a + p);
            s0 = _mm256_fmadd_ps(ap, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w0 + p * W))), s0);
            s1 = _mm256_fmadd_ps(ap, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w0 + p * W + 8))), s1);
            s2 = _mm256_fmadd_ps(ap, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w1 + p * W))), s2);
            s3 = _mm256_fmadd_ps(ap, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w1 + p * W + 8))), s3);
        }
        ck_store_panel_pair(out + j0, valid, s0, s1, s2, s3);
    }
}
#endif

void ck_screen_pack(uint16_t *half, double *radius, const float *packed, long K, long N, long q0, long q1) {
#if CK_SCREEN_X86
    if (ck_screen_available()) { screen_pack_f16c(half, radius, packed, K, N, q0, q1); return; }
#else
    (void)half; (void)radius; (void)packed; (void)K; (void)N; (void)q0; (void)q1;
#endif
}

void ck_screen_product(float *out, const float *a, const uint16_t *half, long K, long N, long q0, long q1) {
#if CK_SCREEN_X86
    if (ck_screen_available()) { screen_product_f16c(out, a, half, K, N, q0, q1); return; }
#else
    (void)out; (void)a; (void)half; (void)K; (void)N; (void)q0; (void)q1;
#endif
}

// Both passes compute a row's bound with the same operations (4 rows a vector, the
// rows past the last multiple of 4 one at a time), so the row that sets ℓ is always a
// candidate.
static long screen_candidates_tail(long *ids, long count, const float *scores, const double *radius, double norm,
                                   long j0, long N, double lower) {
    for (long j = j0; j < N; j++)
        if ((double)scores[j] + ck_screen_bound(norm, radius[j], scores[j]) >= lower) ids[count++] = j;
    return count;
}

#if CK_SCREEN_X86
CK_F16C
static long screen_candidates_avx2(long *ids, const float *scores, const double *radius, double norm, long N) {
    const __m256d vn = _mm256_set1_pd(norm), rel = _mm256_set1_pd(0x1p-20), tiny = _mm256_set1_pd(1e-30);
    const __m256d absMask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
    const __m256d inf = _mm256_set1_pd(INFINITY);
    __m256d lo0 = _mm256_set1_pd(-INFINITY), lo1 = lo0;
    __m256d ok = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    long j = 0;
    for (; j + 8 <= N; j += 8) {
        __m256d s0 = _mm256_cvtps_pd(_mm_loadu_ps(scores + j)), s1 = _mm256_cvtps_pd(_mm_loadu_ps(scores + j + 4));
        __m256d a0 = _mm256_and_pd(s0, absMask), a1 = _mm256_and_pd(s1, absMask);
        ok = _mm256_and_pd(ok, _mm256_and_pd(_mm256_cmp_pd(a0, inf, _CMP_LT_OQ), _mm256_cmp_pd(a1, inf, _CMP_LT_OQ)));
        __m256d b0 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(vn, _mm256_loadu_pd(radius + j)), _mm256_mul_pd(a0, rel)), tiny);
        __m256d b1 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(vn, _mm256_loadu_pd(radius + j + 4)), _mm256_mul_pd(a1, rel)), tiny);
        lo0 = _mm256_max_pd(lo0, _mm256_sub_pd(s0, b0));
        lo1 = _mm256_max_pd(lo1, _mm256_sub_pd(s1, b1));
    }
    if (_mm256_movemask_pd(ok) != 0xf) return -1;
    double l[4];
    _mm256_storeu_pd(l, _mm256_max_pd(lo0, lo1));
    double lower = l[0];
    for (int i = 1; i < 4; i++) lower = l[i] > lower ? l[i] : lower;
    for (long t = j; t < N; t++) {
        if (!isfinite(scores[t])) return -1;
        double lo = (double)scores[t] - ck_screen_bound(norm, radius[t], scores[t]);
        lower = lo > lower ? lo : lower;
    }
    const __m256d vl = _mm256_set1_pd(lower);
    long count = 0;
    for (long i = 0; i < j; i += 8) {
        __m256d s0 = _mm256_cvtps_pd(_mm_loadu_ps(scores + i)), s1 = _mm256_cvtps_pd(_mm_loadu_ps(scores + i + 4));
        __m256d a0 = _mm256_and_pd(s0, absMask), a1 = _mm256_and_pd(s1, absMask);
        __m256d b0 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(vn, _mm256_loadu_pd(radius + i)), _mm256_mul_pd(a0, rel)), tiny);
        __m256d b1 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(vn, _mm256_loadu_pd(radius + i + 4)), _mm256_mul_pd(a1, rel)), tiny);
        int m = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_add_pd(s0, b0), vl, _CMP_GE_OQ))
              | _mm256_movemask_pd(_mm256_cmp_pd(_mm256_add_pd(s1, b1), vl, _CMP_GE_OQ)) << 4;
        for (; m; m &= m - 1) ids[count++] = i + __builtin_ctz(m);
    }
    return screen_candidates_tail(ids, count, scores, radius, norm, j, N, lower);
}
#endif

long ck_screen_candidates(long *ids, const float *scores, const double *radius, double norm, long N) {
#if CK_SCREEN_X86
    if (ck_screen_available()) return screen_candidates_avx2(ids, scores, radius, norm, N);
#endif
    double lower = -INFINITY;
    for (long j = 0; j < N; j++) {
        if (!isfinite(scores[j])) return -1;
        double lo = (double)scores[j] - ck_screen_bound(norm, radius[j], scores[j]);
        lower = lo > lower ? lo : lower;
    }
    return screen_candidates_tail(ids, 0, scores, radius, norm, 0, N, lower);
}
