// SHA-256 block function with the x86 SHA extensions (SHA-NI), after the public-domain
// sha256-x86.c of Jeffrey Walton / Intel's white paper "Intel SHA Extensions" (2013),
// written out as its 16 four-round groups. The portable code is TTCore's
// SHA256.swift; SHA256Tests compare the two on every length from 0 to 300 bytes and on
// large random buffers.
#include "cdigest.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static int has_sha_extensions(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 9)) || !(c & (1u << 19))) return 0;  // SSSE3, SSE4.1
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0;                         // SHA
}

// The instructions keep h0..h7 = A..H as two vectors, ABEF and CDGH; IN and OUT convert.
#define SHA_IN(state, s0, s1) do { \
        __m128i t_ = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&(state)[0]), 0xB1); /* CDAB */ \
        s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&(state)[4]), 0x1B);         /* EFGH */ \
        s0 = _mm_alignr_epi8(t_, s1, 8);                                                     /* ABEF */ \
        s1 = _mm_blend_epi16(s1, t_, 0xF0); } while (0)                                      /* CDGH */
#define SHA_OUT(state, s0, s1) do { \
        __m128i t_ = _mm_shuffle_epi32(s0, 0x1B);       /* FEBA */ \
        __m128i u_ = _mm_shuffle_epi32(s1, 0xB1);       /* DCHG */ \
        _mm_storeu_si128((__m128i *)&(state)[0], _mm_blend_epi16(t_, u_, 0xF0));  /* DCBA */ \
        _mm_storeu_si128((__m128i *)&(state)[4], _mm_alignr_epi8(u_, t_, 8)); } while (0)
// Four rounds of group g with message words m.
#define SHA_ROUNDS(s0, s1, g, m) do { \
        __m128i k_ = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * (g)])); \
        s1 = _mm_sha256rnds2_epu32(s1, s0, k_); \
        s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k_, 0x0E)); } while (0)
// W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16], four at a time, into a.
#define SHA_SCHEDULE(a, b, c, d) \
        a = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(a, b), _mm_alignr_epi8(d, c, 4)), d)
#define SHA_LOAD(p, g) _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16 * (g))), mask)
// Message words 4g...4g+3 of group g rotate through w0..w3: groups 0-3 load them, each
// later group schedules one. X(g, w, a, b, c) runs group g on w, given (for g ≥ 4) the
// three words after it in the rotation. Written out group by group: clang does not unroll
// the loop form, and the rolled loop ran at 1.0-1.3 GB/s against 1.76 unrolled on this
// machine's Zen cores.
#define SHA_GROUPS(X) \
        X(4, w0, w1, w2, w3) X(5, w1, w2, w3, w0) X(6, w2, w3, w0, w1) X(7, w3, w0, w1, w2) \
        X(8, w0, w1, w2, w3) X(9, w1, w2, w3, w0) X(10, w2, w3, w0, w1) X(11, w3, w0, w1, w2) \
        X(12, w0, w1, w2, w3) X(13, w1, w2, w3, w0) X(14, w2, w3, w0, w1) X(15, w3, w0, w1, w2)

__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i s0, s1;
    SHA_IN(state, s0, s1);
    for (size_t n = 0; n < blocks; n++, data += 64) {
        const __m128i abef = s0, cdgh = s1;
        __m128i w0 = SHA_LOAD(data, 0), w1 = SHA_LOAD(data, 1), w2 = SHA_LOAD(data, 2), w3 = SHA_LOAD(data, 3);
        SHA_ROUNDS(s0, s1, 0, w0); SHA_ROUNDS(s0, s1, 1, w1); SHA_ROUNDS(s0, s1, 2, w2); SHA_ROUNDS(s0, s1, 3, w3);
#define ONE(g, w, a, b, c) SHA_SCHEDULE(w, a, b, c); SHA_ROUNDS(s0, s1, g, w);
        SHA_GROUPS(ONE)
#undef ONE
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    SHA_OUT(state, s0, s1);
}

// Two messages' blocks in lockstep: one chain of rounds waits on the latency of
// sha256rnds2, so two independent chains interleaved run 1.8x as many bytes a second
// (3.4 against 1.8 GB/s on this machine's Zen cores, 2 x 32 MB).
__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks2_ni(uint32_t state_a[8], const uint8_t *a, uint32_t state_b[8], const uint8_t *b, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i a0, a1, b0, b1;
    SHA_IN(state_a, a0, a1);
    SHA_IN(state_b, b0, b1);
    for (size_t n = 0; n < blocks; n++, a += 64, b += 64) {
        const __m128i a_abef = a0, a_cdgh = a1, b_abef = b0, b_cdgh = b1;
        __m128i w0 = SHA_LOAD(a, 0), w1 = SHA_LOAD(a, 1), w2 = SHA_LOAD(a, 2), w3 = SHA_LOAD(a, 3);
        // b's words vw0..vw3 rotate as a's w0..w3 do.
        __m128i vw0 = SHA_LOAD(b, 0), vw1 = SHA_LOAD(b, 1), vw2 = SHA_LOAD(b, 2), vw3 = SHA_LOAD(b, 3);
        SHA_ROUNDS(a0, a1, 0, w0); SHA_ROUNDS(b0, b1, 0, vw0);
        SHA_ROUNDS(a0, a1, 1, w1); SHA_ROUNDS(b0, b1, 1, vw1);
        SHA_ROUNDS(a0, a1, 2, w2); SHA_ROUNDS(b0, b1, 2, vw2);
        SHA_ROUNDS(a0, a1, 3, w3); SHA_ROUNDS(b0, b1, 3, vw3);
#define TWO(g, w, x, y, z) \
        SHA_SCHEDULE(w, x, y, z); SHA_SCHEDULE(v##w, v##x, v##y, v##z); \
        SHA_ROUNDS(a0, a1, g, w); SHA_ROUNDS(b0, b1, g, v##w);
        SHA_GROUPS(TWO)
#undef TWO
        a0 = _mm_add_epi32(a0, a_abef); a1 = _mm_add_epi32(a1, a_cdgh);
        b0 = _mm_add_epi32(b0, b_abef); b1 = _mm_add_epi32(b1, b_cdgh);
    }
    SHA_OUT(state_a, a0, a1);
    SHA_OUT(state_b, b0, b1);
}

static int sha_known(void) {
    // cpuid traps to the hypervisor in a VM (microseconds), and a save hashes every tensor
    // in pieces: ask once. A race only makes two threads ask; they get the same answer.
    static volatile int known = -1;
    if (known < 0) known = has_sha_extensions();
    return known;
}

int cdigest_sha256_blocks(uint32_t state[8], const void *data, size_t blocks) {
    if (!sha_known()) return 0;
    sha256_blocks_ni(state, (const uint8_t *)data, blocks);
    return 1;
}

int cdigest_sha256_blocks2(uint32_t state_a[8], const void *a, uint32_t state_b[8], const void *b, size_t blocks) {
    if (!sha_known()) return 0;
    sha256_blocks2_ni(state_a, (const uint8_t *)a, state_b, (const uint8_t *)b, blocks);
    return 1;
}

#else

int cdigest_sha256_blocks(uint32_t state[8], const void *data, size_t blocks) {
    (void)state; (void)data; (void)blocks;
    return 0;
}

int cdigest_sha256_blocks2(uint32_t state_a[8], const void *a, uint32_t state_b[8], const void *b, size_t blocks) {
    (void)state_a; (void)a; (void)state_b; (void)b; (void)blocks;
    return 0;
}

#endif
