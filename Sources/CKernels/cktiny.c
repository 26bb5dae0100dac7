// cktiny.c: a small model's training step on one thread, bit-identical to the general
// path (see include/cktiny.h). Each function below names the Swift op it mirrors; keep
// them in step: the tests compare the two paths bit for bit.
#include "cktiny.h"
#include "ckernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "avx2_shared.h"
#define CT_X86 1
#else
#define CT_X86 0
#endif

// Products and sums are rounded separately everywhere except in the matrix products,
// which use explicit FMA intrinsics as the AVX2 GEMM does.
#pragma STDC FP_CONTRACT OFF

#if CT_X86
#define CT_AVX2 __attribute__((target("avx2,fma")))

// MARK: - Matrix products

// C(i,j) for i < M, j < N, as ck_sgemm_block computes it with CK_IMPL_AVX2: for each block
// of CK_KC reduction indices, s = 0 and s = fma(A(i,p), B(p,j), s) for p ascending; the
// first block overwrites C with s (+ bias[j]) unless `accumulate`, every other adds C + s.
// A(i,p) = a[i·ars + p·acs]; B(p,j) = b[p·brs + j] (rows contiguous in j). Six rows and
// sixteen columns per register tile; a short last tile repeats its last row and masks its
// columns, which changes no element's arithmetic. Written once as a macro and compiled
// twice: with AVX-512VL mask registers for the partial columns (cheap masked loads and
// stores), and with AVX2 vmaskmov for CPUs without AVX-512.
#define CT_SGEMM_SMALL(NAME, TARGET, MASK_T, MASK, LOADM, STOREM)                                      \
TARGET static void NAME(float *c, long ldc, const float *a, long ars, long acs,                       \
                        const float *b, long brs, long M, long N, long K,                             \
                        int accumulate, const float *bias) {                                          \
    for (long j0 = 0; j0 < N; j0 += 16) {                                                             \
        const MASK_T m0 = MASK(N - j0), m1 = MASK(N - j0 - 8);                                        \
        for (long i0 = 0; i0 < M; i0 += 6) {                                                          \
            long last = (M - i0 < 6 ? M - i0 : 6) - 1;                                               \
            const float *ar[6];                                                                       \
            for (int r = 0; r < 6; r++) ar[r] = a + (i0 + (r < last ? r : last)) * ars;               \
            for (long pc = 0; pc < K; pc += CK_KC) {                                                  \
                long p1 = K - pc < CK_KC ? K : pc + CK_KC;                                            \
                __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();                          \
                __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();                          \
                __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();                          \
                __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();                          \
                __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();                          \
                __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();                          \
                for (long p = pc; p < p1; p++) {                                                      \
                    const float *bp = b + p * brs + j0;                                               \
                    __m256 b0 = LOADM(bp, m0), b1 = LOADM(bp + 8, m1);                                \
                    __m256 x;                                                                         \
                    long o = p * acs;                                                                 \
                    x = _mm256_broadcast_ss(ar[0] + o); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01); \
                    x = _mm256_broadcast_ss(ar[1] + o); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11); \
                    x = _mm256_broadcast_ss(ar[2] + o); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21); \
                    x = _mm256_broadcast_ss(ar[3] + o); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31); \
                    x = _mm256_broadcast_ss(ar[4] + o); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41); \
                    x = _mm256_broadcast_ss(ar[5] + o); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51); \
                }                                                                                     \
                int overwrite = pc == 0 && !accumulate;                                               \
                __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();                      \
                if (overwrite && bias) { bias0 = LOADM(bias + j0, m0); bias1 = LOADM(bias + j0 + 8, m1); } \
                __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};        \
                for (long r = 0; r <= last; r++) {                                                    \
                    float *cr = c + (i0 + r) * ldc + j0;                                              \
                    __m256 x0 = acc[2 * r], x1 = acc[2 * r + 1];                                      \
                    if (!overwrite) {                                                                 \
                        x0 = _mm256_add_ps(LOADM(cr, m0), x0);                                        \
                        x1 = _mm256_add_ps(LOADM(cr + 8, m1), x1);                                    \
                    } else if (bias) {                                                                \
                        x0 = _mm256_add_ps(x0, bias0);                                                \
                        x1 = _mm256_add_ps(x1, bias1);                                                \
                    }                                                                                 \
                    STOREM(cr, m0, x0);                                                               \
                    STOREM(cr + 8, m1, x1);                                                           \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }                                                                                                 \
}

// AVX2: lane masks in a vector register (ck_lane_mask).
#define CT_LOAD_AVX2(p, m) _mm256_maskload_ps((p), (m))
#define CT_STORE_AVX2(p, m, v) _mm256_maskstore_ps((p), (m), (v))
CT_SGEMM_SMALL(sgemm_small_avx2, CT_AVX2, __m256i, ck_lane_mask, CT_LOAD_AVX2, CT_STORE_AVX2)

// AVX-512VL: lane masks in mask registers.
#define CT_AVX512 __attribute__((target("avx2,fma,avx512f,avx512vl")))
static inline __mmask8 lane_mask_k(long n) {
    return n <= 0 ? (__mmask8)0 : n >= 8 ? (__mmask8)0xff : (__mmask8)((1u << n) - 1);
}
#define CT_LOAD_K(p, m) _mm256_maskz_loadu_ps((m), (p))
#define CT_STORE_K(p, m, v) _mm256_mask_storeu_ps((p), (m), (v))
CT_SGEMM_SMALL(sgemm_small_avx512, CT_AVX512, __mmask8, lane_mask_k, CT_LOAD_K, CT_STORE_K)

static int ct_avx512vl(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

static void sgemm_small(float *c, long ldc, const float *a, long ars, long acs,
                        const float *b, long brs, long M, long N, long K, int accumulate, const float *bias) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (long i = 0; i < M; i++)
                for (long j = 0; j < N; j++) c[i * ldc + j] = bias ? bias[j] : 0.0f;
        return;
    }
    if (ct_avx512vl()) sgemm_small_avx512(c, ldc, a, ars, acs, b, brs, M, N, K, accumulate, bias);
    else sgemm_small_avx2(c, ldc, a, ars, acs, b, brs, M, N, K, accumulate, bias);
}

// out(M,N) = a(M,K)·W(N,K)ᵀ + bias, given Wt = Wᵀ (K,N): Kernels.matmulForward.
CT_AVX2 static void matmul_forward(float *out, const float *a, const float *Wt, const float *bias, long M, long N, long K) {
    sgemm_small(out, N, a, K, 1, Wt, N, M, N, K, 0, bias);
}

// dA(M,K) += dOut(M,N)·W(N,K), or with accumulate == 0 dA = dOut·W (the bits of adding it
// to zeros): Kernels.matmulBackwardInput.
CT_AVX2 static void matmul_backward_input(float *dA, const float *dOut, const float *W, long M, long N, long K,
                                          int accumulate) {
    sgemm_small(dA, K, dOut, N, 1, W, K, M, K, N, accumulate, NULL);
}

// dW(N,K) = dOut(M,N)ᵀ·a(M,K), written over (the bits Kernels.matmulBackwardWeight adds to
// the zeroed gradient: see ck_matmul_backward_b), dBias(N) += Σ_m dOut(m,·).
CT_AVX2 static void matmul_backward_weight(float *dW, float *dBias, const float *dOut, const float *a, long M, long N, long K) {
    sgemm_small(dW, K, dOut, 1, N, a, K, N, K, M, 0, NULL);
    if (dBias)
        for (long m = 0; m < M; m++) {
            const float *row = dOut + m * N;
            for (long n = 0; n < N; n++) dBias[n] += row[n];
        }
}

// Layer la's GELU exps (ActivationLayout.geluExps), or NULL when the model does not keep them.
static float *gelu_exps(const ck_tiny_model *m, float *la) { return m->fchExp >= 0 ? la + m->fchExp : NULL; }

// dst(C,R) = src(R,C)ᵀ: 8 x 8 blocks in registers, the edges element by element.
CT_AVX2 static void transpose(float *restrict dst, const float *restrict src, long R, long C) {
    long R8 = R & ~7L, C8 = C & ~7L;
    for (long r0 = 0; r0 < R8; r0 += 8)
        for (long c0 = 0; c0 < C8; c0 += 8) {
            __m256 v[8];
            for (int k = 0; k < 8; k++) v[k] = _mm256_loadu_ps(src + (r0 + k) * C + c0);
            transpose8x8_avx2(v);
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (c0 + k) * R + r0, v[k]);
        }
    for (long r = 0; r < R; r++)
        for (long c = r < R8 ? C8 : 0; c < C; c++) dst[c * R + r] = src[r * C + c];
}

// MARK: - Ops (mirroring Ops.swift)

// encoderForward
static void encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, long B, long T, long C) {
    for (long r = 0; r < B * T; r++) {
        long t = r % T;
        float *o = out + r * C;
        const float *e = wte + (long)tokens[r] * C, *p = wpe + t * C;
        for (long c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}

// encoderBackward
static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, long B, long T, long C) {
    for (long b = 0; b < B; b++)
        for (long t = 0; t < T; t++) {
            const float *d = dout + (b * T + t) * C;
            float *e = dwte + (long)tokens[b * T + t] * C, *p = dwpe + t * C;
            for (long c = 0; c < C; c++) {
                e[c] += d[c];
                p[c] += d[c];
            }
        }
}

// layernormForward / layernormBackward: the general path's kernels (cklayernorm.c).
static inline void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                                     const float *bias, long N, long C, float eps) {
    ck_layernorm_forward(out, mean, rstd, inp, weight, bias, C, eps, 0, N);
}

static inline void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                      const float *weight, const float *mean, const float *rstd, long N, long C) {
    ck_layernorm_backward_rows(dinp, dout, inp, weight, mean, rstd, C, 0, N);
    ck_layernorm_backward_params(dweight, dbias, dout, inp, mean, rstd, N, C, 0, C);
}

// dotProduct: 8 interleaved lanes over the first n & ~7 terms, lanes combined as
// ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), then the rest in order.
static inline float dot_product(const float *a, const float *b, long n) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) l[k] = a[i + k] * b[i + k] + l[k];
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; i < n; i++) s = a[i] * b[i] + s;
    return s;
}

// axpy: y = alpha·x + y.
static inline void axpy(float *y, float alpha, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] = alpha * x[i] + y[i];
}

// attentionForwardLoops
static void attention_forward(float *out, float *att, const float *inp, long B, long T, long C, long H) {
    long C3 = 3 * C, hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    for (long bh = 0; bh < B * H; bh++) {
        long b = bh / H, h = bh % H;
        const float *seq = inp + b * T * C3;
        long headCol = h * hs;
        for (long t = 0; t < T; t++) {
            const float *q = seq + t * C3 + headCol;
            float *row = att + (bh * T + t) * T;
            float maxv = -INFINITY;
            for (long t2 = 0; t2 <= t; t2++) {
                float s = dot_product(q, seq + t2 * C3 + C + headCol, hs) * scale;
                row[t2] = s;
                if (s > maxv) maxv = s;
            }
            float sum = ck_exp_shift_sum(row, t + 1, maxv);
            float inv = 1.0f / sum;
            for (long t2 = 0; t2 <= t; t2++) row[t2] *= inv;
            for (long t2 = t + 1; t2 < T; t2++) row[t2] = 0.0f;
            float *o = out + (b * T + t) * C + headCol;
            for (long i = 0; i < hs; i++) o[i] = 0.0f;
            for (long t2 = 0; t2 <= t; t2++) axpy(o, row[t2], seq + t2 * C3 + 2 * C + headCol, hs);
        }
    }
}

// attentionBackwardLoops (scratch: T floats)
static void attention_backward(float *dinp, const float *dout, const float *inp, const float *att,
                               long B, long T, long C, long H, float *scratch) {
    long C3 = 3 * C, hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    for (long bh = 0; bh < B * H; bh++) {
        long b = bh / H, h = bh % H;
        const float *seq = inp + b * T * C3;
        float *dseq = dinp + b * T * C3;
        long headCol = h * hs;
        for (long t = 0; t < T; t++) {
            const float *row = att + (bh * T + t) * T;
            const float *d = dout + (b * T + t) * C + headCol;
            float dot = 0.0f;
            for (long t2 = 0; t2 <= t; t2++) {
                long vOffset = t2 * C3 + 2 * C + headCol;
                float w = row[t2];
                float s = dot_product(seq + vOffset, d, hs);
                axpy(dseq + vOffset, w, d, hs);
                scratch[t2] = s;
                dot = w * s + dot;
            }
            for (long t2 = 0; t2 <= t; t2++) scratch[t2] = row[t2] * (scratch[t2] - dot) * scale;
            long qOffset = t * C3 + headCol;
            const float *q = seq + qOffset;
            float *dq = dseq + qOffset;
            for (long t2 = 0; t2 <= t; t2++) {
                long kOffset = t2 * C3 + C + headCol;
                float gs = scratch[t2];
                axpy(dq, gs, seq + kOffset, hs);
                axpy(dseq + kOffset, gs, q, hs);
            }
        }
    }
}

// residualForward
static void residual_forward(float *out, const float *a, const float *b, long N) {
    for (long i = 0; i < N; i++) out[i] = a[i] + b[i];
}

// softmaxCrossEntropyForward
static double softmax_cross_entropy_forward(float *probs, float *losses, const float *logits, const int32_t *targets, long N, long V) {
    for (long i = 0; i < N; i++) {
        const float *l = logits + i * V;
        float *p = probs + i * V;
        float maxv = -INFINITY;
        for (long j = 0; j < V; j++) if (l[j] > maxv) maxv = l[j];
        memcpy(p, l, sizeof(float) * (size_t)V);
        float sum = ck_exp_shift_sum(p, V, maxv);
        float inv = 1.0f / sum;
        for (long j = 0; j < V; j++) p[j] *= inv;
        int32_t y = targets[i];
        losses[i] = y == -1 ? 0.0f : -logf(p[y]);
    }
    double total = 0;
    for (long i = 0; i < N; i++) if (targets[i] != -1) total += (double)losses[i];
    return total;
}

// crossEntropySoftmaxBackward
static void cross_entropy_softmax_backward(float *dlogits, const float *probs, const int32_t *targets, long N, long V, long count) {
    float inv = count > 0 ? (float)(1.0 / (double)count) : 0.0f;
    for (long i = 0; i < N; i++) {
        float *d = dlogits + i * V;
        int32_t y = targets[i];
        if (y == -1) {
            for (long j = 0; j < V; j++) d[j] = 0.0f;
            continue;
        }
        const float *p = probs + i * V;
        for (long j = 0; j < V; j++) d[j] = p[j] * inv;
        d[y] = (p[y] - 1.0f) * inv;
    }
}

// MARK: - Model (mirroring Model.forward / Model.backward)

// Scratch: the largest transposed weight, then one attention row.
static long weight_scratch_count(long C, long V, long F) {
    long big = 3 * C * C;
    if (C * F > big) big = C * F;
    if (C * V > big) big = C * V;
    return big;
}

long ck_tiny_scratch_count(long C, long V, long F, long T) {
    return weight_scratch_count(C, V, F) + T;
}

// Model.packQKVWeights for one layer: wqkvT (3C, C), row s·C + h·hs + j, column d = W_s[h][d][j];
// and its transpose (C, 3C) for the forward product, built first from runs of hs floats.
CT_AVX2 static void pack_qkv(float *wqkvT, float *wqkvTt, const float *p, const ck_tiny_layer *w, long C, long H) {
    long hs = C / H;
    for (long s = 0; s < 3; s++) {
        const float *W = p + (s == 0 ? w->wq : s == 1 ? w->wk : w->wv);
        for (long h = 0; h < H; h++)
            for (long d = 0; d < C; d++) {
                // A run of hs floats (the tutorial's 8: one vector; memcpy's call cost more).
                float *to = wqkvTt + d * 3 * C + s * C + h * hs;
                const float *from = W + (h * C + d) * hs;
                long j = 0;
                for (; j + 8 <= hs; j += 8) _mm256_storeu_ps(to + j, _mm256_loadu_ps(from + j));
                for (; j < hs; j++) to[j] = from[j];
            }
    }
    transpose(wqkvT, wqkvTt, C, 3 * C);
}

CT_AVX2 double ck_tiny_forward(const ck_tiny_model *m) {
    const long B = m->B, T = m->T, C = m->C, V = m->V, H = m->H, F = m->F, L = m->L, BT = B * T;
    const float *p = m->params;
    float *a = m->acts, *wt = m->scratch;
    encoder_forward(a + m->encoded, m->tokens, p + m->tokEmb, p + m->posEmb, B, T, C);
    float *x = a + m->encoded;
    for (long l = 0; l < L; l++) {
        const ck_tiny_layer *w = &m->layers[l];
        float *la = a + l * m->layerStride;
        float *wqkv = a + m->wqkvT + l * 3 * C * C;
        pack_qkv(wqkv, wt, p, w, C, H);
        if (m->arch == 0) {
            matmul_forward(la + m->qkv, x, wt, NULL, BT, 3 * C, C);
            attention_forward(la + m->atty, la + m->att, la + m->qkv, B, T, C, H);
            transpose(wt, p + w->wo, C, C);
            matmul_forward(la + m->attproj, la + m->atty, wt, NULL, BT, C, C);
            transpose(wt, p + w->w1, F, C);
            matmul_forward(la + m->fch, la + m->attproj, wt, p + w->b1, BT, F, C);
            ck_gelu_forward(la + m->fchGelu, gelu_exps(m, la), la + m->fch, 0, BT * F);
            transpose(wt, p + w->w2, C, F);
            matmul_forward(la + m->fcproj, la + m->fchGelu, wt, p + w->b2, BT, C, F);
            residual_forward(la + m->res3, la + m->attproj, la + m->fcproj, BT * C);
            layernorm_forward(la + m->lnOut, la + m->lnMean, la + m->lnRstd, la + m->res3,
                              p + w->ln1Gamma, p + w->ln1Beta, BT, C, m->eps);
            x = la + m->lnOut;
        } else {
            layernorm_forward(la + m->ln1, la + m->ln1Mean, la + m->ln1Rstd, x, p + w->ln1Gamma, p + w->ln1Beta, BT, C, m->eps);
            matmul_forward(la + m->qkv, la + m->ln1, wt, NULL, BT, 3 * C, C);
            attention_forward(la + m->atty, la + m->att, la + m->qkv, B, T, C, H);
            transpose(wt, p + w->wo, C, C);
            matmul_forward(la + m->attproj, la + m->atty, wt, NULL, BT, C, C);
            residual_forward(la + m->res2, x, la + m->attproj, BT * C);
            layernorm_forward(la + m->ln2, la + m->ln2Mean, la + m->ln2Rstd, la + m->res2, p + w->ln2Gamma, p + w->ln2Beta, BT, C, m->eps);
            transpose(wt, p + w->w1, F, C);
            matmul_forward(la + m->fch, la + m->ln2, wt, p + w->b1, BT, F, C);
            ck_gelu_forward(la + m->fchGelu, gelu_exps(m, la), la + m->fch, 0, BT * F);
            transpose(wt, p + w->w2, C, F);
            matmul_forward(la + m->fcproj, la + m->fchGelu, wt, p + w->b2, BT, C, F);
            residual_forward(la + m->res3, la + m->res2, la + m->fcproj, BT * C);
            x = la + m->res3;
        }
    }
    if (m->arch == 1) {
        layernorm_forward(a + m->lnf, a + m->lnfMean, a + m->lnfRstd, x, p + m->lnfGamma, p + m->lnfBeta, BT, C, m->eps);
        x = a + m->lnf;
    }
    transpose(wt, p + m->lmHead, V, C);
    matmul_forward(a + m->logits, x, wt, NULL, BT, V, C);
    return softmax_cross_entropy_forward(a + m->probs, a + m->losses, a + m->logits, m->targets, BT, V);
}

// Model.accumulateQKVGradients: scratch(C, 3C) = inputᵀ·dqkv written over (the bits of
// adding it to zeros), then copied into the (H, C, hs) gradients a run of hs floats at a
// time (the bits of adding it to the zeroed gradients).
CT_AVX2 static void accumulate_qkv_gradients(const ck_tiny_model *m, long l, const float *dqkv, const float *input, long rows) {
    const long C = m->C, H = m->H, hs = C / H;
    float *scratch = m->acts + m->dwqkvT;   // (C, 3C)
    sgemm_small(scratch, 3 * C, input, 1, C, dqkv, 3 * C, C, 3 * C, rows, 0, NULL);
    const ck_tiny_layer *w = &m->layers[l];
    for (long s = 0; s < 3; s++) {
        float *g = m->grads + (s == 0 ? w->wq : s == 1 ? w->wk : w->wv);
        for (long h = 0; h < H; h++)
            for (long d = 0; d < C; d++) {
                float *to = g + (h * C + d) * hs;
                const float *from = scratch + d * 3 * C + s * C + h * hs;
                for (long j = 0; j < hs; j++) to[j] = from[j];
            }
    }
}

CT_AVX2 void ck_tiny_backward(const ck_tiny_model *m) {
    const long B = m->B, T = m->T, C = m->C, V = m->V, H = m->H, F = m->F, L = m->L, BT = B * T;
    const float *p = m->params;
    float *g = m->grads, *a = m->acts;
    float *dres = a + m->dres, *dln = a + m->dln;
    float *attScratch = m->scratch + weight_scratch_count(C, V, F);
    for (long r = 0; r < m->zeroRangeCount; r++)   // the rest is written over
        memset(g + m->zeroRanges[2 * r], 0, sizeof(float) * (size_t)(m->zeroRanges[2 * r + 1] - m->zeroRanges[2 * r]));

    cross_entropy_softmax_backward(a + m->dlogits, a + m->probs, m->targets, BT, V, m->targetCount);
    float *lastLayer = a + (L - 1) * m->layerStride;
    if (m->arch == 0) {
        matmul_backward_input(dres, a + m->dlogits, p + m->lmHead, BT, V, C, 0);
        matmul_backward_weight(g + m->lmHead, NULL, a + m->dlogits, lastLayer + m->lnOut, BT, V, C);
    } else {
        matmul_backward_input(dln, a + m->dlogits, p + m->lmHead, BT, V, C, 0);
        matmul_backward_weight(g + m->lmHead, NULL, a + m->dlogits, a + m->lnf, BT, V, C);
        memset(dres, 0, sizeof(float) * (size_t)(BT * C));
        layernorm_backward(dres, g + m->lnfGamma, g + m->lnfBeta, dln, lastLayer + m->res3,
                           p + m->lnfGamma, a + m->lnfMean, a + m->lnfRstd, BT, C);
    }
    for (long l = L - 1; l >= 0; l--) {
        const ck_tiny_layer *w = &m->layers[l];
        float *la = a + l * m->layerStride;
        float *below = l > 0 ? a + (l - 1) * m->layerStride : a;
        float *wqkv = a + m->wqkvT + l * 3 * C * C;
        float *dfchGelu = a + m->dfchGelu, *dfch = a + m->dfch, *dmh = a + m->dmh, *datty = a + m->datty, *dqkv = a + m->dqkv;
        if (m->arch == 0) {
            const float *xin = l == 0 ? a + m->encoded : below + m->lnOut;
            memset(dln, 0, sizeof(float) * (size_t)(BT * C));
            layernorm_backward(dln, g + w->ln1Gamma, g + w->ln1Beta, dres, la + m->res3,
                               p + w->ln1Gamma, la + m->lnMean, la + m->lnRstd, BT, C);
            matmul_backward_input(dfchGelu, dln, p + w->w2, BT, C, F, 0);
            matmul_backward_weight(g + w->w2, g + w->b2, dln, la + m->fchGelu, BT, C, F);
            ck_gelu_backward(dfch, la + m->fch, gelu_exps(m, la), dfchGelu, 0, BT * F, 0);
            memcpy(dmh, dln, sizeof(float) * (size_t)(BT * C));
            matmul_backward_input(dmh, dfch, p + w->w1, BT, F, C, 1);
            matmul_backward_weight(g + w->w1, g + w->b1, dfch, la + m->attproj, BT, F, C);
            matmul_backward_input(datty, dmh, p + w->wo, BT, C, C, 0);
            matmul_backward_weight(g + w->wo, NULL, dmh, la + m->atty, BT, C, C);
            memset(dqkv, 0, sizeof(float) * (size_t)(BT * 3 * C));
            attention_backward(dqkv, datty, la + m->qkv, la + m->att, B, T, C, H, attScratch);
            matmul_backward_input(dres, dqkv, wqkv, BT, 3 * C, C, 0);
            accumulate_qkv_gradients(m, l, dqkv, xin, BT);
        } else {
            const float *xin = l == 0 ? a + m->encoded : below + m->res3;
            matmul_backward_input(dfchGelu, dres, p + w->w2, BT, C, F, 0);
            matmul_backward_weight(g + w->w2, g + w->b2, dres, la + m->fchGelu, BT, C, F);
            ck_gelu_backward(dfch, la + m->fch, gelu_exps(m, la), dfchGelu, 0, BT * F, 0);
            matmul_backward_input(dln, dfch, p + w->w1, BT, F, C, 0);
            matmul_backward_weight(g + w->w1, g + w->b1, dfch, la + m->ln2, BT, F, C);
            layernorm_backward(dres, g + w->ln2Gamma, g + w->ln2Beta, dln, la + m->res2,
                               p + w->ln2Gamma, la + m->ln2Mean, la + m->ln2Rstd, BT, C);
            matmul_backward_input(datty, dres, p + w->wo, BT, C, C, 0);
            matmul_backward_weight(g + w->wo, NULL, dres, la + m->atty, BT, C, C);
            memset(dqkv, 0, sizeof(float) * (size_t)(BT * 3 * C));
            attention_backward(dqkv, datty, la + m->qkv, la + m->att, B, T, C, H, attScratch);
            matmul_backward_input(dln, dqkv, wqkv, BT, 3 * C, C, 0);
            accumulate_qkv_gradients(m, l, dqkv, la + m->ln1, BT);
            layernorm_backward(dres, g + w->ln1Gamma, g + w->ln1Beta, dln, xin,
                               p + w->ln1Gamma, la + m->ln1Mean, la + m->ln1Rstd, BT, C);
        }
    }
    encoder_backward(g + m->tokEmb, g + m->posEmb, dres, m->tokens, B, T, C);
}

// MARK: - AdamW fused with the gradient norm

// The update of ck_adamw_update (same element arithmetic) and Σ g² in the order of
// ck_sum_of_squares, in one pass: the norm's dependent adds then overlap the update's
// divisions instead of running as a latency-bound pass of their own.
typedef struct {
    double lanes[4];
    double total;
} ct_norm;

#define CT_ADAMW_SCALAR(i, decay)                                                            \
    do {                                                                                     \
        float gi = g[i];                                                                     \
        float mi = beta1 * m[i] + one_minus_beta1 * gi;                                      \
        float vi = beta2 * v[i] + one_minus_beta2 * (gi * gi);                               \
        m[i] = mi;                                                                           \
        v[i] = vi;                                                                           \
        p[i] = p[i] * (decay) - lr * (mi / bias1) / (sqrtf(vi / bias2) + eps);               \
    } while (0)

CT_AVX2 double ck_adamw_update_sum_of_squares(float *p, const float *g, float *m, float *v, long n, long block,
                                              const long *noDecay, long ranges,
                                              float lr, float beta1, float one_minus_beta1, float beta2,
                                              float one_minus_beta2, float eps, float decay, float bias1, float bias2) {
    const ck_adamw_vectors c = ck_adamw_vectors_make(lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, bias1, bias2);
    double total = 0;
    long r = 0;   // next no-decay range that may still apply
    for (long start = 0; start < n; start += block) {
        long end = start + block < n ? start + block : n;
        long tail = end - (end - start) % 4;   // elements from here go to lane 0
        __m256d lanes = _mm256_setzero_pd();
        double l[4] = {0, 0, 0, 0};
        long i = start;
        while (i < end) {
            // The segment [i, segEnd) has one decay.
            while (r < ranges && noDecay[2 * r + 1] <= i) r++;
            float d = decay;
            long segEnd = end;
            if (r < ranges && noDecay[2 * r] <= i) { d = 1.0f; if (noDecay[2 * r + 1] < segEnd) segEnd = noDecay[2 * r + 1]; }
            else if (r < ranges && noDecay[2 * r] < segEnd) segEnd = noDecay[2 * r];
            const __m256 vdecay = _mm256_set1_ps(d);
            // Scalar until the lanes line up with a vector of 4.
            while (i < segEnd && (i % 4 != 0 || i >= tail)) {
                double x = (double)g[i];
                int lane = i >= tail ? 0 : (int)(i % 4);
                _mm256_storeu_pd(l, lanes);
                l[lane] = x * x + l[lane];
                lanes = _mm256_loadu_pd(l);
                CT_ADAMW_SCALAR(i, d);
                i++;
            }
            long vend = segEnd < tail ? segEnd : tail;
            for (; i + 8 <= vend; i += 8) {
                __m256 gi = _mm256_loadu_ps(g + i);
                __m256d x0 = _mm256_cvtps_pd(_mm256_castps256_ps128(gi));
                __m256d x1 = _mm256_cvtps_pd(_mm256_extractf128_ps(gi, 1));
                lanes = _mm256_add_pd(_mm256_mul_pd(x0, x0), lanes);
                lanes = _mm256_add_pd(_mm256_mul_pd(x1, x1), lanes);
                ck_adamw8(&c, vdecay, p, m, v, gi, i);
            }
            for (; i < segEnd; i++) {
                double x = (double)g[i];
                int lane = i >= tail ? 0 : (int)(i % 4);
                _mm256_storeu_pd(l, lanes);
                l[lane] = x * x + l[lane];
                lanes = _mm256_loadu_pd(l);
                CT_ADAMW_SCALAR(i, d);
            }
        }
        _mm256_storeu_pd(l, lanes);
        total += (l[0] + l[1]) + (l[2] + l[3]);
    }
    return total;
}

// MARK: - Gradient norm

CT_AVX2 static double sum_of_squares_avx2(const float *g, long n, long block) {
    double total = 0;
    for (long start = 0; start < n; start += block) {
        long end = start + block < n ? start + block : n;
        __m256d s = _mm256_setzero_pd();
        long i = start;
        for (; i + 4 <= end; i += 4) {
            __m256d x = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
            s = _mm256_add_pd(_mm256_mul_pd(x, x), s);
        }
        double l[4];
        _mm256_storeu_pd(l, s);
        for (; i < end; i++) {
            double x = (double)g[i];
            l[0] = x * x + l[0];
        }
        total += (l[0] + l[1]) + (l[2] + l[3]);
    }
    return total;
}
#endif

double ck_sum_of_squares(const float *g, long n, long block) {
#if CT_X86
    if (ck_avx2_available()) return sum_of_squares_avx2(g, n, block);
#endif
    double total = 0;
    for (long start = 0; start < n; start += block) {
        long end = start + block < n ? start + block : n;
        double l[4] = {0, 0, 0, 0};
        long i = start;
        for (; i + 4 <= end; i += 4)
            for (int k = 0; k < 4; k++) {
                double x = (double)g[i + k];
                l[k] = x * x + l[k];
            }
        for (; i < end; i++) {
            double x = (double)g[i];
            l[0] = x * x + l[0];
        }
        total += (l[0] + l[1]) + (l[2] + l[3]);
    }
    return total;
}

#if !CT_X86
// The path needs the AVX2 kernels; without them SmallModelPath never calls these.
double ck_tiny_forward(const ck_tiny_model *m) { (void)m; return 0; }
void ck_tiny_backward(const ck_tiny_model *m) { (void)m; }
double ck_adamw_update_sum_of_squares(float *p, const float *g, float *m, float *v, long n, long block,
                                      const long *noDecay, long ranges,
                                      float lr, float beta1, float one_minus_beta1, float beta2,
                                      float one_minus_beta2, float eps, float decay, float bias1, float bias2) {
    (void)p; (void)g; (void)m; (void)v; (void)n; (void)block; (void)noDecay; (void)ranges; (void)lr; (void)beta1;
    (void)one_minus_beta1; (void)beta2; (void)one_minus_beta2; (void)eps; (void)decay; (void)bias1; (void)bias2;
    return 0;
}
#endif
