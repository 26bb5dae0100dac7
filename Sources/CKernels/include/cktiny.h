// cktiny: the whole training step of a small model on one thread, with no dispatch.
//
// For models so small that every op of a step would run on the calling thread anyway
// (the tutorial preset: 3,456 parameters, 5 positions), the general path's cost is
// mostly overhead: closures, packing for the blocked GEMM, separate passes. This file
// does the same arithmetic in fused loops: each function mirrors one op of
// Sources/TTEngine/Ops.swift and Model.swift operation for operation, and each matrix
// product follows the GEMM's per-element order (ckernels.h: FMA chains over p in blocks
// of CK_KC), so the results are bit-identical to the general path with CK_IMPL_AVX2.
// Callers use it only when ck_avx2_available() is true.
#ifndef CKTINY_H
#define CKTINY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Parameter offsets of one layer in the flat parameter/gradient buffers.
typedef struct {
    long wq, wk, wv, wo, w1, b1, w2, b2;
    long ln1Gamma, ln1Beta;   // tutorial: ln.*; gpt: ln1.*
    long ln2Gamma, ln2Beta;   // gpt only
} ck_tiny_layer;

/// Everything one step touches: dimensions, the model's buffers, and the offsets of the
/// parameters and activation views (the model's own layout, so `logits` and every
/// activation end up where the general path puts them).
typedef struct {
    long B, T, C, V, H, F, L;   // T: positions in this batch
    int arch;                   // 0 tutorial, 1 gpt
    float eps;
    const int32_t *tokens;      // (B*T)
    const int32_t *targets;     // (B*T), -1 = ignored
    long targetCount;
    long count;                 // floats in the parameter (and gradient) buffer
    float *params;
    float *grads;
    float *acts;
    float *scratch;             // ck_tiny_scratch_count floats
    long tokEmb, posEmb, lmHead, lnfGamma, lnfBeta;
    const ck_tiny_layer *layers;   // L entries
    // The gradients the backward adds to, as zeroRangeCount sorted [lo, hi) pairs: it zeroes
    // them first and writes the rest (the weight matrices) over.
    const long *zeroRanges;
    long zeroRangeCount;
    // Per-layer activation views, relative to layer l's start (l * layerStride); fchExp
    // is -1 when the model does not keep GELU's exps.
    long ln1, ln1Mean, ln1Rstd, qkv, atty, att, attproj, res2, ln2, ln2Mean, ln2Rstd;
    long fch, fchGelu, fchExp, fcproj, res3, lnOut, lnMean, lnRstd, layerStride;
    // Global views.
    long encoded, lnf, lnfMean, lnfRstd, logits, probs, losses, wqkvT;
    long dres, dln, dmh, datty, dqkv, dfch, dfchGelu, dlogits, dwqkvT;
} ck_tiny_model;

/// Floats of scratch the step needs (transposed weights, attention rows), for the largest
/// T the model allows.
long ck_tiny_scratch_count(long C, long V, long F, long T);

/// The forward pass; returns the sum of the losses over non-ignored targets, added in row
/// order in double (Model.forward divides it by the count).
double ck_tiny_forward(const ck_tiny_model *m);

/// The backward pass of the last forward: overwrites the gradients (the weight matrices
/// written over, the ranges of `zeroRanges` zeroed and then added to).
void ck_tiny_backward(const ck_tiny_model *m);

/// Σ g² over g[0, n) in double, as Model.gradientSumOfSquares: blocks of `block` floats,
/// four interleaved lanes combined as (s0 + s1) + (s2 + s3), block sums added in order.
double ck_sum_of_squares(const float *g, long n, long block);

/// One AdamW step over p[0, n) (the element arithmetic of ck_adamw_update, no gradient
/// scale) fused with the gradient norm: returns Σ g² as ck_sum_of_squares computes it.
/// `noDecay` holds `ranges` sorted, disjoint [lo, hi) pairs updated with decay 1.
/// AVX2 only (callers check ck_avx2_available()).
double ck_adamw_update_sum_of_squares(float *p, const float *g, float *m, float *v, long n, long block,
                                      const long *noDecay, long ranges,
                                      float lr, float beta1, float one_minus_beta1, float beta2,
                                      float one_minus_beta2, float eps, float decay, float bias1, float bias2);

#ifdef __cplusplus
}
#endif
#endif
