// ckscreen: the greedy head's screen. A greedy decode step needs only the argmax of the
// logits, and the head (V x C) is the largest matrix a step reads (GPT-2 124M: 154 MB
// of its 497). The screen reads a half-precision copy of the head instead (half the
// bytes), bounds how far each approximate logit can be from the one the full product
// computes, and leaves only the rows whose bound reaches the best lower bound to be
// computed exactly (with ck_matvec_decode, so their values are the full product's bits).
// See spec/TRAINING.md, "Greedy decoding".
#ifndef CKSCREEN_H
#define CKSCREEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU converts half precision (F16C) and has AVX2+FMA: the screen's kernels
/// need all three.
int ck_screen_available(void);

/// Writes panels [q0,q1) of the screen of b(N,K), from b's decode layout `packed`
/// (ck_decode_pack, 32-byte aligned panels): `half` in the same layout, each float
/// rounded to the nearest binary16 (ties to even), and for each row j of those panels a
/// radius such that for any a(K) and any float summation order of either product,
/// |a·b_j − a·h_j| as computed in float is at most ‖a‖₂·radius[j] (h_j the half row) up
/// to underflow, which `ck_screen_bound` covers:
///     radius = (E + γ·(B + H))·(1 + 2⁻²⁰),  γ = n·u/(1 − n·u),  n = K + 2,  u = 2⁻²⁴,
/// with B ≥ ‖b_j‖₂ (from a float sum of squares), E = 2⁻¹¹·B + √K·2⁻²⁵ ≥ ‖b_j − h_j‖₂
/// (binary16 rounds within 2⁻¹¹ relative, or 2⁻²⁵ absolute below its normal range) and
/// H = B + E ≥ ‖h_j‖₂: Cauchy–Schwarz for the difference of the exact products, and the
/// standard γ_n·Σ|a_p·x_p| for each computed one. A row holding a weight that is not
/// finite or beyond binary16's range (|x| > 65504) gets radius +infinity. Needs
/// ck_screen_available().
void ck_screen_pack(uint16_t *half, double *radius, const float *packed, long K, long N, long q0, long q1);

/// out[j] = Σ_p a[p]·h_j[p] in float for the rows of panels [q0,q1) (FMA chains, the
/// order fixed by the layout). Needs ck_screen_available().
void ck_screen_product(float *out, const float *a, const uint16_t *half, long K, long N, long q0, long q1);

/// The bound on |full − screened| for row j given its screened value s and ‖a‖₂:
/// norm·radius + 2⁻²⁰·|s| + 1e-30 (the last two terms absorb the double arithmetic's own
/// rounding and float underflow).
static inline double ck_screen_bound(double norm, double radius, float s) {
    double m = (double)s;
    return norm * radius + (m < 0 ? -m : m) * 0x1p-20 + 1e-30;
}

/// The rows whose full logit may be the largest, given the screened values `scores`
/// (N), the radii and ‖a‖₂: with ℓ = max_j (s_j − bound_j), every j with s_j + bound_j ≥ ℓ,
/// written to `ids` (room for N) in increasing order. Returns their count, or -1 when a
/// score is not finite (the screen cannot decide).
long ck_screen_candidates(long *ids, const float *scores, const double *radius, double norm, long N);

#ifdef __cplusplus
}
#endif

#endif
