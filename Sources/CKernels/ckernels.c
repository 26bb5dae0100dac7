// ckernels.c: blocked SGEMM with a runtime-dispatched AVX2/FMA micro-kernel and a
// portable fallback. See include/ckernels.h for the determinism contract.
//
// Structure (BLIS/GotoBLAS): for each NC-wide column block of the output and each
// KC-long block of the reduction, B is packed into NR-wide panels; for each MC-tall row
// block, A is packed into MR-tall panels; an MR x NR micro-kernel then multiplies one
// A panel by one B panel with the whole MR x NR tile held in registers. Edges are packed
// with zeros and computed as full tiles, so every element follows the same arithmetic
// whatever tile it falls in.
#include "ckernels.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "avx2_shared.h"
#define CK_HAVE_X86 1
#else
#define CK_HAVE_X86 0
#endif

// The portable path must not fuse a*b + c, so that its results are the same on every
// target (the AVX2 path uses explicit FMA intrinsics and is not affected).
#pragma STDC FP_CONTRACT OFF

#define MR 6
#define NR 16
_Static_assert(CK_DECODE_PANEL == NR, "the decode layout is the GEMM's packed B");
#define KC CK_KC
#define MC 96     // multiple of MR: the packed A block (MC x KC = 96 KB) stays in L2
#define NC 1024   // multiple of NR: the packed B block (KC x NC = 1 MB)

// MARK: - Dispatch

int ck_avx2_available(void) {
#if CK_HAVE_X86
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
#else
    return 0;
#endif
}

int ck_resolve_impl(int impl) {
    if (impl == CK_IMPL_PORTABLE) return CK_IMPL_PORTABLE;
    return ck_avx2_available() ? CK_IMPL_AVX2 : CK_IMPL_PORTABLE;
}

// MARK: - Per-thread packing buffers (allocated once per thread, freed at thread exit)

typedef struct {
    float *a;          // MC x KC
    float *b;          // KC x NC
    float *att;        // the attention pairs' packed operands and scores (grown as needed)
    size_t att_count;
} ck_buffers;

static pthread_key_t ck_key;
static pthread_once_t ck_key_once = PTHREAD_ONCE_INIT;

// Fast per-thread lookup; the pthread key only exists to free the buffers at thread exit.
static _Thread_local ck_buffers *ck_cached_buffers;

static void ck_free_buffers(void *p) {
    ck_buffers *bufs = (ck_buffers *)p;
    if (!bufs) return;
    ck_cached_buffers = NULL;
    free(bufs->a);
    free(bufs->b);
    free(bufs->att);
    free(bufs);
}

static void ck_make_key(void) { pthread_key_create(&ck_key, ck_free_buffers); }

static ck_buffers *ck_thread_buffers(void) {
    if (ck_cached_buffers) return ck_cached_buffers;
    pthread_once(&ck_key_once, ck_make_key);
    ck_buffers *bufs = (ck_buffers *)pthread_getspecific(ck_key);
    if (bufs) return ck_cached_buffers = bufs;
    bufs = (ck_buffers *)malloc(sizeof(ck_buffers));
    if (!bufs) abort();
    bufs->a = (float *)aligned_alloc(64, sizeof(float) * (MC * KC + 16));   // + slack for pack_a's spill
    bufs->b = (float *)aligned_alloc(64, sizeof(float) * KC * NC);
    bufs->att = NULL;
    bufs->att_count = 0;
    if (!bufs->a || !bufs->b) abort();
    pthread_setspecific(ck_key, bufs);
    ck_cached_buffers = bufs;
    return bufs;
}

// MARK: - Packing

#if CK_HAVE_X86
static void pack_a_panel_rowmajor_avx2(float *restrict d, const float *restrict src, long kc, long rs);
static void pack_a_panel_colmajor_avx2(float *restrict d, const float *restrict src, long kc, long cs,
                                       float *restrict dbias);
static void pack_b_panel_transposed_avx2(float *restrict d, const float *restrict src, long kc, long cs);
static void pack_b_panel_partial_avx2(float *restrict d, const float *restrict src, long kc, long nr, long rs);
#endif

// The portable packing of one panel of width w, shared by A (rows) and B (columns):
// d[p*w + i] = src[i*si + p*sp] for i < n, p < kc; zero for n <= i < w. With sp == 1
// each of the n source lines is contiguous and is walked once.
static void pack_panel(float *restrict d, const float *restrict src, long kc, long n, int w,
                       long si, long sp) {
    if (sp == 1) {
        for (int i = 0; i < w; i++) {
            if (i < n) {
                const float *s = src + i * si;
                for (long p = 0; p < kc; p++) d[p * w + i] = s[p];
            } else {
                for (long p = 0; p < kc; p++) d[p * w + i] = 0.0f;
            }
        }
    } else {
        for (long p = 0; p < kc; p++)
            for (int i = 0; i < w; i++)
                d[p * w + i] = i < n ? src[i * si + p * sp] : 0.0f;
    }
}

// Packs A(i,p) for i < mc, p < kc (a points at A(ic,pc)) into MR-row panels:
// panel r0 holds dst[r0*kc + p*MR + r] = A(r0+r, p), rows past mc are zero. With `dbias`
// (a column-contiguous A only: dB's dOut), also dbias[i] = dbias[i] + A(i, p) for p
// ascending, one float add each: the bias gradient's column sums, read while packing.
static void pack_a(float *restrict dst, const float *restrict a, long mc, long kc,
                   long rs, long cs, int avx2, float *restrict dbias) {
    if (rs == 1) {
        // Column-contiguous A (dB's dOut(M,N) read transposed).
        long full = mc / MR * MR;
#if CK_HAVE_X86
        if (avx2) {
            // Panels whose 8-float loads stay inside the block's rows: one load and one
            // store per p (the store's last two floats are overwritten by the next p, or
            // after the last p by the next panel, packed afterwards; the buffer has slack).
            long r0 = 0;
            for (; r0 + 8 <= mc; r0 += MR)
                pack_a_panel_colmajor_avx2(dst + r0 * kc, a + r0, kc, cs, dbias ? dbias + r0 : NULL);
            for (long p = 0; p < kc; p++) {
                const float *s = a + p * cs;
                for (long q = r0; q < mc; q += MR) {
                    float *restrict d = dst + q * kc + p * MR;
                    for (int r = 0; r < MR; r++) d[r] = q + r < mc ? s[q + r] : 0.0f;
                }
                if (dbias)
                    for (long q = r0; q < mc; q++) dbias[q] = dbias[q] + s[q];
            }
            return;
        }
#endif
        // Walk each source row segment once, p outer, scattering into every panel.
        for (long p = 0; p < kc; p++) {
            const float *s = a + p * cs;
            if (dbias)
                for (long q = 0; q < mc; q++) dbias[q] = dbias[q] + s[q];
            for (long r0 = 0; r0 < full; r0 += MR) {
                float *restrict d = dst + r0 * kc + p * MR;
                for (int r = 0; r < MR; r++) d[r] = s[r0 + r];
            }
            if (full < mc) {
                float *restrict d = dst + full * kc + p * MR;
                for (int r = 0; r < MR; r++) d[r] = full + r < mc ? s[full + r] : 0.0f;
            }
        }
        return;
    }
    for (long r0 = 0; r0 < mc; r0 += MR) {
        long mr = mc - r0 < MR ? mc - r0 : MR;
        float *restrict d = dst + r0 * kc;
        const float *src = a + r0 * rs;
#if CK_HAVE_X86
        if (cs == 1 && mr == MR && avx2) {
            pack_a_panel_rowmajor_avx2(d, src, kc, rs);
        } else
#endif
        pack_panel(d, src, kc, mr, MR, rs, cs);
    }
}

// Packs B(p,j) for p < kc, j < nc (b points at B(pc,jc)) into NR-column panels
// `pstride` floats apart (kc·NR, or NR·k in the decode layout): panel c0 holds
// dst[(c0/NR)*pstride + p*NR + c] = B(p, c0+c), columns past nc are zero.
static void pack_b(float *restrict dst, const float *restrict b, long kc, long nc,
                   long rs, long cs, int avx2, long pstride) {
    for (long c0 = 0; c0 < nc; c0 += NR) {
        long nr = nc - c0 < NR ? nc - c0 : NR;
        float *restrict d = dst + (c0 / NR) * pstride;
        const float *src = b + c0 * cs;
        if (cs == 1 && nr == NR) {
            for (long p = 0; p < kc; p++) memcpy(d + p * NR, src + p * rs, sizeof(float) * NR);
#if CK_HAVE_X86
        } else if (cs == 1 && avx2) {
            pack_b_panel_partial_avx2(d, src, kc, nr, rs);
#endif
        } else if (cs == 1) {
            for (long p = 0; p < kc; p++) {
                const float *s = src + p * rs;
                for (long c = 0; c < NR; c++) d[p * NR + c] = c < nr ? s[c] : 0.0f;
            }
#if CK_HAVE_X86
        } else if (rs == 1 && nr == NR && avx2) {
            pack_b_panel_transposed_avx2(d, src, kc, cs);
#endif
        } else {
            pack_panel(d, src, kc, nr, NR, cs, rs);
        }
    }
}

#if CK_HAVE_X86
// pack_a for a row-contiguous A (cs == 1), one full MR-row panel: 8 p at a time, the six
// rows (and two zero rows) are transposed in registers and stored 8 wide at stride MR;
// each store's last two lanes are overwritten by the next one. The final store of a
// panel spills two floats past it, into the next panel (packed afterwards) or the
// buffer's slack. Same values as the scalar loop.
__attribute__((target("avx2,fma")))
static void pack_a_panel_rowmajor_avx2(float *restrict d, const float *restrict src, long kc, long rs) {
    long p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 r[8];
        for (int i = 0; i < MR; i++) r[i] = _mm256_loadu_ps(src + i * rs + p);
        r[6] = _mm256_setzero_ps();
        r[7] = _mm256_setzero_ps();
        transpose8x8_avx2(r);
        for (int q = 0; q < 8; q++) _mm256_storeu_ps(d + (p + q) * MR, r[q]);
    }
    for (; p < kc; p++)
        for (int i = 0; i < MR; i++) d[p * MR + i] = src[i * rs + p];
}

// pack_a for a column-contiguous A (rs == 1: dB's dOut read transposed), one panel of MR
// rows whose 8-float loads stay inside the block: dst[p*MR + r] = src[p*cs + r]. Each store
// writes two floats past the slot, overwritten by the next p or by the next panel. With
// dbias, its MR sums are added to in lanes (the two lanes past them are not stored).
__attribute__((target("avx2,fma")))
static void pack_a_panel_colmajor_avx2(float *restrict d, const float *restrict src, long kc, long cs,
                                       float *restrict dbias) {
    if (!dbias) {
        for (long p = 0; p < kc; p++) _mm256_storeu_ps(d + p * MR, _mm256_loadu_ps(src + p * cs));
        return;
    }
    const __m256i lanes = ck_lane_mask(MR);
    __m256 sum = _mm256_maskload_ps(dbias, lanes);
    for (long p = 0; p < kc; p++) {
        __m256 x = _mm256_loadu_ps(src + p * cs);
        _mm256_storeu_ps(d + p * MR, x);
        sum = _mm256_add_ps(sum, x);
    }
    _mm256_maskstore_ps(dbias, lanes, sum);
}

// pack_b for a column-contiguous B (rs == 1, the forward's b(N,K)), one full NR-wide
// panel: 8 x 8 blocks are transposed in registers. Same values as the scalar loop.
__attribute__((target("avx2,fma")))
static void pack_b_panel_transposed_avx2(float *restrict d, const float *restrict src, long kc, long cs) {
    long p = 0;
    for (; p + 8 <= kc; p += 8) {
        for (int half = 0; half < 2; half++) {
            const float *s = src + (long)half * 8 * cs + p;
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(s + i * cs);
            transpose8x8_avx2(r);
            float *o = d + p * NR + half * 8;
            for (int q = 0; q < 8; q++) _mm256_store_ps(o + q * NR, r[q]);
        }
    }
    for (; p < kc; p++)
        for (int c = 0; c < NR; c++) d[p * NR + c] = src[c * cs + p];
}

// pack_b for a row-contiguous B (cs == 1) whose panel is narrower than NR: masked loads
// read only the nr valid columns and give zeros for the rest.
__attribute__((target("avx2,fma")))
static void pack_b_panel_partial_avx2(float *restrict d, const float *restrict src, long kc, long nr, long rs) {
    const __m256i m0 = ck_lane_mask(nr), m1 = ck_lane_mask(nr - 8);
    for (long p = 0; p < kc; p++) {
        const float *s = src + p * rs;
        _mm256_store_ps(d + p * NR, _mm256_maskload_ps(s, m0));
        _mm256_store_ps(d + p * NR + 8, _mm256_maskload_ps(s + 8, m1));
    }
}
#endif

// Writes an MR x NR tile of sums `t` (row stride NR) into the mr x nr corner of C.
// mode 0: C = t (+ bias[j]); mode 1: C = C + t. The same operations as the vector stores.
static void store_tile(const float *restrict t, float *restrict c, long ldc, long mr, long nr,
                       int mode, const float *bias) {
    for (long r = 0; r < mr; r++) {
        float *crow = c + r * ldc;
        const float *trow = t + r * NR;
        if (mode) {
            for (long j = 0; j < nr; j++) crow[j] = crow[j] + trow[j];
        } else if (bias) {
            for (long j = 0; j < nr; j++) crow[j] = trow[j] + bias[j];
        } else {
            for (long j = 0; j < nr; j++) crow[j] = trow[j];
        }
    }
}

// MARK: - Micro-kernels

typedef void (*ck_ukernel)(long kc, const float *restrict ap, const float *restrict bp,
                           float *restrict c, long ldc, long mr, long nr, int mode,
                           const float *bias);

// Portable: plain C, product and sum rounded separately (FP_CONTRACT OFF above).
static void ukernel_portable(long kc, const float *restrict ap, const float *restrict bp,
                             float *restrict c, long ldc, long mr, long nr, int mode,
                             const float *bias) {
    float t[MR * NR];
    for (int i = 0; i < MR * NR; i++) t[i] = 0.0f;
    for (long p = 0; p < kc; p++) {
        const float *a = ap + p * MR;
        const float *b = bp + p * NR;
        for (int r = 0; r < MR; r++) {
            float ar = a[r];
            for (int j = 0; j < NR; j++) {
                float prod = ar * b[j];
                t[r * NR + j] = t[r * NR + j] + prod;
            }
        }
    }
    store_tile(t, c, ldc, mr, nr, mode, bias);
}

#if CK_HAVE_X86
#define CK_AVX2 __attribute__((target("avx2,fma")))

// AVX2 + FMA: the 6 x 16 tile lives in 12 ymm accumulators; per p, two loads of B and
// six broadcasts of A feed 12 FMAs.
CK_AVX2
static void ukernel_avx2(long kc, const float *restrict ap, const float *restrict bp,
                         float *restrict c, long ldc, long mr, long nr, int mode,
                         const float *bias) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define CK_STEP(P)                                                         \
    do {                                                                   \
        __m256 b0 = _mm256_load_ps(bp + (P) * NR);                         \
        __m256 b1 = _mm256_load_ps(bp + (P) * NR + 8);                     \
        __m256 a;                                                          \
        a = _mm256_broadcast_ss(ap + (P) * MR + 0);                        \
        c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01); \
        a = _mm256_broadcast_ss(ap + (P) * MR + 1);                        \
        c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11); \
        a = _mm256_broadcast_ss(ap + (P) * MR + 2);                        \
        c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21); \
        a = _mm256_broadcast_ss(ap + (P) * MR + 3);                        \
        c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31); \
        a = _mm256_broadcast_ss(ap + (P) * MR + 4);                        \
        c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41); \
        a = _mm256_broadcast_ss(ap + (P) * MR + 5);                        \
        c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51); \
    } while (0)
    long p = 0;
    for (; p + 4 <= kc; p += 4) {
        CK_STEP(0); CK_STEP(1); CK_STEP(2); CK_STEP(3);
        ap += 4 * MR;
        bp += 4 * NR;
    }
    for (; p < kc; p++) {
        CK_STEP(0);
        ap += MR;
        bp += NR;
    }
#undef CK_STEP
    if (mr == MR && nr == NR) {
#define CK_ROW(R, X0, X1)                                                              \
        do {                                                                           \
            float *cr = c + (R) * ldc;                                                 \
            if (mode) {                                                                \
                _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), X0));          \
                _mm256_storeu_ps(cr + 8, _mm256_add_ps(_mm256_loadu_ps(cr + 8), X1));  \
            } else if (bias) {                                                         \
                _mm256_storeu_ps(cr, _mm256_add_ps(X0, _mm256_loadu_ps(bias)));        \
                _mm256_storeu_ps(cr + 8, _mm256_add_ps(X1, _mm256_loadu_ps(bias + 8)));\
            } else {                                                                   \
                _mm256_storeu_ps(cr, X0);                                              \
                _mm256_storeu_ps(cr + 8, X1);                                          \
            }                                                                          \
        } while (0)
        CK_ROW(0, c00, c01); CK_ROW(1, c10, c11); CK_ROW(2, c20, c21);
        CK_ROW(3, c30, c31); CK_ROW(4, c40, c41); CK_ROW(5, c50, c51);
#undef CK_ROW
    } else {
        float t[MR * NR] __attribute__((aligned(32)));
        _mm256_store_ps(t + 0 * NR, c00); _mm256_store_ps(t + 0 * NR + 8, c01);
        _mm256_store_ps(t + 1 * NR, c10); _mm256_store_ps(t + 1 * NR + 8, c11);
        _mm256_store_ps(t + 2 * NR, c20); _mm256_store_ps(t + 2 * NR + 8, c21);
        _mm256_store_ps(t + 3 * NR, c30); _mm256_store_ps(t + 3 * NR + 8, c31);
        _mm256_store_ps(t + 4 * NR, c40); _mm256_store_ps(t + 4 * NR + 8, c41);
        _mm256_store_ps(t + 5 * NR, c50); _mm256_store_ps(t + 5 * NR + 8, c51);
        store_tile(t, c, ldc, mr, nr, mode, bias);
    }
}
#endif

// MARK: - Driver

static void fill_block(float *c, long ldc, long i0, long i1, long j0, long j1, const float *bias) {
    for (long i = i0; i < i1; i++) {
        float *row = c + i * ldc;
        for (long j = j0; j < j1; j++) row[j] = bias ? bias[j] : 0.0f;
    }
}

// ck_sgemm_block; with `keep` (all of B in NR-column panels of keep_depth ≥ k rows, the
// decode layout; keep_depth is k but for B already packed deeper), B's panels are packed
// there instead of the thread's buffer and read from there, or, with `keep_ready`, only
// read from there (packed before).
//
// `causal` skips the work of a causal attention product's masked triangle, tile by tile
// (rows i and columns j as the caller numbers them, j0 = 0):
// - CAUSAL_COLUMNS: output (i, j) is wanted only for j ≤ i; panels wholly above a tile's
//   last row are not computed (their outputs are left as they were);
// - CAUSAL_DEPTH_END: A(i, p) is 0 for p > i; a tile's chains stop after its last row's p;
// - CAUSAL_DEPTH_START: A(i, p) is 0 for p < i; a tile's chains start at its first row's
//   p, and A is packed from the block's first row's p.
// The products skipped are ±0, so each sum differs at most in the sign of a zero (a chain
// from +0 stays +0 through leading ±0 products; trailing ones change no nonzero sum).
enum { CAUSAL_NONE = 0, CAUSAL_COLUMNS = 1, CAUSAL_DEPTH_END = 2, CAUSAL_DEPTH_START = 3 };

static void sgemm_block_causal(int impl, long i0, long i1, long j0, long j1, long k,
                               const float *a, long a_rs, long a_cs,
                               const float *b, long b_rs, long b_cs,
                               float *c, long ldc, int accumulate, const float *bias, float *keep, int keep_ready,
                               long keep_depth, int causal, float *dbias) {
    if (i1 <= i0 || j1 <= j0) return;
    if (k <= 0) {
        if (!accumulate) fill_block(c, ldc, i0, i1, j0, j1, bias);
        return;
    }
    ck_ukernel kernel = ukernel_portable;
    int avx2 = 0;
#if CK_HAVE_X86
    if (ck_resolve_impl(impl) == CK_IMPL_AVX2) {
        kernel = ukernel_avx2;
        avx2 = 1;
    }
#else
    (void)impl;
#endif
    ck_buffers *bufs = ck_thread_buffers();
    for (long jc = j0; jc < j1; jc += NC) {
        long nc = j1 - jc < NC ? j1 - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            int mode = (pc == 0 && !accumulate) ? 0 : 1;
            const float *biasBlock = (mode == 0 && bias) ? bias + jc : NULL;
            float *bpack = keep ? keep + (jc / NR) * NR * keep_depth + pc * NR : bufs->b;
            long pstride = keep ? NR * keep_depth : NR * kc;
            if (!keep_ready) pack_b(bpack, b + pc * b_rs + jc * b_cs, kc, nc, b_rs, b_cs, avx2, pstride);
            for (long ic = i0; ic < i1; ic += MC) {
                long mc = i1 - ic < MC ? i1 - ic : MC;
                long plo = 0;   // A's zero leading depth in this row block (CAUSAL_DEPTH_START)
                if (causal == CAUSAL_DEPTH_START) plo = ic - pc < 0 ? 0 : ic - pc < kc ? ic - pc : kc;
                long pkc = kc - plo;
                if (pkc > 0)
                    pack_a(bufs->a, a + ic * a_rs + (pc + plo) * a_cs, mc, pkc, a_rs, a_cs, avx2,
                           dbias && jc == 0 ? dbias + ic : NULL);
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = nc - jr < NR ? nc - jr : NR;
                    const float *bpanel = bpack + (jr / NR) * pstride;
                    const float *biasTile = biasBlock ? biasBlock + jr : NULL;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long mr = mc - ir < MR ? mc - ir : MR;
                        long lo = 0, hi = kc;   // the tile's depth in this block
                        if (causal == CAUSAL_COLUMNS) {
                            if (jc + jr > ic + ir + mr - 1) continue;
                        } else if (causal == CAUSAL_DEPTH_END) {
                            long end = ic + ir + mr - pc;
                            hi = end < 0 ? 0 : end < kc ? end : kc;
                        } else if (causal == CAUSAL_DEPTH_START) {
                            long start = ic + ir - pc;
                            lo = start < 0 ? 0 : start < kc ? start : kc;
                        }
                        kernel(hi - lo, bufs->a + ir * pkc + (lo - plo) * MR, bpanel + lo * NR,
                               c + (ic + ir) * ldc + jc + jr, ldc, mr, nr, mode, biasTile);
                    }
                }
            }
        }
    }
}

static void sgemm_block(int impl, long i0, long i1, long j0, long j1, long k,
                        const float *a, long a_rs, long a_cs,
                        const float *b, long b_rs, long b_cs,
                        float *c, long ldc, int accumulate, const float *bias, float *keep, int keep_ready,
                        long keep_depth) {
    sgemm_block_causal(impl, i0, i1, j0, j1, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc, accumulate, bias, keep,
                       keep_ready, keep_depth, CAUSAL_NONE, NULL);
}

void ck_sgemm_block(int impl, long i0, long i1, long j0, long j1, long k,
                    const float *a, long a_rs, long a_cs,
                    const float *b, long b_rs, long b_cs,
                    float *c, long ldc, int accumulate, const float *bias) {
    sgemm_block(impl, i0, i1, j0, j1, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc, accumulate, bias, NULL, 0, k);
}

// The engine's three products as GEMMs C (=|+=) A·B, in one place:
//   forward     out(M,N)  = a(M,K)·b(N,K)ᵀ:  A(i,p) = a[i*K + p],    B(p,j) = b[j*K + p], depth K
//   backward_a  dA(M,K)  += dOut(M,N)·b(N,K): A(i,p) = dOut[i*N + p], B(p,j) = b[p*K + j], depth N
//   backward_b  dB(N,K)  += dOutᵀ·a(M,K):     A(i,p) = dOut[p*N + i], B(p,j) = a[p*K + j], depth M
typedef struct {
    long k;                 // depth
    long n;                 // columns of C (and of B)
    long a_rs, a_cs, b_rs, b_cs, ldc;
    int accumulate;
} ck_shape;

static ck_shape shape_of(int shape, long M, long K, long N) {
    switch (shape) {
    case CK_SHAPE_FORWARD: return (ck_shape){K, N, K, 1, 1, K, N, 0};
    case CK_SHAPE_BACKWARD_A: return (ck_shape){N, K, N, 1, K, 1, K, 1};
    case CK_SHAPE_BACKWARD_A_SET: return (ck_shape){N, K, N, 1, K, 1, K, 0};
    case CK_SHAPE_BACKWARD_B_SET: return (ck_shape){M, K, 1, N, K, 1, K, 0};
    default: return (ck_shape){M, K, 1, N, K, 1, K, 1};
    }
}

// Rows [i0,i1) x cols [j0,j1) of `shape`'s product (bias: forward only; dbias: backward_b
// only, added to while A is packed when j0 == 0), B packed as sgemm_block's `keep` and
// `keep_ready` say.
static void matmul_shape(int impl, int shape, float *c, const float *a, const float *b, const float *bias,
                         long M, long K, long N, long i0, long i1, long j0, long j1, float *keep, int keep_ready,
                         float *dbias) {
    ck_shape s = shape_of(shape, M, K, N);
    int backward_b = shape == CK_SHAPE_BACKWARD_B || shape == CK_SHAPE_BACKWARD_B_SET;
    sgemm_block_causal(impl, i0, i1, j0, j1, s.k, a, s.a_rs, s.a_cs, b, s.b_rs, s.b_cs, c, s.ldc, s.accumulate,
                       shape == CK_SHAPE_FORWARD ? bias : NULL, keep, keep_ready, s.k, CAUSAL_NONE,
                       backward_b ? dbias : NULL);
}

void ck_matmul_pack_b(int impl, int shape, float *packed, const float *b, long M, long K, long N, long q0, long q1) {
    ck_shape s = shape_of(shape, M, K, N);
    if (q1 <= q0 || s.k <= 0) return;
    int avx2 = 0;
#if CK_HAVE_X86
    avx2 = ck_resolve_impl(impl) == CK_IMPL_AVX2;
#else
    (void)impl;
#endif
    long j0 = q0 * NR, j1 = q1 * NR < s.n ? q1 * NR : s.n;
    pack_b(packed + q0 * NR * s.k, b + j0 * s.b_cs, s.k, j1 - j0, s.b_rs, s.b_cs, avx2, NR * s.k);
}

// MARK: - The engine's three shapes

#if CK_HAVE_X86
// A few rows of the forward product (a decode step's matrix-vector products): out(i,j) for
// i in [i0,i1) (at most CK_MATVEC_ROWS), j in [j0,j1), with the GEMM's arithmetic (per
// CK_KC block an FMA chain over p from 0, C = s_0 (+ bias), then C = C + s_q), but without
// packing: eight rows of b are read eight floats at a time and transposed in registers, so
// each weight is read once. Four groups of eight columns run side by side to cover the FMA
// latency of the one chain each output has.
#define CK_MATVEC_ROWS 2
CK_AVX2
static void matvec_avx2(float *out, const float *a, const float *b, const float *bias,
                        long K, long N, long i0, long i1, long j0, long j1) {
    const long rows = i1 - i0;
    for (long jg = j0; jg < j1; jg += 32) {
        const float *w[32];
        long valid = j1 - jg < 32 ? j1 - jg : 32;
        for (int r = 0; r < 32; r++) w[r] = b + (jg + (r < valid ? r : valid - 1)) * K;
        __m256 c[CK_MATVEC_ROWS][4];
        for (long pc = 0; pc < K; pc += KC) {
            long p1 = K - pc < KC ? K : pc + KC;
            __m256 s[CK_MATVEC_ROWS][4];
            for (int i = 0; i < CK_MATVEC_ROWS; i++)
                for (int g = 0; g < 4; g++) s[i][g] = _mm256_setzero_ps();
            long p = pc;
            for (; p + 8 <= p1; p += 8) {
                // One group of eight columns at a time (eight registers of transposed weights);
                // the four groups' chains are independent, so they overlap in the core.
                for (int g = 0; g < 4; g++) {
                    __m256 v[8];
                    // Each row is a stream of its own: fetch 1 KB ahead so the 32 streams
                    // do not wait on memory one cache line at a time.
                    if ((p & 15) == 0)
                        for (int r = 0; r < 8; r++) _mm_prefetch((const char *)(w[8 * g + r] + p + 256), _MM_HINT_T0);
                    for (int r = 0; r < 8; r++) v[r] = _mm256_loadu_ps(w[8 * g + r] + p);
                    transpose8x8_avx2(v);
                    for (long i = 0; i < rows; i++) {
                        const float *ai = a + (i0 + i) * K + p;
                        __m256 acc = s[i][g];
                        for (int k = 0; k < 8; k++) acc = _mm256_fmadd_ps(_mm256_broadcast_ss(ai + k), v[k], acc);
                        s[i][g] = acc;
                    }
                }
            }
            for (; p < p1; p++) {
                float col[32] __attribute__((aligned(32)));
                for (int r = 0; r < 32; r++) col[r] = w[r][p];
                for (long i = 0; i < rows; i++) {
                    __m256 x = _mm256_broadcast_ss(a + (i0 + i) * K + p);
                    for (int g = 0; g < 4; g++) s[i][g] = _mm256_fmadd_ps(x, _mm256_load_ps(col + 8 * g), s[i][g]);
                }
            }
            for (long i = 0; i < rows; i++)
                for (int g = 0; g < 4; g++) {
                    if (pc > 0) c[i][g] = _mm256_add_ps(c[i][g], s[i][g]);
                    else if (bias) {
                        float bb[8] __attribute__((aligned(32)));
                        for (int r = 0; r < 8; r++) bb[r] = bias[jg + (8 * g + r < valid ? 8 * g + r : valid - 1)];
                        c[i][g] = _mm256_add_ps(s[i][g], _mm256_load_ps(bb));
                    } else c[i][g] = s[i][g];
                }
        }
        for (long i = 0; i < rows; i++) {
            float t[32] __attribute__((aligned(32)));
            for (int g = 0; g < 4; g++) _mm256_store_ps(t + 8 * g, c[i][g]);
            float *o = out + (i0 + i) * N + jg;
            for (long r = 0; r < valid; r++) o[r] = t[r];
        }
    }
}
#endif

// MARK: - The decode layout

size_t ck_decode_packed_count(long K, long N) {
    return (size_t)((N + CK_DECODE_PANEL - 1) / CK_DECODE_PANEL) * CK_DECODE_PANEL * (size_t)K;
}

void ck_decode_pack(int impl, float *packed, const float *b, long K, long N, long q0, long q1) {
    // The decode layout is the forward's B packed over the whole depth.
    ck_matmul_pack_b(impl, CK_SHAPE_FORWARD, packed, b, 1, K, N, q0, q1);
}

#if CK_HAVE_X86
// One decode step's product from the decode layout: out(j) for the columns of panels
// [q0,q1), with the GEMM's arithmetic (per CK_KC block an FMA chain over p from 0,
// C = s_0 (+ bias), then C = C + s_q). Each panel is one contiguous stream of K·16
// floats, read once; two panels side by side give four independent chains, so memory,
// not the FMA latency, sets the pace.
CK_AVX2
static void matvec_decode_avx2(float *out, const float *a, const float *packed, const float *bias,
                               long K, long N, long q0, long q1) {
    const long W = CK_DECODE_PANEL;
    for (long q = q0; q < q1; q += 2) {
        // Panels q and q + 1 (q alone at the end: the second stream rereads the first).
        const float *w0 = packed + q * W * K;
        const float *w1 = q + 1 < q1 ? w0 + W * K : w0;
        long j0 = q * W, valid = ck_panel_pair_valid(q, q1, N, W);
        __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
        for (long pc = 0; pc < K; pc += KC) {
            long p1 = K - pc < KC ? K : pc + KC;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (long p = pc; p < p1; p++) {
                __m256 ap = _mm256_broadcast_ss(a + p);
                s0 = _mm256_fmadd_ps(ap, _mm256_load_ps(w0 + p * W), s0);
                s1 = _mm256_fmadd_ps(ap, _mm256_load_ps(w0 + p * W + 8), s1);
                s2 = _mm256_fmadd_ps(ap, _mm256_load_ps(w1 + p * W), s2);
                s3 = _mm256_fmadd_ps(ap, _mm256_load_ps(w1 + p * W + 8), s3);
            }
            if (pc > 0) {
                c0 = _mm256_add_ps(c0, s0); c1 = _mm256_add_ps(c1, s1);
                c2 = _mm256_add_ps(c2, s2); c3 = _mm256_add_ps(c3, s3);
            } else if (bias) {
                float bb[32] __attribute__((aligned(32)));
                for (long r = 0; r < 2 * W; r++) bb[r] = r < valid ? bias[j0 + r] : 0.0f;
                c0 = _mm256_add_ps(s0, _mm256_load_ps(bb)); c1 = _mm256_add_ps(s1, _mm256_load_ps(bb + 8));
                c2 = _mm256_add_ps(s2, _mm256_load_ps(bb + 16)); c3 = _mm256_add_ps(s3, _mm256_load_ps(bb + 24));
            } else {
                c0 = s0; c1 = s1; c2 = s2; c3 = s3;
            }
        }
        ck_store_panel_pair(out + j0, valid, c0, c1, c2, c3);
    }
}
#endif

int ck_matvec_decode(int impl, float *out, const float *a, const float *packed, const float *bias,
                     long K, long N, long q0, long q1) {
#if CK_HAVE_X86
    if (ck_resolve_impl(impl) == CK_IMPL_AVX2) {
        matvec_decode_avx2(out, a, packed, bias, K, N, q0, q1);
        return 1;
    }
#else
    (void)out; (void)a; (void)packed; (void)bias; (void)K; (void)N; (void)q0; (void)q1; (void)impl;
#endif
    return 0;
}

void ck_matmul_forward(int impl, float *out, const float *a, const float *b, const float *bias,
                       long M, long K, long N, long i0, long i1, long j0, long j1) {
#if CK_HAVE_X86
    if (i1 > i0 && i1 - i0 <= CK_MATVEC_ROWS && K > 0 && j1 > j0 && ck_resolve_impl(impl) == CK_IMPL_AVX2) {
        matvec_avx2(out, a, b, bias, K, N, i0, i1, j0, j1);
        return;
    }
#endif
    matmul_shape(impl, CK_SHAPE_FORWARD, out, a, b, bias, M, K, N, i0, i1, j0, j1, NULL, 0, NULL);
}

void ck_matmul_forward_keep(int impl, float *out, const float *a, const float *b, const float *bias,
                            long M, long K, long N, long i0, long i1, long j0, long j1, float *keep) {
    matmul_shape(impl, CK_SHAPE_FORWARD, out, a, b, bias, M, K, N, i0, i1, j0, j1, keep, 0, NULL);
}

void ck_matmul_packed(int impl, int shape, float *out, const float *a, const float *packed, const float *bias,
                      long M, long K, long N, long i0, long i1, long j0, long j1, float *dbias) {
    matmul_shape(impl, shape, out, a, NULL, bias, M, K, N, i0, i1, j0, j1, (float *)packed, 1, dbias);
}

void ck_matmul_backward_a(int impl, float *dA, const float *dOut, const float *b,
                          long M, long K, long N, long i0, long i1, long j0, long j1, int accumulate) {
    matmul_shape(impl, accumulate ? CK_SHAPE_BACKWARD_A : CK_SHAPE_BACKWARD_A_SET, dA, dOut, b, NULL,
                 M, K, N, i0, i1, j0, j1, NULL, 0, NULL);
}

void ck_matmul_backward_b(int impl, float *dB, const float *dOut, const float *a,
                          long M, long K, long N, long i0, long i1, long j0, long j1, int accumulate,
                          float *dbias) {
    matmul_shape(impl, accumulate ? CK_SHAPE_BACKWARD_B : CK_SHAPE_BACKWARD_B_SET, dB, dOut, a, NULL,
                 M, K, N, i0, i1, j0, j1, NULL, 0, dbias);
}

#if CK_HAVE_X86
// scale_and_max on the first n & ~7 elements (returns how many): 8 lanes keep the rule,
// then fold into *maxv in lane order.
__attribute__((target("avx2,fma")))
static long scale_and_max_avx2(float *row, long n, float scale, float *maxv) {
    long i = 0;
    if (n < 8) return 0;
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(row + i), vs);
        _mm256_storeu_ps(row + i, x);
        m = _mm256_blendv_ps(m, x, _mm256_cmp_ps(x, m, _CMP_GT_OQ));
    }
    float l[8];
    _mm256_storeu_ps(l, m);
    for (int j = 0; j < 8; j++) if (l[j] > *maxv) *maxv = l[j];
    return i;
}

// The dots of rows t0..t0+7 (t0 a multiple of 8, so columns stop at t0 + 7): lane r runs
// row t0 + r's chain; in the diagonal block, column c0 + c enters only lanes r ≥ c.
__attribute__((target("avx2,fma")))
static void attention_dots8_avx2(float dots[8], const float *dS, const float *att, long T, long t0) {
    __m256 dot = _mm256_setzero_ps();
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (long c0 = 0; c0 <= t0; c0 += 8) {
        __m256 w[8], r[8];
        for (int i = 0; i < 8; i++) {
            w[i] = _mm256_loadu_ps(att + (t0 + i) * T + c0);
            r[i] = _mm256_loadu_ps(dS + (t0 + i) * T + c0);
        }
        transpose8x8_avx2(w);
        transpose8x8_avx2(r);
        if (c0 < t0) {
            for (int c = 0; c < 8; c++) dot = _mm256_add_ps(_mm256_mul_ps(w[c], r[c]), dot);
        } else {
            for (int c = 0; c < 8; c++) {
                __m256 s = _mm256_add_ps(_mm256_mul_ps(w[c], r[c]), dot);
                __m256 on = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(c - 1)));
                dot = _mm256_blendv_ps(dot, s, on);
            }
        }
    }
    _mm256_storeu_ps(dots, dot);
}

// row[i] = row[i]·f for the first n & ~7 (returns how many).
__attribute__((target("avx2,fma")))
static long scale_row_avx2(float *row, long n, float f) {
    const __m256 vf = _mm256_set1_ps(f);
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), vf));
    return i;
}

// row[t2] = w[t2]·(row[t2] − dot)·scale for the first n & ~7 (returns how many).
__attribute__((target("avx2,fma")))
static long jacobian_row_avx2(float *row, const float *w, long n, float dot, float scale) {
    const __m256 vd = _mm256_set1_ps(dot), vs = _mm256_set1_ps(scale);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + i), vd);
        _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(w + i), d), vs));
    }
    return i;
}
#endif

// MARK: - Attention, one (sequence, head) pair

// The thread's attention scratch, at least `count` floats, 64-byte aligned: allocated on a
// thread's first pair and grown only by a longer sequence, so steps allocate nothing.
static float *attention_scratch(size_t count) {
    ck_buffers *bufs = ck_thread_buffers();
    if (bufs->att_count < count) {
        free(bufs->att);
        size_t bytes = (sizeof(float) * count + 63) / 64 * 64;
        bufs->att = (float *)aligned_alloc(64, bytes);
        if (!bufs->att) abort();
        bufs->att_count = count;
    }
    return bufs->att;
}

static long round_up_nr(long n) { return (n + NR - 1) / NR * NR; }

#if CK_HAVE_X86
static void exp_shift_sum3_avx2(float *x[3], const long n[3], const float shift[3], float sum[3]);
#endif

// sum[r] = ck_exp_shift_sum(x[r], n[r], shift[r]) for r < w (w ≤ 3): with AVX2 three rows
// at once (their exps' chains overlap), the same bits as one at a time.
static void exp_shift_sums(float *x[3], const long n[3], const float shift[3], float sum[3], long w, int avx2) {
#if CK_HAVE_X86
    if (avx2 && w == 3) {
        exp_shift_sum3_avx2(x, n, shift, sum);
        return;
    }
#else
    (void)avx2;
#endif
    for (long r = 0; r < w; r++) sum[r] = ck_exp_shift_sum(x[r], n[r], shift[r]);
}

// Floats of a thread's scratch for one pair (forward, or backward with backward != 0).
static size_t attention_scratch_count(long T, long hs, int backward) {
    if (T <= 0 || hs <= 0) return 0;
    size_t packed = (size_t)(round_up_nr(T) * hs + round_up_nr(hs) * T * (backward ? 3 : 1));
    return packed + (backward ? (size_t)(T * T) : 0);
}

// row[i] = row[i]·scale for i < n; returns their maximum as `if x > max { max = x }` from
// −∞ finds it (NaN never, a tie of −0 and +0 may differ, which no use of it can see: it is
// only subtracted, and x − (±0) differs only for x = ±0, whose exp is 1 either way).
static float scale_and_max(float *row, long n, float scale, int avx2) {
    float maxv = -INFINITY;
    long i = 0;
#if CK_HAVE_X86
    if (avx2) i = scale_and_max_avx2(row, n, scale, &maxv);
#else
    (void)avx2;
#endif
    for (; i < n; i++) {
        float x = row[i] * scale;
        row[i] = x;
        if (x > maxv) maxv = x;
    }
    return maxv;
}

// row[i] = row[i]·f for i < n.
static void scale_row(float *row, long n, float f, int avx2) {
    long i = 0;
#if CK_HAVE_X86
    if (avx2) i = scale_row_avx2(row, n, f);
#else
    (void)avx2;
#endif
    for (; i < n; i++) row[i] *= f;
}

// The softmax Jacobian of rows [r0, r1) in place, with the scale: for row t,
// dot = Σ_{t2 ≤ t} att·dS (product and sum rounded each, t2 ascending), then
// dS[t2] = att·(dS − dot)·scale for t2 ≤ t and 0 above. AVX2 runs 8 rows at once, one
// row's chain a lane (8 x 8 blocks transposed in registers), the same operations in the
// same order as the scalar loop.
static void attention_jacobian(float *dS, const float *att, long T, long r0, long r1, float scale, int avx2) {
    float dots[8];
    for (long t0 = r0; t0 < r1; t0 += 8) {
        long rows = r1 - t0 < 8 ? r1 - t0 : 8;
#if CK_HAVE_X86
        if (avx2 && rows == 8 && t0 % 8 == 0) {
            attention_dots8_avx2(dots, dS, att, T, t0);
        } else
#endif
        for (long r = 0; r < rows; r++) {
            const float *w = att + (t0 + r) * T, *row = dS + (t0 + r) * T;
            float dot = 0.0f;
            for (long t2 = 0; t2 <= t0 + r; t2++) dot = w[t2] * row[t2] + dot;
            dots[r] = dot;
        }
        for (long r = 0; r < rows; r++) {
            long t = t0 + r;
            const float *w = att + t * T;
            float *row = dS + t * T;
            long t2 = 0;
#if CK_HAVE_X86
            if (avx2) t2 = jacobian_row_avx2(row, w, t + 1, dots[r], scale);
#endif
            for (; t2 <= t; t2++) row[t2] = w[t2] * (row[t2] - dots[r]) * scale;
            for (t2 = t + 1; t2 < T; t2++) row[t2] = 0.0f;
        }
    }
}

void ck_attention_forward_pair(int impl, float *y, long ldy, float *att, const float *q, const float *k,
                               const float *v, long ld, long T, long hs, float scale, long R) {
    if (T <= 0 || hs <= 0 || R <= 0) return;
    int avx2 = ck_resolve_impl(impl) == CK_IMPL_AVX2;
    float *kT = attention_scratch(attention_scratch_count(T, hs, 0));
    float *vp = kT + round_up_nr(T) * hs;
    pack_b(kT, k, hs, T, 1, ld, avx2, NR * hs);     // B(p, j) = k_j[p]: hs deep, a column per key
    pack_b(vp, v, T, hs, ld, 1, avx2, NR * T);      // B(p, j) = v_p[j]: T deep, a column per channel
    for (long r0 = 0; r0 < T; r0 += R) {
        long r1 = r0 + R < T ? r0 + R : T;
        // S[t][t2] = q_t · k_t2 for t in [r0, r1), t2 ≤ t (and the rest of panels that reach t)
        sgemm_block_causal(impl, r0, r1, 0, r1, hs, q, ld, 1, NULL, 0, 0, att, T, 0, NULL, kT, 1, hs,
                           CAUSAL_COLUMNS, NULL);
        for (long t = r0; t < r1;) {
            long w = t + 3 <= r1 ? 3 : 1;   // rows t..t+w-1
            float *x[3], maxv[3], sum[3];
            long n[3];
            for (long r = 0; r < w; r++) {
                x[r] = att + (t + r) * T;
                n[r] = t + r + 1;
                maxv[r] = scale_and_max(x[r], n[r], scale, avx2);
            }
            exp_shift_sums(x, n, maxv, sum, w, avx2);
            for (long r = 0; r < w; r++) {
                scale_row(x[r], n[r], 1.0f / sum[r], avx2);
                memset(x[r] + n[r], 0, sizeof(float) * (size_t)(T - n[r]));
            }
            t += w;
        }
        // y_t = Σ_{t2} att[t][t2] · v_t2, to the last t2 of t's tile (the masked weights are 0)
        sgemm_block_causal(impl, r0, r1, 0, hs, r1, att, T, 1, NULL, 0, 0, y, ldy, 0, NULL, vp, 1, T,
                           CAUSAL_DEPTH_END, NULL);
    }
}

void ck_attention_backward_pair(int impl, float *dq, float *dk, float *dv, long ldd, const float *dy, long ldy,
                                const float *q, const float *k, const float *v, long ld, const float *att,
                                long T, long hs, float scale, long R) {
    if (T <= 0 || hs <= 0 || R <= 0) return;
    int avx2 = ck_resolve_impl(impl) == CK_IMPL_AVX2;
    long deep = round_up_nr(hs) * T;
    float *vT = attention_scratch(attention_scratch_count(T, hs, 1));
    float *kp = vT + round_up_nr(T) * hs, *dyp = kp + deep, *qp = dyp + deep, *dS = qp + deep;
    pack_b(vT, v, hs, T, 1, ld, avx2, NR * hs);     // B(p, j) = v_j[p]
    pack_b(kp, k, T, hs, ld, 1, avx2, NR * T);      // B(p, j) = k_p[j]
    pack_b(dyp, dy, T, hs, ldy, 1, avx2, NR * T);   // B(p, j) = dy_p[j]
    pack_b(qp, q, T, hs, ld, 1, avx2, NR * T);      // B(p, j) = q_p[j]
    for (long r0 = 0; r0 < T; r0 += R) {
        long r1 = r0 + R < T ? r0 + R : T;
        // datt[t][t2] = dy_t · v_t2, t in [r0, r1), t2 ≤ t as S; then the Jacobian in place
        sgemm_block_causal(impl, r0, r1, 0, r1, hs, dy, ldy, 1, NULL, 0, 0, dS, T, 0, NULL, vT, 1, hs,
                           CAUSAL_COLUMNS, NULL);
        attention_jacobian(dS, att, T, r0, r1, scale, avx2);
        // dq_t = Σ_{t2} dS[t][t2] · k_t2, to the last t2 of t's tile
        sgemm_block_causal(impl, r0, r1, 0, hs, r1, dS, T, 1, NULL, 0, 0, dq, ldd, 0, NULL, kp, 1, T,
                           CAUSAL_DEPTH_END, NULL);
    }
    // Column t2 of dS and att is nonzero only in rows t ≥ t2; the sums run over t from 0
    // (blocks of CK_KC from t = 0, whatever R), each tile's chains starting at its first t2.
    for (long r0 = 0; r0 < T; r0 += R) {
        long r1 = r0 + R < T ? r0 + R : T;
        // dv_t2 = Σ_t att[t][t2] · dy_t;  dk_t2 = Σ_t dS[t][t2] · q_t
        sgemm_block_causal(impl, r0, r1, 0, hs, T, att, 1, T, NULL, 0, 0, dv, ldd, 0, NULL, dyp, 1, T,
                           CAUSAL_DEPTH_START, NULL);
        sgemm_block_causal(impl, r0, r1, 0, hs, T, dS, 1, T, NULL, 0, 0, dk, ldd, 0, NULL, qp, 1, T,
                           CAUSAL_DEPTH_START, NULL);
    }
}

// MARK: - AdamW

// The element update, written once for the scalar loops. No fused multiply-add (FP_CONTRACT
// OFF), so the scalar and vector paths give the same bits (see ckernels.h).
#define CK_ADAMW_ELEMENT(i, gi)                                                      \
    do {                                                                            \
        float mi = beta1 * m[i] + one_minus_beta1 * (gi);                           \
        float vi = beta2 * v[i] + one_minus_beta2 * ((gi) * (gi));                  \
        m[i] = mi;                                                                  \
        v[i] = vi;                                                                  \
        p[i] = p[i] * decay - lr * (mi / bias1) / (sqrtf(vi / bias2) + eps);        \
    } while (0)

#if CK_HAVE_X86
// Eight elements at a time with separate multiplies and adds, exact division and sqrt.
__attribute__((target("avx2,fma")))
static long adamw_avx2(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                       long i0, long i1, float lr, float beta1, float one_minus_beta1, float beta2,
                       float one_minus_beta2, float eps, float decay, float bias1, float bias2, float grad_scale) {
    const ck_adamw_vectors c = ck_adamw_vectors_make(lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, bias1, bias2);
    const __m256 vdecay = _mm256_set1_ps(decay), vscale = _mm256_set1_ps(grad_scale);
    const int scaled = grad_scale != 1.0f;
    long i = i0;
    for (; i + 8 <= i1; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        if (scaled) gi = _mm256_mul_ps(gi, vscale);
        ck_adamw8(&c, vdecay, p, m, v, gi, i);
    }
    return i;
}
#endif

void ck_adamw_update(float *p, const float *g, float *m, float *v, long i0, long i1,
                     float lr, float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                     float eps, float decay, float bias1, float bias2, float grad_scale) {
    long i = i0;
#if CK_HAVE_X86
    if (ck_avx2_available())
        i = adamw_avx2(p, g, m, v, i0, i1, lr, beta1, one_minus_beta1, beta2, one_minus_beta2,
                       eps, decay, bias1, bias2, grad_scale);
#endif
    if (grad_scale == 1.0f) {
        for (; i < i1; i++) CK_ADAMW_ELEMENT(i, g[i]);
    } else {
        for (; i < i1; i++) {
            float gi = g[i] * grad_scale;
            CK_ADAMW_ELEMENT(i, gi);
        }
    }
}

// MARK: - Elementwise: exp, GELU, softmax rows
//
// One exp for every path: Cephes' expf polynomial (about 1 ulp on [-87, 88]), built from
// plain multiplies and adds (no fused multiply-add) so the AVX2 lanes and the portable
// scalar code give the same bits. Inputs below -103.97 give 0; the scale by 2^n is done
// in two steps so results down to the subnormal range stay right.

#define CK_EXP_HI 88.3762626647949f
#define CK_EXP_LO -103.972077083991796f
#define CK_LOG2E 1.44269504088896341f
#define CK_EXP_C1 0.693359375f
#define CK_EXP_C2 -2.12194440e-4f
#define CK_EXP_P0 1.9875691500e-4f
#define CK_EXP_P1 1.3981999507e-3f
#define CK_EXP_P2 8.3334519073e-3f
#define CK_EXP_P3 4.1665795894e-2f
#define CK_EXP_P4 1.6666665459e-1f
#define CK_EXP_P5 5.0000001201e-1f

static inline float ck_pow2i(int k) {   // 2^k for k in [-126, 127]
    union { unsigned u; float f; } v;
    v.u = (unsigned)(k + 127) << 23;
    return v.f;
}

static inline float ck_expf_portable(float x) {
    if (x != x) return x;
    if (x > CK_EXP_HI) x = CK_EXP_HI;
    if (x < CK_EXP_LO) x = CK_EXP_LO;
    float n = nearbyintf(x * CK_LOG2E);
    float r = x - n * CK_EXP_C1;
    r = r - n * CK_EXP_C2;
    float z = r * r;
    float y = CK_EXP_P0;
    y = y * r + CK_EXP_P1;
    y = y * r + CK_EXP_P2;
    y = y * r + CK_EXP_P3;
    y = y * r + CK_EXP_P4;
    y = y * r + CK_EXP_P5;
    y = y * z + r;
    y = y + 1.0f;
    int ni = (int)n;
    int n1 = ni >> 1, n2 = ni - n1;
    return y * ck_pow2i(n1) * ck_pow2i(n2);
}

float ck_expf(float x) { return ck_expf_portable(x); }

// GELU, tanh form, as x·σ(2u) with u = √(2/π)·(x + 0.044715·x³) (see Ops.swift).
#define CK_GELU_S 0.7978845608028654f
#define CK_GELU_K 0.044715f

static inline float gelu_u(float x) { return CK_GELU_S * (x + CK_GELU_K * x * x * x); }
static inline float gelu_e(float u) { return ck_expf_portable(-2.0f * fabsf(u)); }

// From x, its u and e = e^(−2|u|).
static inline float gelu_fwd_portable(float x, float u, float e) {
    float large = 1.0f / (1.0f + e);
    float small = e * large;
    return x * (u >= 0.0f ? large : small);
}

static inline float gelu_bwd_portable(float x, float u, float e) {
    float large = 1.0f / (1.0f + e);
    float small = e * large;
    float s = u >= 0.0f ? large : small;
    float sc = u >= 0.0f ? small : large;
    return s + 2.0f * x * s * sc * CK_GELU_S * (1.0f + 3.0f * CK_GELU_K * x * x);
}

// One element of ck_gelu_forward / ck_gelu_backward (exps as there).
static inline float gelu_fwd_element(float x, float *exps, long i) {
    float u = gelu_u(x), e = gelu_e(u);
    if (exps) exps[i] = e;
    return gelu_fwd_portable(x, u, e);
}

static inline float gelu_bwd_element(float x, const float *exps, long i) {
    float u = gelu_u(x);
    return gelu_bwd_portable(x, u, exps ? exps[i] : gelu_e(u));
}

// Both paths of ck_exp_shift_sum end alike: the 8 lane sums reduced in a fixed tree,
// then the exps of elements i..<n, already in x, added one at a time in order.
static float exp_shift_sum_tail(const float *x, long i, long n, const float l[8]) {
    float s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
    for (; i < n; i++) s += x[i];
    return s;
}

#if CK_HAVE_X86
// One exp, GELU or softmax vector is a chain of some 40 dependent operations, so a loop
// that takes one vector at a time waits on latency. These take CK_WAYS independent vectors
// and do each stage for all of them before the next, so the chains overlap (3 measured
// fastest: 4 runs out of registers). They are always inlined, so w is a constant; each lane's
// operations, and so its bits, are those of the one-vector form.
#define CK_WAYS 3

__attribute__((target("avx2"), always_inline))
static inline void exp_avx2_ways(__m256 *x, int w) {
    __m256 nan_mask[CK_WAYS], n[CK_WAYS], r[CK_WAYS], z[CK_WAYS], y[CK_WAYS];
    for (int k = 0; k < w; k++) {
        nan_mask[k] = _mm256_cmp_ps(x[k], x[k], _CMP_UNORD_Q);
        __m256 xc = _mm256_min_ps(x[k], _mm256_set1_ps(CK_EXP_HI));
        xc = _mm256_max_ps(xc, _mm256_set1_ps(CK_EXP_LO));
        n[k] = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(CK_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r[k] = _mm256_sub_ps(xc, _mm256_mul_ps(n[k], _mm256_set1_ps(CK_EXP_C1)));
    }
    for (int k = 0; k < w; k++) {
        r[k] = _mm256_sub_ps(r[k], _mm256_mul_ps(n[k], _mm256_set1_ps(CK_EXP_C2)));
        z[k] = _mm256_mul_ps(r[k], r[k]);
        y[k] = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(CK_EXP_P0), r[k]), _mm256_set1_ps(CK_EXP_P1));
    }
    for (int k = 0; k < w; k++) y[k] = _mm256_add_ps(_mm256_mul_ps(y[k], r[k]), _mm256_set1_ps(CK_EXP_P2));
    for (int k = 0; k < w; k++) y[k] = _mm256_add_ps(_mm256_mul_ps(y[k], r[k]), _mm256_set1_ps(CK_EXP_P3));
    for (int k = 0; k < w; k++) y[k] = _mm256_add_ps(_mm256_mul_ps(y[k], r[k]), _mm256_set1_ps(CK_EXP_P4));
    for (int k = 0; k < w; k++) y[k] = _mm256_add_ps(_mm256_mul_ps(y[k], r[k]), _mm256_set1_ps(CK_EXP_P5));
    for (int k = 0; k < w; k++) {
        y[k] = _mm256_add_ps(_mm256_mul_ps(y[k], z[k]), r[k]);
        y[k] = _mm256_add_ps(y[k], _mm256_set1_ps(1.0f));
    }
    const __m256i bias = _mm256_set1_epi32(127);
    for (int k = 0; k < w; k++) {
        __m256i ni = _mm256_cvtps_epi32(n[k]);
        __m256i n1 = _mm256_srai_epi32(ni, 1);
        __m256i n2 = _mm256_sub_epi32(ni, n1);
        __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
        __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
        y[k] = _mm256_mul_ps(_mm256_mul_ps(y[k], p1), p2);
        x[k] = _mm256_blendv_ps(y[k], x[k], nan_mask[k]);
    }
}

// GELU of w vectors x: fwd (x·s) and/or bwd (its derivative), either may be NULL. `e` holds
// e^(−2|u|) on return; with `have_e` it holds it on entry, and the exp is not computed
// (always inlined, so have_e is a constant).
__attribute__((target("avx2"), always_inline))
static inline void gelu_avx2_ways(const __m256 *x, __m256 *e, int have_e, __m256 *fwd, __m256 *bwd, int w) {
    const __m256 S = _mm256_set1_ps(CK_GELU_S), K = _mm256_set1_ps(CK_GELU_K);
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    __m256 u[CK_WAYS];
    for (int k = 0; k < w; k++) {
        u[k] = _mm256_mul_ps(S, _mm256_add_ps(x[k], _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(K, x[k]), x[k]), x[k])));
        if (!have_e) e[k] = _mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), u[k]));
    }
    if (!have_e) exp_avx2_ways(e, w);
    for (int k = 0; k < w; k++) {
        __m256 large = _mm256_div_ps(one, _mm256_add_ps(one, e[k]));
        __m256 small = _mm256_mul_ps(e[k], large);
        __m256 pos = _mm256_cmp_ps(u[k], _mm256_setzero_ps(), _CMP_GE_OQ);
        __m256 s = _mm256_blendv_ps(small, large, pos);
        if (fwd) fwd[k] = _mm256_mul_ps(x[k], s);
        if (bwd) {
            __m256 sc = _mm256_blendv_ps(large, small, pos);
            __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(two, x[k]), s), sc), S);
            __m256 k3 = _mm256_mul_ps(_mm256_set1_ps(3.0f), K);
            __m256 poly = _mm256_add_ps(one, _mm256_mul_ps(_mm256_mul_ps(k3, x[k]), x[k]));
            bwd[k] = _mm256_add_ps(s, _mm256_mul_ps(t, poly));
        }
    }
}

// keep: also store the exps (always inlined, so a constant).
__attribute__((target("avx2"), always_inline))
static inline void gelu_forward_ways(float *out, float *exps, const float *inp, long i, int w, int keep) {
    __m256 x[CK_WAYS], e[CK_WAYS], f[CK_WAYS];
    for (int k = 0; k < w; k++) x[k] = _mm256_loadu_ps(inp + i + 8 * k);
    gelu_avx2_ways(x, e, 0, f, NULL, w);
    for (int k = 0; k < w; k++) {
        _mm256_storeu_ps(out + i + 8 * k, f[k]);
        if (keep) _mm256_storeu_ps(exps + i + 8 * k, e[k]);
    }
}

__attribute__((target("avx2"), always_inline))
static inline void gelu_forward_range(float *out, float *exps, const float *inp, long i0, long i1, int keep) {
    long i = i0;
    for (; i + 8 * CK_WAYS <= i1; i += 8 * CK_WAYS) gelu_forward_ways(out, exps, inp, i, CK_WAYS, keep);
    for (; i + 8 <= i1; i += 8) gelu_forward_ways(out, exps, inp, i, 1, keep);
    for (; i < i1; i++) out[i] = gelu_fwd_element(inp[i], exps, i);
}

__attribute__((target("avx2")))
static void gelu_forward_avx2(float *out, float *exps, const float *inp, long i0, long i1) {
    if (exps) gelu_forward_range(out, exps, inp, i0, i1, 1);
    else gelu_forward_range(out, NULL, inp, i0, i1, 0);
}

// acc: 1 adds to dinp, 0 adds +0 instead; have_e: read the exps (constants once inlined).
__attribute__((target("avx2"), always_inline))
static inline void gelu_backward_ways(float *dinp, const float *inp, const float *exps, const float *dout, long i,
                                      int w, int acc, int have_e) {
    __m256 x[CK_WAYS], e[CK_WAYS], d[CK_WAYS];
    for (int k = 0; k < w; k++) {
        x[k] = _mm256_loadu_ps(inp + i + 8 * k);
        if (have_e) e[k] = _mm256_loadu_ps(exps + i + 8 * k);
    }
    gelu_avx2_ways(x, e, have_e, NULL, d, w);
    for (int k = 0; k < w; k++) {
        float *o = dinp + i + 8 * k;
        __m256 to = acc ? _mm256_loadu_ps(o) : _mm256_setzero_ps();
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_mul_ps(d[k], _mm256_loadu_ps(dout + i + 8 * k)), to));
    }
}

__attribute__((target("avx2"), always_inline))
static inline void gelu_backward_range(float *dinp, const float *inp, const float *exps, const float *dout,
                                       long i0, long i1, int acc, int have_e) {
    long i = i0;
    for (; i + 8 * CK_WAYS <= i1; i += 8 * CK_WAYS) gelu_backward_ways(dinp, inp, exps, dout, i, CK_WAYS, acc, have_e);
    for (; i + 8 <= i1; i += 8) gelu_backward_ways(dinp, inp, exps, dout, i, 1, acc, have_e);
    for (; i < i1; i++) dinp[i] = gelu_bwd_element(inp[i], exps, i) * dout[i] + (acc ? dinp[i] : 0.0f);
}

__attribute__((target("avx2")))
static void gelu_backward_avx2(float *dinp, const float *inp, const float *exps, const float *dout, long i0, long i1,
                               int accumulate) {
    if (accumulate) {
        if (exps) gelu_backward_range(dinp, inp, exps, dout, i0, i1, 1, 1);
        else gelu_backward_range(dinp, inp, NULL, dout, i0, i1, 1, 0);
    } else {
        if (exps) gelu_backward_range(dinp, inp, exps, dout, i0, i1, 0, 1);
        else gelu_backward_range(dinp, inp, NULL, dout, i0, i1, 0, 0);
    }
}

// exp_shift_sum_avx2 from element i on, with the lane sums `acc` of the vectors before i.
__attribute__((target("avx2"), always_inline))
static inline float exp_shift_sum_from_avx2(float *x, long n, float shift, long i, __m256 acc) {
    const __m256 vs = _mm256_set1_ps(shift);
    for (; i + 8 * CK_WAYS <= n; i += 8 * CK_WAYS) {
        __m256 e[CK_WAYS];
        for (int k = 0; k < CK_WAYS; k++) e[k] = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8 * k), vs);
        exp_avx2_ways(e, CK_WAYS);
        for (int k = 0; k < CK_WAYS; k++) {
            _mm256_storeu_ps(x + i + 8 * k, e[k]);
            acc = _mm256_add_ps(acc, e[k]);
        }
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = _mm256_sub_ps(_mm256_loadu_ps(x + i), vs);
        exp_avx2_ways(&e, 1);
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    // The last n − i < 8 exps in one masked vector (short rows, such as attention's first
    // ones and small vocabularies, are only this), summed in order by the tail.
    if (i < n) {
        const __m256i mask = ck_lane_mask(n - i);
        __m256 e = _mm256_sub_ps(_mm256_maskload_ps(x + i, mask), vs);
        exp_avx2_ways(&e, 1);
        _mm256_maskstore_ps(x + i, mask, e);
    }
    float l[8];
    _mm256_storeu_ps(l, acc);
    return exp_shift_sum_tail(x, i, n, l);
}

// The exps of CK_WAYS vectors overlap; the sum still adds one vector at a time in order.
__attribute__((target("avx2")))
static float exp_shift_sum_avx2(float *x, long n, float shift) {
    return exp_shift_sum_from_avx2(x, n, shift, 0, _mm256_setzero_ps());
}

// exp_shift_sum_avx2 of three rows at once, one vector of each row per step while all
// three have whole vectors left (a softmax row alone is too short for its exps' chains
// to overlap), then each row on its own: every row's exps and sums are those it would
// get alone.
__attribute__((target("avx2")))
static void exp_shift_sum3_avx2(float *x[3], const long n[3], const float shift[3], float sum[3]) {
    __m256 vs[3], acc[3];
    for (int r = 0; r < 3; r++) {
        vs[r] = _mm256_set1_ps(shift[r]);
        acc[r] = _mm256_setzero_ps();
    }
    long common = n[0] < n[1] ? n[0] : n[1];
    if (n[2] < common) common = n[2];
    long i = 0;
    for (; i + 8 <= common; i += 8) {
        __m256 e[3];
        for (int r = 0; r < 3; r++) e[r] = _mm256_sub_ps(_mm256_loadu_ps(x[r] + i), vs[r]);
        exp_avx2_ways(e, 3);
        for (int r = 0; r < 3; r++) {
            _mm256_storeu_ps(x[r] + i, e[r]);
            acc[r] = _mm256_add_ps(acc[r], e[r]);
        }
    }
    for (int r = 0; r < 3; r++) sum[r] = exp_shift_sum_from_avx2(x[r], n[r], shift[r], i, acc[r]);
}
#endif

// The portable paths give the same bits as the AVX2 ones (same operations, unfused), so
// elements computed by the scalar tail of a chunk match those computed in lanes.

void ck_gelu_forward(float *out, float *exps, const float *inp, long i0, long i1) {
#if CK_HAVE_X86
    if (ck_avx2_available()) { gelu_forward_avx2(out, exps, inp, i0, i1); return; }
#endif
    for (long i = i0; i < i1; i++) out[i] = gelu_fwd_element(inp[i], exps, i);
}

void ck_gelu_backward(float *dinp, const float *inp, const float *exps, const float *dout, long i0, long i1,
                      int accumulate) {
#if CK_HAVE_X86
    if (ck_avx2_available()) { gelu_backward_avx2(dinp, inp, exps, dout, i0, i1, accumulate); return; }
#endif
    for (long i = i0; i < i1; i++)
        dinp[i] = gelu_bwd_element(inp[i], exps, i) * dout[i] + (accumulate ? dinp[i] : 0.0f);
}

float ck_exp_shift_sum(float *x, long n, float shift) {
#if CK_HAVE_X86
    if (ck_avx2_available()) return exp_shift_sum_avx2(x, n, shift);
#endif
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++) {
            float e = ck_expf_portable(x[i + j] - shift);
            x[i + j] = e;
            l[j] = l[j] + e;
        }
    }
    for (long j = i; j < n; j++) x[j] = ck_expf_portable(x[j] - shift);
    return exp_shift_sum_tail(x, i, n, l);
}

// MARK: - FMA peak (benchmarks)

#define CK_R12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#if CK_HAVE_X86
__attribute__((target("avx2,fma")))
static float fma_peak_avx2(long iterations) {
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
#define CK_DECL(k) __m256 a##k = _mm256_set1_ps(1.0f + (float)(k));
    CK_R12(CK_DECL)
#undef CK_DECL
    for (long i = 0; i < iterations; i++) {
#define CK_FMA(k) a##k = _mm256_fmadd_ps(a##k, x, y);
        CK_R12(CK_FMA)
#undef CK_FMA
    }
    __m256 s = _mm256_setzero_ps();
#define CK_SUM(k) s = _mm256_add_ps(s, a##k);
    CK_R12(CK_SUM)
#undef CK_SUM
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[7];
}
#endif

static float fma_peak_scalar(long iterations) {
    const float x = 0.999999f, y = 1e-7f;
#define CK_DECL(k) float a##k = 1.0f + (float)(k);
    CK_R12(CK_DECL)
#undef CK_DECL
    for (long i = 0; i < iterations; i++) {
#define CK_FMA(k) a##k = a##k * x + y;
        CK_R12(CK_FMA)
#undef CK_FMA
    }
    float s = 0;
#define CK_SUM(k) s += a##k;
    CK_R12(CK_SUM)
#undef CK_SUM
    return s;
}

int ck_fma_peak_width(void) { return ck_avx2_available() ? 8 : 1; }

// MARK: - Divider throughput (benchmarks)

// a ← 1 / (√a + eps) on 8 independent chains of 8-float vectors (a stays near 1): AdamW's
// square root and division per element, with enough chains that throughput, not latency,
// bounds the loop.
#if CK_HAVE_X86
__attribute__((target("avx2,fma")))
static float sqrt_div_peak_avx2(long iterations) {
    const __m256 one = _mm256_set1_ps(1.0f), eps = _mm256_set1_ps(1e-8f);
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_set1_ps(1.0f + 0.125f * (float)k);
    for (long i = 0; i < iterations; i++)
        for (int k = 0; k < 8; k++) a[k] = _mm256_div_ps(one, _mm256_add_ps(_mm256_sqrt_ps(a[k]), eps));
    __m256 s = a[0];
    for (int k = 1; k < 8; k++) s = _mm256_add_ps(s, a[k]);
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[7];
}
#endif

float ck_sqrt_div_peak(long iterations) {
#if CK_HAVE_X86
    if (ck_avx2_available()) return sqrt_div_peak_avx2(iterations);
#endif
    float a[8], s = 0;
    for (int k = 0; k < 8; k++) a[k] = 1.0f + 0.125f * (float)k;
    for (long i = 0; i < iterations; i++)
        for (int k = 0; k < 8; k++) a[k] = 1.0f / (sqrtf(a[k]) + 1e-8f);
    for (int k = 0; k < 8; k++) s += a[k];
    return s;
}

float ck_fma_peak(long iterations) {
#if CK_HAVE_X86
    if (ck_avx2_available()) return fma_peak_avx2(iterations);
#endif
    return fma_peak_scalar(iterations);
}
