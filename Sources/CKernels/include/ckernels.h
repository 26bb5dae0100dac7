// ckernels: single-precision matrix-multiply kernels for tt-ckpt.
//
// One general, strided, register-blocked GEMM that computes any rectangular block of
// the output, plus the three shapes the engine uses. Threading lives in Swift
// (Kernels/ThreadPool.swift): callers split the output into disjoint blocks and call
// these functions once per block.
//
// Determinism contract. For every output element C(i,j) the arithmetic is fixed by
// (k, accumulate, bias, impl) alone, never by the block [i0,i1)x[j0,j1) it is computed
// in, so any split of the output between threads gives the same bits:
//   the reduction index p runs over blocks of CK_KC (256) from p = 0; within block q,
//   s_q = 0, then s_q = s_q + A(i,p)·B(p,j) for p ascending;
//   overwrite:  C = s_0 (+ bias[j], as s_0 + bias[j]); then C = C + s_q for q = 1, 2, ...
//   accumulate: C = C + s_q for q = 0, 1, 2, ...
// With k = 0, overwrite stores bias[j] (or 0) and accumulate leaves C unchanged.
// CK_IMPL_AVX2 rounds each a·b + s once (fused multiply-add); CK_IMPL_PORTABLE rounds
// the product and the sum separately. The two therefore differ in the last bits; each
// is bit-reproducible on its own, across runs and thread counts.
#ifndef CKERNELS_H
#define CKERNELS_H

#include "ckatomic.h"
#include "ckmem.h"


#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Which code path to use. AUTO picks AVX2 when the CPU has AVX2 and FMA.
enum {
    CK_IMPL_AUTO = 0,
    CK_IMPL_PORTABLE = 1,
    CK_IMPL_AVX2 = 2,
};

/// The reduction block length that fixes the summation order (see above).
enum { CK_KC = 256 };

/// 1 if this build has the AVX2 path and the CPU supports AVX2 and FMA.
int ck_avx2_available(void);

/// The implementation `impl` resolves to on this machine: CK_IMPL_PORTABLE or
/// CK_IMPL_AVX2 (AVX2 falls back to PORTABLE when unavailable).
int ck_resolve_impl(int impl);

/// General block GEMM. For i in [i0,i1), j in [j0,j1):
///   C[i*ldc + j] (=|+=) bias[j]? + sum_{p<k} A(i,p)·B(p,j),
/// with A(i,p) = a[i*a_rs + p*a_cs] and B(p,j) = b[p*b_rs + j*b_cs]. `bias` may be NULL
/// and is only used when accumulate == 0. Strides are in elements and may be any
/// non-negative values. Output blocks of concurrent calls must not overlap.
void ck_sgemm_block(int impl, long i0, long i1, long j0, long j1, long k,
                    const float *a, long a_rs, long a_cs,
                    const float *b, long b_rs, long b_cs,
                    float *c, long ldc, int accumulate, const float *bias);

/// out(M,N) = a(M,K)·b(N,K)ᵀ (+ bias(N)), rows [i0,i1) x cols [j0,j1) of out.
void ck_matmul_forward(int impl, float *out, const float *a, const float *b, const float *bias,
                       long M, long K, long N, long i0, long i1, long j0, long j1);

/// The decode layout of a forward weight b(N,K), for one row's products (a KV-cached
/// decode step): the GEMM's packed B panels over all of K, panels of W = CK_DECODE_PANEL
/// columns of out, panel q holding packed[q·K·W + p·W + r] = b[(q·W + r)·K + p] (0 for
/// rows past N), so a matrix-vector product reads each panel as one stream. Every panel
/// is 64-byte aligned when `packed` is (K·W floats is a multiple of 64 bytes).
enum { CK_DECODE_PANEL = 16 };
/// Floats of the decode layout of b(N,K).
size_t ck_decode_packed_count(long K, long N);
/// Writes panels [q0,q1) of the decode layout of b(N,K).
void ck_decode_pack(int impl, float *packed, const float *b, long K, long N, long q0, long q1);
/// out(1,N) = a(1,K)·b(N,K)ᵀ (+ bias(N)) for the columns of panels [q0,q1), read from the
/// decode layout: bit for bit ck_matmul_forward's row. Returns 0 (and does nothing) when
/// `impl` does not resolve to AVX2, the only path that has it.
int ck_matvec_decode(int impl, float *out, const float *a, const float *packed, const float *bias,
                     long K, long N, long q0, long q1);

/// ck_matmul_forward that also leaves columns [j0,j1) of b in the decode layout at `keep`
/// (the layout of all of b): the GEMM packs its B panels there and reads them from there,
/// so a prefill writes the layout the decode steps after it read, at the cost of the
/// stores. Always the GEMM (also for one row). j0 must be a multiple of CK_DECODE_PANEL;
/// concurrent calls must not share columns (give `keep` to one row block per column range).
void ck_matmul_forward_keep(int impl, float *out, const float *a, const float *b, const float *bias,
                            long M, long K, long N, long i0, long i1, long j0, long j1, float *keep);

/// The three shapes, for the calls that share one packed B between threads, and the two
/// backward ones writing over their output instead of adding to it (B packed as theirs).
enum {
    CK_SHAPE_FORWARD = 0, CK_SHAPE_BACKWARD_A = 1, CK_SHAPE_BACKWARD_B = 2,
    CK_SHAPE_BACKWARD_A_SET = 3, CK_SHAPE_BACKWARD_B_SET = 4,
};

/// Packs NR-column panels [q0,q1) of the B operand of `shape` (forward: b(N,K)ᵀ, K deep;
/// backward_a: b(N,K), N deep; backward_b: a(M,K), M deep) into `packed`, in the decode
/// layout over the whole depth: panel q at packed + q·16·depth. Threads packing disjoint
/// panels build one copy that ck_matmul_packed calls on every thread then read.
void ck_matmul_pack_b(int impl, int shape, float *packed, const float *b, long M, long K, long N, long q0, long q1);

/// ck_matmul_forward / _backward_a / _backward_b (by `shape`; `a` is their first input:
/// a, dOut, dOut) on B already packed by ck_matmul_pack_b: the same arithmetic, so the
/// same bits. `bias` is used by the forward only, `dbias` by _backward_b only (as there).
void ck_matmul_packed(int impl, int shape, float *out, const float *a, const float *packed, const float *bias,
                      long M, long K, long N, long i0, long i1, long j0, long j1, float *dbias);

/// dA(M,K) += dOut(M,N)·b(N,K), rows [i0,i1) (of M) x cols [j0,j1) (of K) of dA; with
/// accumulate == 0, dA = dOut·b instead, the bits of adding it to zeros: the first block's
/// chain s_0 starts from +0, and a sum of +0 and a product is never −0 (+0 + −0 = +0), nor
/// is a sum of two floats that cancel, so s_0 is never −0 and 0 + s_0 = s_0.
void ck_matmul_backward_a(int impl, float *dA, const float *dOut, const float *b,
                          long M, long K, long N, long i0, long i1, long j0, long j1, int accumulate);

/// dB(N,K) += dOut(M,N)ᵀ·a(M,K), rows [i0,i1) (of N) x cols [j0,j1) (of K) of dB; with
/// accumulate == 0, dB = dOutᵀ·a, the bits of adding it to zeros (as ck_matmul_backward_a).
/// With dbias (not NULL) and j0 == 0, also the bias gradient of rows [i0,i1):
/// dbias[n] = dbias[n] + dOut[m][n] for m = 0, 1, ... M−1 in order, one float add each,
/// read from dOut as it is packed (so a split by columns gives it to the block at j0 = 0).
void ck_matmul_backward_b(int impl, float *dB, const float *dOut, const float *a,
                          long M, long K, long N, long i0, long i1, long j0, long j1, int accumulate,
                          float *dbias);

/// Causal attention of one (sequence, head) pair on the GEMM's arithmetic, in row blocks of
/// R positions that skip the masked upper triangle. q, k, v: row t at q + t·ld (hs floats);
/// y: row t at y + t·ldy; att: T x T, row t = softmax(q_t·kᵀ·scale over t2 ≤ t), 0 above.
/// For block [r0, r1): S = q·kᵀ (depth hs) for t2 ≤ t (the kernel's 16-column panels
/// that reach the diagonal of a 6-row tile); per row x = S·scale, m = the max (sequential
/// `>` from −∞), e = ck_exp_shift_sum(x, t + 1, m), att = e·(1/Σe), 0 above t; then
/// y = att·v, each 6-row tile's chains stopping after its last row's t2 (≤ r1). k and v
/// are packed once per pair, into a scratch each thread keeps (grown only for a longer
/// sequence). Same bits for any R and tiling, up to the zeros the products add (no float
/// but ±0 changes when a ±0 product is added to a sum from +0).
void ck_attention_forward_pair(int impl, float *y, long ldy, float *att, const float *q, const float *k,
                               const float *v, long ld, long T, long hs, float scale, long R);

/// The gradient of ck_attention_forward_pair: dq, dk, dv (row t at d· + t·ldd) written
/// over, from dy (row t at dy + t·ldy) and the pair's att. Row blocks [r0, r1):
/// datt = dy·vᵀ (depth hs, t2 ≤ t as S above); the Jacobian dS = att·(datt − dot)·scale
/// with dot = Σ_{t2 ≤ t} att·datt (each product and sum rounded, t2 ascending), 0 above t;
/// dq = dS·k (depth up to a tile's last row, as y). Then column blocks: dv = attᵀ·dy and
/// dk = dSᵀ·q over t (depth T, blocks of CK_KC from t = 0), each 6-row tile of t2 starting
/// at its first t2. dy, q, k, v are packed once per pair; dS lives in the thread's scratch.
void ck_attention_backward_pair(int impl, float *dq, float *dk, float *dv, long ldd, const float *dy, long ldy,
                                const float *q, const float *k, const float *v, long ld, const float *att,
                                long T, long hs, float scale, long R);

/// One AdamW update of elements [i0, i1), in float, elementwise:
///   g' = g·grad_scale (skipped when grad_scale == 1)
///   m = beta1·m + one_minus_beta1·g';  v = beta2·v + one_minus_beta2·g'²
///   p = p·decay − lr·(m / bias1) / (sqrt(v / bias2) + eps)
/// with decay = 1 − lr·wd, bias1 = 1 − beta1^t, bias2 = 1 − beta2^t computed by the
/// caller. Products and sums are rounded separately (no fused multiply-add) on every
/// path, and sqrt and division are correctly rounded, so the result is the same on every
/// machine and for any split of the range.
void ck_adamw_update(float *p, const float *g, float *m, float *v, long i0, long i1,
                     float lr, float beta1, float one_minus_beta1, float beta2, float one_minus_beta2,
                     float eps, float decay, float bias1, float bias2, float grad_scale);

/// exp(x) to about 1 ulp (Cephes' polynomial, unfused multiply-adds): the same bits on
/// the AVX2 and portable paths. 0 below -103.97, NaN stays NaN.
float ck_expf(float x);

/// out[i] = gelu(inp[i]) for i in [i0, i1), tanh form evaluated as x·σ(2u) with ck_expf
/// (σ(2u) and 1 − σ(2u) from e = e^(−2|u|)). With `exps` (may be NULL), also
/// exps[i] = that e, for ck_gelu_backward. Elementwise, same bits on every path and for
/// any split of the range.
void ck_gelu_forward(float *out, float *exps, const float *inp, long i0, long i1);

/// dinp[i] += gelu'(inp[i])·dout[i] for i in [i0, i1) (true derivative of the forward);
/// with accumulate == 0, dinp[i] = gelu'(inp[i])·dout[i] + 0 (the bits of adding to
/// zeros: the + 0 turns a −0 product into +0). With `exps` (may be NULL) the e of each
/// element is read from what ck_gelu_forward stored there instead of computed again: the
/// same value, so the same bits, for a third of the work.
void ck_gelu_backward(float *dinp, const float *inp, const float *exps, const float *dout, long i0, long i1,
                      int accumulate);

/// LayerNorm forward of rows [i0, i1) of inp (rows of C floats), every float operation
/// rounded on its own (no fused multiply-add), sums in the order of c: per row
/// m = (Σ x_c)·(1/C), v = (Σ (x_c − m)²)·(1/C), s = 1/√(v + eps),
/// out_c = (s·(x_c − m))·weight_c + bias_c; mean and rstd get m and s. The same bits on
/// every path (AVX2 sums 8 rows at once, one row a lane) and for any split of the rows.
void ck_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                          const float *bias, long C, float eps, long i0, long i1);

/// LayerNorm backward, the rows [i0, i1) of dinp: with x̂_c = (x_c − m)·s and
/// g_c = weight_c·dout_c, a = (Σ g_c)·(1/C), b = (Σ g_c·x̂_c)·(1/C) (sums in the order
/// of c, each product rounded), dinp_c += s·((g_c − a) − x̂_c·b). Same bits on every path.
void ck_layernorm_backward_rows(float *dinp, const float *dout, const float *inp, const float *weight,
                                const float *mean, const float *rstd, long C, long i0, long i1);

/// LayerNorm backward, the channels [c0, c1) of the parameter gradients: for each row i
/// in order, dbias_c += dout_c and dweight_c = x̂_c·dout_c + dweight_c. Same bits on
/// every path and for any split of the channels.
void ck_layernorm_backward_params(float *dweight, float *dbias, const float *dout, const float *inp,
                                  const float *mean, const float *rstd, long N, long C, long c0, long c1);

/// x[i] = exp(x[i] - shift) for i < n; returns their sum: lane j (j < 8) adds the
/// elements i ≡ j (mod 8) below n & ~7 in order, lanes combine as
/// ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), then the tail is added in order.
float ck_exp_shift_sum(float *x, long n, float shift);

/// The machine's FMA peak, for benchmarks: `iterations` rounds of 12 independent chains of
/// fused multiply-adds on 8-float vectors (enough to cover the FMA latency on both pipes of
/// current x86 cores), with AVX2+FMA when available (`ck_fma_peak_width` says), else plain
/// scalar multiply-adds. Each round is 2·12·width floating-point operations. Returns a
/// value that depends on every chain, so the work cannot be optimized away.
float ck_fma_peak(long iterations);

/// Floats per FMA in `ck_fma_peak` on this machine: 8 with AVX2+FMA, else 1.
int ck_fma_peak_width(void);

/// The divider's throughput, for benchmarks: `iterations` rounds of a ← 1 / (√a + eps) on
/// 8·`ck_fma_peak_width()` independent floats (8 chains of 8-float vectors with AVX2, else
/// 8 scalar chains): one square root and one division per float per round, as AdamW does
/// per parameter. Returns a value that depends on every chain.
float ck_sqrt_div_peak(long iterations);

#ifdef __cplusplus
}
#endif
#endif
