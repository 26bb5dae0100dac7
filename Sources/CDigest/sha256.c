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

__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks_ni(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    // state h0..h7 = A..H; the instructions keep it as ABEF and CDGH.
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i state1 = _mm_loadu_si128((const __m128i *)&state[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);             // CDAB
    state1 = _mm_shuffle_epi32(state1, 0x1B);       // EFGH
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);  // ABEF
    state1 = _mm_blend_epi16(state1, tmp, 0xF0);       // CDGH

    for (size_t n = 0; n < blocks; n++, data += 64) {
        const __m128i abef = state0, cdgh = state1;
        // Message words 4g...4g+3 of group g rotate through w0..w3. Written out group by
        // group: clang does not unroll the loop form, and the rolled loop ran at 1.0-1.3
        // GB/s against 1.76 unrolled on this machine's Zen cores.
        __m128i w0, w1, w2, w3, msg;
#define ROUNDS(g, m) do { \
            msg = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&K[4 * (g)])); \
            state1 = _mm_sha256rnds2_epu32(state1, state0, msg); \
            state0 = _mm_sha256rnds2_epu32(state0, state1, _mm_shuffle_epi32(msg, 0x0E)); } while (0)
        // W[t] = σ1(W[t−2]) + W[t−7] + σ0(W[t−15]) + W[t−16], four at a time, into a.
#define SCHEDULE(a, b, c, d) \
            a = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(a, b), _mm_alignr_epi8(d, c, 4)), d)
#define LOAD(g) _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * (g))), mask)
        w0 = LOAD(0); ROUNDS(0, w0);
        w1 = LOAD(1); ROUNDS(1, w1);
        w2 = LOAD(2); ROUNDS(2, w2);
        w3 = LOAD(3); ROUNDS(3, w3);
        SCHEDULE(w0, w1, w2, w3); ROUNDS(4, w0);
        SCHEDULE(w1, w2, w3, w0); ROUNDS(5, w1);
        SCHEDULE(w2, w3, w0, w1); ROUNDS(6, w2);
        SCHEDULE(w3, w0, w1, w2); ROUNDS(7, w3);
        SCHEDULE(w0, w1, w2, w3); ROUNDS(8, w0);
        SCHEDULE(w1, w2, w3, w0); ROUNDS(9, w1);
        SCHEDULE(w2, w3, w0, w1); ROUNDS(10, w2);
        SCHEDULE(w3, w0, w1, w2); ROUNDS(11, w3);
        SCHEDULE(w0, w1, w2, w3); ROUNDS(12, w0);
        SCHEDULE(w1, w2, w3, w0); ROUNDS(13, w1);
        SCHEDULE(w2, w3, w0, w1); ROUNDS(14, w2);
        SCHEDULE(w3, w0, w1, w2); ROUNDS(15, w3);
#undef LOAD
#undef SCHEDULE
#undef ROUNDS
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
    }

    tmp = _mm_shuffle_epi32(state0, 0x1B);             // FEBA
    state1 = _mm_shuffle_epi32(state1, 0xB1);          // DCHG
    state0 = _mm_blend_epi16(tmp, state1, 0xF0);       // DCBA
    state1 = _mm_alignr_epi8(state1, tmp, 8);          // ABEF
    _mm_storeu_si128((__m128i *)&state[0], state0);
    _mm_storeu_si128((__m128i *)&state[4], state1);
}

int cdigest_sha256_blocks(uint32_t state[8], const void *data, size_t blocks) {
    // cpuid traps to the hypervisor in a VM (microseconds), and a save hashes every tensor
    // in pieces: ask once. A race only makes two threads ask; they get the same answer.
    static volatile int known = -1;
    if (known < 0) known = has_sha_extensions();
    if (!known) return 0;
    sha256_blocks_ni(state, (const uint8_t *)data, blocks);
    return 1;
}

#else

int cdigest_sha256_blocks(uint32_t state[8], const void *data, size_t blocks) {
    (void)state; (void)data; (void)blocks;
    return 0;
}

#endif
