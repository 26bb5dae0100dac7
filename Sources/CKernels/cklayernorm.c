// cklayernorm.c: LayerNorm forward and backward (include/ckernels.h), the arithmetic of
// the portable loops below. The AVX2 path keeps every row's (and every channel's) sums in
// the same order, one row a lane: it loads 8 rows × 8 columns and transposes them in
// registers, so lane k adds row k's columns one by one, as the scalar loop does.
#include "ckernels.h"

#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "avx2_shared.h"
#define CK_LN_X86 1
#define CK_LN_AVX2 __attribute__((target("avx2,fma")))
#else
#define CK_LN_X86 0
#endif

// No fused multiply-add anywhere: both paths round each product.
#pragma STDC FP_CONTRACT OFF

static void forward_rows(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                         const float *bias, long C, float eps, long i0, long i1) {
    const float invC = 1.0f / (float)C;
    for (long i = i0; i < i1; i++) {
        const float *x = inp + i * C;
        float m = 0;
        for (long c = 0; c < C; c++) m += x[c];
        m *= invC;
        float v = 0;
        for (long c = 0; c < C; c++) {
            float d = x[c] - m;
            v = d * d + v;
        }
        v *= invC;
        float s = 1.0f / sqrtf(v + eps);
        float *o = out + i * C;
        for (long c = 0; c < C; c++) o[c] = (s * (x[c] - m)) * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

static void backward_rows(float *dinp, const float *dout, const float *inp, const float *weight,
                          const float *mean, const float *rstd, long C, long i0, long i1) {
    const float invC = 1.0f / (float)C;
    for (long i = i0; i < i1; i++) {
        const float *x = inp + i * C, *d = dout + i * C;
        float *di = dinp + i * C;
        float m = mean[i], s = rstd[i];
        float a = 0, b = 0;
        for (long c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s;
            float g = weight[c] * d[c];
            a += g;
            b = g * xhat + b;
        }
        a *= invC;
        b *= invC;
        for (long c = 0; c < C; c++) {
            float xhat = (x[c] - m) * s;
            float g = weight[c] * d[c];
            di[c] += s * ((g - a) - xhat * b);
        }
    }
}

static void backward_params(float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *mean, const float *rstd, long N, long C, long c0, long c1) {
    for (long i = 0; i < N; i++) {
        const float *x = inp + i * C, *d = dout + i * C;
        float m = mean[i], s = rstd[i];
        for (long c = c0; c < c1; c++) {
            float xhat = (x[c] - m) * s;
            dbias[c] += d[c];
            dweight[c] = xhat * d[c] + dweight[c];
        }
    }
}

#if CK_LN_X86
// Loads columns c..c+7 of rows i..i+7 (rows of C floats) transposed: r[k] holds column
// c + k, lane j row i + j.
CK_LN_AVX2
static inline void load_block(__m256 r[8], const float *p, long C, long i, long c) {
    for (int k = 0; k < 8; k++) r[k] = _mm256_loadu_ps(p + (i + k) * C + c);
    transpose8x8_avx2(r);
}

// Rows i..i+7 with C a multiple of 8; the rest of each row's work (elementwise along c)
// runs with that row's scalars broadcast.
CK_LN_AVX2
static void forward_block8(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                           const float *bias, long C, float eps, long i) {
    const __m256 invC = _mm256_set1_ps(1.0f / (float)C);
    __m256 m = _mm256_setzero_ps(), v = _mm256_setzero_ps(), r[8];
    for (long c = 0; c < C; c += 8) {
        load_block(r, inp, C, i, c);
        for (int k = 0; k < 8; k++) m = _mm256_add_ps(m, r[k]);
    }
    m = _mm256_mul_ps(m, invC);
    for (long c = 0; c < C; c += 8) {
        load_block(r, inp, C, i, c);
        for (int k = 0; k < 8; k++) {
            __m256 d = _mm256_sub_ps(r[k], m);
            v = _mm256_add_ps(_mm256_mul_ps(d, d), v);
        }
    }
    v = _mm256_mul_ps(v, invC);
    __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_sqrt_ps(_mm256_add_ps(v, _mm256_set1_ps(eps))));
    float ms[8], ss[8];
    _mm256_storeu_ps(ms, m);
    _mm256_storeu_ps(ss, s);
    for (int k = 0; k < 8; k++) {
        const float *x = inp + (i + k) * C;
        float *o = out + (i + k) * C;
        const __m256 vm = _mm256_set1_ps(ms[k]), vs = _mm256_set1_ps(ss[k]);
        for (long c = 0; c < C; c += 8) {
            __m256 t = _mm256_mul_ps(_mm256_mul_ps(vs, _mm256_sub_ps(_mm256_loadu_ps(x + c), vm)), _mm256_loadu_ps(weight + c));
            _mm256_storeu_ps(o + c, _mm256_add_ps(t, _mm256_loadu_ps(bias + c)));
        }
        mean[i + k] = ms[k];
        rstd[i + k] = ss[k];
    }
}

CK_LN_AVX2
static void backward_block8(float *dinp, const float *dout, const float *inp, const float *weight,
                            const float *mean, const float *rstd, long C, long i) {
    const __m256 invC = _mm256_set1_ps(1.0f / (float)C);
    const __m256 m = _mm256_loadu_ps(mean + i), s = _mm256_loadu_ps(rstd + i);
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps(), xr[8], dr[8];
    for (long c = 0; c < C; c += 8) {
        load_block(xr, inp, C, i, c);
        load_block(dr, dout, C, i, c);
        for (int k = 0; k < 8; k++) {
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(xr[k], m), s);
            __m256 g = _mm256_mul_ps(_mm256_set1_ps(weight[c + k]), dr[k]);
            a = _mm256_add_ps(a, g);
            b = _mm256_add_ps(_mm256_mul_ps(g, xhat), b);
        }
    }
    a = _mm256_mul_ps(a, invC);
    b = _mm256_mul_ps(b, invC);
    float as[8], bs[8];
    _mm256_storeu_ps(as, a);
    _mm256_storeu_ps(bs, b);
    for (int k = 0; k < 8; k++) {
        const float *x = inp + (i + k) * C, *d = dout + (i + k) * C;
        float *di = dinp + (i + k) * C;
        const __m256 vm = _mm256_set1_ps(mean[i + k]), vs = _mm256_set1_ps(rstd[i + k]);
        const __m256 va = _mm256_set1_ps(as[k]), vb = _mm256_set1_ps(bs[k]);
        for (long c = 0; c < C; c += 8) {
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vs);
            __m256 g = _mm256_mul_ps(_mm256_loadu_ps(weight + c), _mm256_loadu_ps(d + c));
            __m256 t = _mm256_mul_ps(vs, _mm256_sub_ps(_mm256_sub_ps(g, va), _mm256_mul_ps(xhat, vb)));
            _mm256_storeu_ps(di + c, _mm256_add_ps(_mm256_loadu_ps(di + c), t));
        }
    }
}

// Channels c..c+7 (all inside the row): the sums stay in registers over the rows.
CK_LN_AVX2
static void backward_params8(float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *mean, const float *rstd, long N, long C, long c) {
    __m256 dw = _mm256_loadu_ps(dweight + c), db = _mm256_loadu_ps(dbias + c);
    for (long i = 0; i < N; i++) {
        __m256 d = _mm256_loadu_ps(dout + i * C + c);
        __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(inp + i * C + c), _mm256_set1_ps(mean[i])),
                                    _mm256_set1_ps(rstd[i]));
        db = _mm256_add_ps(db, d);
        dw = _mm256_add_ps(_mm256_mul_ps(xhat, d), dw);
    }
    _mm256_storeu_ps(dweight + c, dw);
    _mm256_storeu_ps(dbias + c, db);
}
#endif

void ck_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, long C, float eps, long i0, long i1) {
    long i = i0;
#if CK_LN_X86
    if (C % 8 == 0 && ck_avx2_available())
        for (; i + 8 <= i1; i += 8) forward_block8(out, mean, rstd, inp, weight, bias, C, eps, i);
#endif
    forward_rows(out, mean, rstd, inp, weight, bias, C, eps, i, i1);
}

void ck_layernorm_backward_rows(float *dinp, const float *dout, const float *inp, const float *weight,
                                const float *mean, const float *rstd, long C, long i0, long i1) {
    long i = i0;
#if CK_LN_X86
    if (C % 8 == 0 && ck_avx2_available())
        for (; i + 8 <= i1; i += 8) backward_block8(dinp, dout, inp, weight, mean, rstd, C, i);
#endif
    backward_rows(dinp, dout, inp, weight, mean, rstd, C, i, i1);
}

void ck_layernorm_backward_params(float *dweight, float *dbias, const float *dout, const float *inp,
                                  const float *mean, const float *rstd, long N, long C, long c0, long c1) {
    long c = c0;
#if CK_LN_X86
    if (ck_avx2_available())
        for (; c + 8 <= c1; c += 8) backward_params8(dweight, dbias, dout, inp, mean, rstd, N, C, c);
#endif
    backward_params(dweight, dbias, dout, inp, mean, rstd, N, C, c, c1);
}
