// blobcodec.c: checksums, the byte shuffle, and byte-plane zlib streams (blobcodec.h).
#include "blobcodec.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CB_X86 1
#else
#define CB_X86 0
#endif

// MARK: - CPU features (cached; every path gives the same results)

#if CB_X86
enum { CB_FEAT_PCLMUL = 1, CB_FEAT_AVX2 = 2, CB_FEAT_VPCLMUL = 4 };

static int cb_features(void) {
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = 0;
        if (__builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")) v |= CB_FEAT_PCLMUL;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt")) v |= CB_FEAT_AVX2;
        if ((v & CB_FEAT_PCLMUL) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
            && __builtin_cpu_supports("vpclmulqdq"))
            v |= CB_FEAT_VPCLMUL;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
#endif

// MARK: - CRC-32

static uint32_t crc_table[8][256];
static int crc_table_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
    __atomic_store_n(&crc_table_ready, 1, __ATOMIC_RELEASE);
}

// The register form: c is the inverted CRC (zlib's crc ^ 0xffffffff).
static uint32_t crc_raw_slice8(uint32_t c, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&crc_table_ready, __ATOMIC_ACQUIRE)) crc_init();
    while (n && ((uintptr_t)p & 7)) { c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8); n--; }
    while (n >= 8) {
        uint64_t w; memcpy(&w, p, 8);
        w ^= c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^ crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff]
          ^ crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^ crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8; n -= 8;
    }
    while (n--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if CB_X86

// Folds 64-byte blocks with carry-less multiplies (Intel, "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ"; constants for the reflected CRC-32 polynomial as in Linux's
// crc32-pclmul). The folded 128-bit remainder is congruent to the message, so the CRC of
// its 16 bytes (table method, register form starting from 0) is the CRC of the message.
// The end of both folding loops: the 128-bit remainder `x` of the bytes before `p` folds
// in the whole 16-byte blocks left, and its CRC (table method, register form from 0) is
// continued over the last n % 16 bytes.
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_finish128(__m128i x, const uint8_t *p, size_t n) {
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    while (n >= 16) {
        __m128i lo = _mm_clmulepi64_si128(x, k3k4, 0x00);
        __m128i hi = _mm_clmulepi64_si128(x, k3k4, 0x11);
        x = _mm_xor_si128(_mm_xor_si128(lo, hi), _mm_loadu_si128((const __m128i *)p));
        p += 16; n -= 16;
    }
    uint8_t tmp[16];
    _mm_storeu_si128((__m128i *)tmp, x);
    uint32_t r = crc_raw_slice8(0, tmp, 16);
    return crc_raw_slice8(r, p, n);
}

__attribute__((target("pclmul,sse4.1")))
static uint32_t crc_raw_pclmul(uint32_t c, const uint8_t *p, size_t n) {
    // n >= 64
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    __m128i x0 = _mm_loadu_si128((const __m128i *)(p + 0));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)c));
    p += 64; n -= 64;
    while (n >= 64) {
#define FOLD(x, off) do { \
        __m128i lo = _mm_clmulepi64_si128(x, k1k2, 0x00); \
        __m128i hi = _mm_clmulepi64_si128(x, k1k2, 0x11); \
        x = _mm_xor_si128(_mm_xor_si128(lo, hi), _mm_loadu_si128((const __m128i *)(p + off))); } while (0)
        FOLD(x0, 0); FOLD(x1, 16); FOLD(x2, 32); FOLD(x3, 48);
#undef FOLD
        p += 64; n -= 64;
    }
#define FOLD1(x, y) do { \
        __m128i lo = _mm_clmulepi64_si128(x, k3k4, 0x00); \
        __m128i hi = _mm_clmulepi64_si128(x, k3k4, 0x11); \
        x = _mm_xor_si128(_mm_xor_si128(lo, hi), y); } while (0)
    FOLD1(x0, x1); FOLD1(x0, x2); FOLD1(x0, x3);
#undef FOLD1
    return crc_finish128(x0, p, n);
}

// The same folding on 512-bit vectors (VPCLMULQDQ): four accumulators fold 256 bytes per
// step (constants x^(2048±32) mod P, reflected and shifted as above), are folded into one
// by 512 bits, and its four 128-bit lanes into one by 128 bits.
__attribute__((target("avx512f,avx512vl,vpclmulqdq,pclmul,sse4.1")))
static uint32_t crc_raw_vpclmul(uint32_t c, const uint8_t *p, size_t n) {
    // n >= 256
    const __m512i k2048 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x1322d1430LL, 0x11542778aLL));
    const __m512i k512 = _mm512_broadcast_i32x4(_mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL));
    const __m128i k128 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    __m512i x0 = _mm512_loadu_si512((const void *)(p + 0));
    __m512i x1 = _mm512_loadu_si512((const void *)(p + 64));
    __m512i x2 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i x3 = _mm512_loadu_si512((const void *)(p + 192));
    x0 = _mm512_xor_si512(x0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)c)));
    p += 256; n -= 256;
#define FOLD512(x, k, y) _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), \
                                                   _mm512_clmulepi64_epi128(x, k, 0x11), y, 0x96)
    while (n >= 256) {
        x0 = FOLD512(x0, k2048, _mm512_loadu_si512((const void *)(p + 0)));
        x1 = FOLD512(x1, k2048, _mm512_loadu_si512((const void *)(p + 64)));
        x2 = FOLD512(x2, k2048, _mm512_loadu_si512((const void *)(p + 128)));
        x3 = FOLD512(x3, k2048, _mm512_loadu_si512((const void *)(p + 192)));
        p += 256; n -= 256;
    }
    x0 = FOLD512(x0, k512, x1);
    x0 = FOLD512(x0, k512, x2);
    x0 = FOLD512(x0, k512, x3);
    while (n >= 64) {
        x0 = FOLD512(x0, k512, _mm512_loadu_si512((const void *)p));
        p += 64; n -= 64;
    }
#undef FOLD512
#define FOLD128(x, y) _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k128, 0x00), \
                                                  _mm_clmulepi64_si128(x, k128, 0x11)), y)
    __m128i a = _mm512_extracti32x4_epi32(x0, 0);
    a = FOLD128(a, _mm512_extracti32x4_epi32(x0, 1));
    a = FOLD128(a, _mm512_extracti32x4_epi32(x0, 2));
    a = FOLD128(a, _mm512_extracti32x4_epi32(x0, 3));
#undef FOLD128
    return crc_finish128(a, p, n);
}
#endif

uint32_t cb_crc32(uint32_t crc, const void *buf, size_t n) {
    const uint8_t *p = (const uint8_t *)buf;
    uint32_t c = ~crc;
#if CB_X86
    if (n >= 256 && (cb_features() & CB_FEAT_VPCLMUL)) return ~crc_raw_vpclmul(c, p, n);
    if (n >= 64 && (cb_features() & CB_FEAT_PCLMUL)) return ~crc_raw_pclmul(c, p, n);
#endif
    return ~crc_raw_slice8(c, p, n);
}

// MARK: - Adler-32
#define ADLER_MOD 65521u
#define ADLER_NMAX 5552

static uint32_t adler_scalar(uint32_t adler, const uint8_t *p, size_t n) {
    uint32_t a = adler & 0xffff, b = adler >> 16;
    while (n) {
        size_t k = n < ADLER_NMAX ? n : ADLER_NMAX;
        n -= k;
        while (k--) { a += *p++; b += a; }
        a %= ADLER_MOD; b %= ADLER_MOD;
    }
    return a | (b << 16);
}

#if CB_X86

// 32 bytes per step: s1 += Σ b_i; s2 += 32·s1 + Σ (32 − i)·b_i. Reduced mod 65521 every
// block of at most ADLER_NMAX bytes so that 32-bit lanes cannot overflow.
__attribute__((target("avx2")))
static uint32_t adler_avx2(uint32_t adler, const uint8_t *p, size_t n) {
    uint32_t a = adler & 0xffff, b = adler >> 16;
    const __m256i weights = _mm256_setr_epi8(32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                             16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i zero = _mm256_setzero_si256();
    while (n >= 32) {
        size_t k = n < ADLER_NMAX ? n : ADLER_NMAX;
        k &= ~(size_t)31;
        n -= k;
        size_t chunks = k / 32;
        __m256i vs1 = zero, vs2 = zero, vs1acc = zero;   // vs1acc: Σ over chunks of s1 before the chunk (relative)
        for (size_t c = 0; c < chunks; c++) {
            __m256i d = _mm256_loadu_si256((const __m256i *)p);
            p += 32;
            vs1acc = _mm256_add_epi32(vs1acc, vs1);
            vs1 = _mm256_add_epi32(vs1, _mm256_sad_epu8(d, zero));
            vs2 = _mm256_add_epi32(vs2, _mm256_madd_epi16(_mm256_maddubs_epi16(d, weights), ones16));
        }
        vs2 = _mm256_add_epi32(vs2, _mm256_slli_epi32(vs1acc, 5));
        uint32_t t1[8], t2[8];
        _mm256_storeu_si256((__m256i *)t1, vs1);
        _mm256_storeu_si256((__m256i *)t2, vs2);
        uint64_t s1 = (uint64_t)t1[0] + t1[2] + t1[4] + t1[6];   // sad puts sums in the low 32 bits of each u64
        uint64_t s2 = (uint64_t)t2[0] + t2[1] + t2[2] + t2[3] + t2[4] + t2[5] + t2[6] + t2[7];
        b = (uint32_t)((b + (uint64_t)a * k + s2) % ADLER_MOD);
        a = (uint32_t)((a + s1) % ADLER_MOD);
    }
    return adler_scalar(a | (b << 16), p, n);
}
#endif

uint32_t cb_adler32(uint32_t adler, const void *buf, size_t n) {
    const uint8_t *p = (const uint8_t *)buf;
#if CB_X86
    if (n >= 64 && (cb_features() & CB_FEAT_AVX2)) return adler_avx2(adler, p, n);
#endif
    return adler_scalar(adler, p, n);
}

// MARK: - Byte shuffle

#if CB_X86

// 32 elements per step: within each 16-byte lane, bytes are grouped by position (a 4 x 4
// byte transpose), lanes are interleaved so each vector holds 8 bytes of each plane, and a
// 4 x 4 transpose of 8-byte words gives 32 bytes of each plane.
__attribute__((target("avx2")))
static size_t shuffle4_avx2(uint8_t *restrict dst, const uint8_t *restrict src, size_t n) {
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                           0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m256i words = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v[4];
        for (int k = 0; k < 4; k++)
            v[k] = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(src + 4 * i + 32 * k)), bytes), words);
        __m256i a = _mm256_unpacklo_epi64(v[0], v[1]), b = _mm256_unpackhi_epi64(v[0], v[1]);
        __m256i c = _mm256_unpacklo_epi64(v[2], v[3]), d = _mm256_unpackhi_epi64(v[2], v[3]);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_permute2x128_si256(a, c, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + n + i), _mm256_permute2x128_si256(b, d, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 2 * n + i), _mm256_permute2x128_si256(a, c, 0x31));
        _mm256_storeu_si256((__m256i *)(dst + 3 * n + i), _mm256_permute2x128_si256(b, d, 0x31));
    }
    return i;
}

__attribute__((target("avx2")))
static size_t unshuffle4_avx2(uint8_t *restrict dst, const uint8_t *s0, const uint8_t *s1, const uint8_t *s2,
                              const uint8_t *s3, size_t n) {
    const __m256i bytes = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                           0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m256i words = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i p0 = _mm256_loadu_si256((const __m256i *)(s0 + i));
        __m256i p1 = _mm256_loadu_si256((const __m256i *)(s1 + i));
        __m256i p2 = _mm256_loadu_si256((const __m256i *)(s2 + i));
        __m256i p3 = _mm256_loadu_si256((const __m256i *)(s3 + i));
        __m256i a = _mm256_permute2x128_si256(p0, p2, 0x20), c = _mm256_permute2x128_si256(p0, p2, 0x31);
        __m256i b = _mm256_permute2x128_si256(p1, p3, 0x20), d = _mm256_permute2x128_si256(p1, p3, 0x31);
        __m256i v[4] = {_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b),
                        _mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d)};
        for (int k = 0; k < 4; k++)
            _mm256_storeu_si256((__m256i *)(dst + 4 * i + 32 * k),
                                _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(v[k], words), bytes));
    }
    return i;
}
#endif

void cb_shuffle4(uint8_t *restrict dst, const uint8_t *restrict src, size_t n) {
    size_t i = 0;
#if CB_X86
    if ((cb_features() & CB_FEAT_AVX2)) i = shuffle4_avx2(dst, src, n);
#endif
    for (; i < n; i++) {
        dst[i] = src[4 * i]; dst[n + i] = src[4 * i + 1]; dst[2 * n + i] = src[4 * i + 2]; dst[3 * n + i] = src[4 * i + 3];
    }
}

void cb_unshuffle4_planes(uint8_t *restrict dst, const uint8_t *s0, const uint8_t *s1, const uint8_t *s2,
                          const uint8_t *s3, size_t n) {
    size_t i = 0;
#if CB_X86
    if ((cb_features() & CB_FEAT_AVX2)) i = unshuffle4_avx2(dst, s0, s1, s2, s3, n);
#endif
    for (; i < n; i++) {
        dst[4 * i] = s0[i]; dst[4 * i + 1] = s1[i]; dst[4 * i + 2] = s2[i]; dst[4 * i + 3] = s3[i];
    }
}

void cb_unshuffle4(uint8_t *restrict dst, const uint8_t *restrict src, size_t n) {
    cb_unshuffle4_planes(dst, src, src + n, src + 2 * n, src + 3 * n, n);
}

uint32_t cb_unshuffle4_crc32(uint8_t *restrict dst, const uint8_t *restrict src, size_t n, uint32_t crc) {
    enum { CHUNK = 4096 };   // elements: 16 KiB of output, CRC'd while it is in L1
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        cb_unshuffle4_planes(dst + 4 * i, src + i, src + n + i, src + 2 * n + i, src + 3 * n + i, k);
        crc = cb_crc32(crc, dst + 4 * i, 4 * k);
    }
    return crc;
}

// MARK: - Byte-plane zlib streams
//
// Stored blocks for incompressible planes, one dynamic-Huffman block (literals, or
// literals plus runs at distance 1) for the others, or (SMALL) zlib's own deflate.

// MARK: - Bit writer (LSB first, as deflate packs bits)

typedef struct {
    uint8_t *out;
    size_t pos;
    uint64_t bits;
    unsigned count;   // valid bits in `bits`, < 32 after every put
} bitw;

static inline void bw_put(bitw *w, uint32_t value, unsigned n) {   // n <= 32
    w->bits |= (uint64_t)value << w->count;
    w->count += n;
    if (w->count >= 32) {
        uint32_t low = (uint32_t)w->bits;
        memcpy(w->out + w->pos, &low, 4);   // little-endian hosts only (x86, arm64)
        w->pos += 4;
        w->bits >>= 32;
        w->count -= 32;
    }
}

static inline void bw_align(bitw *w) {
    while (w->count > 0) {
        w->out[w->pos++] = (uint8_t)w->bits;
        w->bits >>= 8;
        w->count = w->count >= 8 ? w->count - 8 : 0;
    }
    w->bits = 0;
}

// MARK: - Huffman code lengths (length-limited, deterministic)

typedef struct { uint32_t freq; uint16_t sym; } leaf;

// By (frequency, symbol): a total order, so the result does not depend on the sort. The
// leaves come in ascending symbol order, so a stable sort by frequency gives it.
//
// Most planes' histograms are narrow (a plane of near-random bytes: every count close to
// n/256), and there a counting sort over [min, max] is linear. Otherwise each leaf is one
// 64-bit key (frequency << 16 | symbol), merge-sorted bottom up without data-dependent
// branches (a plane's Huffman code is built twice, and a branchy merge's mispredictions
// made this sort most of that cost).
#define CB_COUNTING_RANGE 2048
static void sort_leaves(leaf *v, int n) {
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < n; i++) {
        lo = v[i].freq < lo ? v[i].freq : lo;
        hi = v[i].freq > hi ? v[i].freq : hi;
    }
    if (hi - lo < CB_COUNTING_RANGE) {
        uint16_t start[CB_COUNTING_RANGE + 1];
        uint32_t range = hi - lo + 1;
        memset(start, 0, sizeof(uint16_t) * (range + 1));
        for (int i = 0; i < n; i++) start[v[i].freq - lo + 1]++;
        for (uint32_t k = 1; k <= range; k++) start[k] = (uint16_t)(start[k] + start[k - 1]);
        leaf out[288];
        for (int i = 0; i < n; i++) out[start[v[i].freq - lo]++] = v[i];
        memcpy(v, out, sizeof(leaf) * (size_t)n);
        return;
    }
    uint64_t a[288], b[288];
    for (int i = 0; i < n; i++) a[i] = (uint64_t)v[i].freq << 16 | v[i].sym;
    uint64_t *src = a, *dst = b;
    for (int width = 1; width < n; width *= 2) {
        for (int lo2 = 0; lo2 < n; lo2 += 2 * width) {
            int mid = lo2 + width < n ? lo2 + width : n, end = lo2 + 2 * width < n ? lo2 + 2 * width : n;
            int i = lo2, j = mid, k = lo2;
            while (i < mid && j < end) {
                uint64_t x = src[i], y = src[j];
                int takeLeft = x <= y;
                dst[k++] = takeLeft ? x : y;
                i += takeLeft;
                j += !takeLeft;
            }
            while (i < mid) dst[k++] = src[i++];
            while (j < end) dst[k++] = src[j++];
        }
        uint64_t *t = src; src = dst; dst = t;
    }
    for (int i = 0; i < n; i++) { v[i].freq = (uint32_t)(src[i] >> 16); v[i].sym = (uint16_t)(src[i] & 0xffff); }
}

// Optimal code lengths (Huffman, two-queue merge over leaves sorted by frequency), then
// limited to `limit` bits by moving codes down the tree until Kraft's sum is exact (the
// method of miniz's tdefl_huffman_enforce_max_code_size). Symbols with zero frequency get
// length 0. With one used symbol, a second (the lowest unused id) is given length 1 too so
// the code stays complete.
static void huffman_lengths(const uint32_t *freq, int nsym, int limit, uint8_t *len) {
    leaf leaves[288];
    int n = 0;
    memset(len, 0, (size_t)nsym);
    for (int s = 0; s < nsym; s++) if (freq[s]) { leaves[n].freq = freq[s]; leaves[n].sym = (uint16_t)s; n++; }
    if (n == 0) return;
    if (n == 1) {
        len[leaves[0].sym] = 1;
        for (int s = 0; s < nsym; s++) if (s != leaves[0].sym) { len[s] = 1; break; }
        return;
    }
    sort_leaves(leaves, n);
    // Node ids: leaves 0..n-1, internal nodes n.. in order of creation. The two queues'
    // weights end in sentinels, so each pick is a comparison without a branch: a leaf
    // when its weight is ≤ the next node's (ties to the leaf), as long as leaves remain.
    uint64_t leafW[289], nodeW[288];
    int parent[576];
    for (int i = 0; i < n; i++) { leafW[i] = leaves[i].freq; parent[i] = -1; }
    leafW[n] = UINT64_MAX;
    for (int k = 0; k < n; k++) nodeW[k] = UINT64_MAX;
    int nextLeaf = 0, nextNode = 0;
    for (int k = 0; k < n - 1; k++) {
        uint64_t sum = 0;
        for (int t = 0; t < 2; t++) {
            int takeLeaf = leafW[nextLeaf] <= nodeW[nextNode];
            int id = takeLeaf ? nextLeaf : n + nextNode;
            sum += takeLeaf ? leafW[nextLeaf] : nodeW[nextNode];
            parent[id] = n + k;
            nextLeaf += takeLeaf;
            nextNode += !takeLeaf;
        }
        nodeW[k] = sum;
        parent[n + k] = -1;
    }
    int nodes = 2 * n - 1;
    int depth[576];
    depth[nodes - 1] = 0;
    for (int i = nodes - 2; i >= 0; i--) depth[i] = depth[parent[i]] + 1;
    int count[64] = {0};
    int maxlen = 0;
    for (int i = 0; i < n; i++) { count[depth[i]]++; if (depth[i] > maxlen) maxlen = depth[i]; }
    if (maxlen > limit) {
        for (int i = limit + 1; i <= maxlen; i++) { count[limit] += count[i]; count[i] = 0; }
        uint32_t total = 0;
        for (int i = limit; i > 0; i--) total += (uint32_t)count[i] << (limit - i);
        while (total != (1u << limit)) {
            count[limit]--;
            for (int i = limit - 1; i > 0; i--)
                if (count[i]) { count[i]--; count[i + 1] += 2; break; }
            total--;
        }
        maxlen = limit;
    }
    // Longest codes to the least frequent symbols.
    int i = 0;
    for (int l = maxlen; l >= 1; l--)
        for (int c = 0; c < count[l]; c++) len[leaves[i++].sym] = (uint8_t)l;
}

// The low n bits of v (n ≤ 16) in reverse order.
static uint32_t reverse_bits(uint32_t v, int n) {
    v = ((v >> 1) & 0x5555u) | ((v & 0x5555u) << 1);
    v = ((v >> 2) & 0x3333u) | ((v & 0x3333u) << 2);
    v = ((v >> 4) & 0x0f0fu) | ((v & 0x0f0fu) << 4);
    v = ((v >> 8) & 0x00ffu) | ((v & 0x00ffu) << 8);
    return (v & 0xffffu) >> (16 - n);
}

// Canonical codes (RFC 1951 §3.2.2), bit-reversed for LSB-first output.
static void canonical_codes(const uint8_t *len, int nsym, uint16_t *code) {
    int count[16] = {0};
    for (int s = 0; s < nsym; s++) count[len[s]]++;
    count[0] = 0;
    int next[16];
    int c = 0;
    for (int l = 1; l < 16; l++) { c = (c + count[l - 1]) << 1; next[l] = c; }
    for (int s = 0; s < nsym; s++)
        code[s] = len[s] ? (uint16_t)reverse_bits((uint32_t)next[len[s]]++, len[s]) : 0;
}

// MARK: - Dynamic block header

static const uint8_t clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef struct {
    int hlit, hdist, hclen;
    uint8_t clen_len[19];
    uint16_t clen_code[19];
    int ntok;
    uint8_t tok[320];     // code-length symbols 0..18
    uint8_t extra[320];   // their extra-bit values
    uint64_t bits;        // header size in bits, after the 3 block-type bits
} dyn_header;

// Run-length codes the concatenated literal/length and distance code lengths (zlib's
// scan_tree/send_tree rules) and builds the code-length code.
static void build_header(dyn_header *h, const uint8_t *litlen, int hlit, const uint8_t *dist, int hdist) {
    uint8_t all[320];
    int total = hlit + hdist;
    memcpy(all, litlen, (size_t)hlit);
    memcpy(all + hlit, dist, (size_t)hdist);
    h->hlit = hlit;
    h->hdist = hdist;
    h->ntok = 0;
    uint32_t freq[19] = {0};
    for (int i = 0; i < total;) {
        int v = all[i], run = 1;
        while (i + run < total && all[i + run] == v) run++;
        int left = run;
        if (v == 0) {
            while (left >= 11) { int r = left > 138 ? 138 : left; h->tok[h->ntok] = 18; h->extra[h->ntok++] = (uint8_t)(r - 11); freq[18]++; left -= r; }
            if (left >= 3) { h->tok[h->ntok] = 17; h->extra[h->ntok++] = (uint8_t)(left - 3); freq[17]++; left = 0; }
            while (left > 0) { h->tok[h->ntok] = 0; h->extra[h->ntok++] = 0; freq[0]++; left--; }
        } else {
            h->tok[h->ntok] = (uint8_t)v; h->extra[h->ntok++] = 0; freq[v]++; left--;
            while (left >= 3) { int r = left > 6 ? 6 : left; h->tok[h->ntok] = 16; h->extra[h->ntok++] = (uint8_t)(r - 3); freq[16]++; left -= r; }
            while (left > 0) { h->tok[h->ntok] = (uint8_t)v; h->extra[h->ntok++] = 0; freq[v]++; left--; }
        }
        i += run;
    }
    huffman_lengths(freq, 19, 7, h->clen_len);
    canonical_codes(h->clen_len, 19, h->clen_code);
    int hclen = 19;
    while (hclen > 4 && h->clen_len[clen_order[hclen - 1]] == 0) hclen--;
    h->hclen = hclen;
    uint64_t bits = 5 + 5 + 4 + 3 * (uint64_t)hclen;
    for (int t = 0; t < h->ntok; t++) {
        int s = h->tok[t];
        bits += h->clen_len[s] + (s == 16 ? 2 : s == 17 ? 3 : s == 18 ? 7 : 0);
    }
    h->bits = bits;
}

static void write_header(bitw *w, const dyn_header *h) {
    bw_put(w, 0 | (2u << 1), 3);   // BFINAL 0, BTYPE 10 (dynamic Huffman)
    bw_put(w, (uint32_t)(h->hlit - 257), 5);
    bw_put(w, (uint32_t)(h->hdist - 1), 5);
    bw_put(w, (uint32_t)(h->hclen - 4), 4);
    for (int i = 0; i < h->hclen; i++) bw_put(w, h->clen_len[clen_order[i]], 3);
    for (int t = 0; t < h->ntok; t++) {
        int s = h->tok[t];
        bw_put(w, h->clen_code[s], h->clen_len[s]);
        if (s == 16) bw_put(w, h->extra[t], 2);
        else if (s == 17) bw_put(w, h->extra[t], 3);
        else if (s == 18) bw_put(w, h->extra[t], 7);
    }
}

// MARK: - Runs at distance 1 (deflate's length codes 257..285)

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static uint8_t len_code_of[259];   // length 3..258 -> index 0..28
static int len_table_ready;

static void len_table_init(void) {
    for (int c = 0; c < 29; c++) {
        int hi = c == 28 ? 258 : c == 27 ? 257 : len_base[c + 1] - 1;
        for (int l = len_base[c]; l <= hi && l <= 258; l++) len_code_of[l] = (uint8_t)c;
    }
    len_code_of[258] = 28;
    __atomic_store_n(&len_table_ready, 1, __ATOMIC_RELEASE);
}

// The run rule (zlib's deflate_rle): at position i ≥ 1, if the next bytes repeat p[i−1]
// at least 3 times, one match of that run (at most 258, distance 1); else a literal.
// Calls `emit` per token: lit < 256, or 256 + length.
#define CB_RLE_SCAN(p, n, EMIT_LIT, EMIT_RUN)                                     \
    do {                                                                          \
        size_t i_ = 0;                                                            \
        if (n > 0) { EMIT_LIT(p[0]); i_ = 1; }                                    \
        while (i_ < n) {                                                          \
            uint8_t prev_ = p[i_ - 1];                                            \
            size_t max_ = n - i_ < 258 ? n - i_ : 258;                            \
            size_t r_ = 0;                                                        \
            while (r_ < max_ && p[i_ + r_] == prev_) r_++;                        \
            if (r_ >= 3) { EMIT_RUN(r_); i_ += r_; }                              \
            else { EMIT_LIT(p[i_]); i_++; }                                       \
        }                                                                         \
    } while (0)

// MARK: - Plane analysis and encoding


typedef struct {
    int mode;
    uint64_t bits;            // segment size in bits (stored: upper bound with 7 pad bits per block)
    dyn_header header;
    uint8_t lit_len[286];
    uint16_t lit_code[286];
    uint8_t dist_len[2];
    uint16_t dist_code[2];
} plane_plan;

static uint64_t stored_bits(size_t n) {
    size_t blocks = n / 65535 + (n % 65535 ? 1 : 0);
    if (blocks == 0) blocks = 1;
    return (uint64_t)n * 8 + (uint64_t)blocks * (3 + 7 + 32);
}

static void histogram(uint32_t hist[256], const uint8_t *p, size_t n) {
    uint32_t h[4][256];
    memset(h, 0, sizeof h);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        h[0][p[i]]++; h[1][p[i + 1]]++; h[2][p[i + 2]]++; h[3][p[i + 3]]++;
    }
    for (; i < n; i++) h[0][p[i]]++;
    for (int s = 0; s < 256; s++) hist[s] = h[0][s] + h[1][s] + h[2][s] + h[3][s];
}

#if CB_X86
__attribute__((target("avx2,popcnt")))
static size_t repeats_avx2(const uint8_t *p, size_t n) {
    size_t rep = 0, k = 1;
    for (; k + 32 <= n; k += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(p + k));
        __m256i b = _mm256_loadu_si256((const __m256i *)(p + k - 1));
        rep += (size_t)__builtin_popcount((unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, b)));
    }
    for (; k < n; k++) rep += p[k] == p[k - 1];
    return rep;
}
#endif

// Bytes equal to their predecessor (a cheap sign that runs pay off).
static size_t repeats(const uint8_t *p, size_t n) {
#if CB_X86
    if ((cb_features() & CB_FEAT_AVX2)) return repeats_avx2(p, n);
#endif
    size_t rep = 0;
    for (size_t k = 1; k < n; k++) rep += p[k] == p[k - 1];
    return rep;
}

static void plan_literals(plane_plan *pl, const uint32_t hist[256]) {
    uint32_t freq[286] = {0};
    memcpy(freq, hist, 256 * sizeof(uint32_t));
    freq[256] = 1;
    huffman_lengths(freq, 257, 15, pl->lit_len);
    canonical_codes(pl->lit_len, 257, pl->lit_code);
    pl->dist_len[0] = 0;
    build_header(&pl->header, pl->lit_len, 257, pl->dist_len, 1);
    uint64_t bits = 3 + pl->header.bits;
    for (int s = 0; s < 257; s++) bits += (uint64_t)freq[s] * pl->lit_len[s];
    pl->bits = bits;
}

static void plan_runs(plane_plan *pl, const uint8_t *p, size_t n) {
    if (!__atomic_load_n(&len_table_ready, __ATOMIC_ACQUIRE)) len_table_init();
    uint32_t freq[286] = {0};
    uint64_t extra = 0;
#define LIT(b) freq[b]++
#define RUN(r) do { int c_ = len_code_of[r]; freq[257 + c_]++; extra += len_extra[c_]; } while (0)
    CB_RLE_SCAN(p, n, LIT, RUN);
#undef LIT
#undef RUN
    freq[256] = 1;
    int hlit = 286;
    while (hlit > 257 && freq[hlit - 1] == 0) hlit--;
    huffman_lengths(freq, hlit, 15, pl->lit_len);
    canonical_codes(pl->lit_len, hlit, pl->lit_code);
    // Distance code 0 (distance 1) is the only one used; a second code of length 1 keeps
    // the distance code complete, as zlib's own encoder does.
    pl->dist_len[0] = 1; pl->dist_len[1] = 1;
    pl->dist_code[0] = 0; pl->dist_code[1] = 1;
    build_header(&pl->header, pl->lit_len, hlit, pl->dist_len, 2);
    uint64_t bits = 3 + pl->header.bits + extra;
    for (int s = 0; s < hlit; s++) bits += (uint64_t)freq[s] * pl->lit_len[s];
    for (int c = 0; c < 29; c++) bits += (uint64_t)freq[257 + c] * 1;   // distance code, 1 bit each
    pl->bits = bits;
}

static void encode_stored(bitw *w, const uint8_t *p, size_t n) {
    do {
        size_t k = n < 65535 ? n : 65535;
        bw_put(w, 0, 3);   // BFINAL 0, BTYPE 00
        bw_align(w);
        uint8_t hdr[4] = {(uint8_t)k, (uint8_t)(k >> 8), (uint8_t)~k, (uint8_t)(~k >> 8)};
        memcpy(w->out + w->pos, hdr, 4);
        memcpy(w->out + w->pos + 4, p, k);
        w->pos += 4 + k;
        p += k;
        n -= k;
    } while (n > 0);
}

static void encode_literals(bitw *w, const plane_plan *pl, const uint8_t *p, size_t n) {
    write_header(w, &pl->header);
    // Two symbols (≤ 30 bits) per put keeps the 64-bit buffer from overflowing.
    uint32_t code[256];
    uint8_t len[256];
    for (int s = 0; s < 256; s++) { code[s] = pl->lit_code[s]; len[s] = pl->lit_len[s]; }
    // bw_put's steps on local copies of the writer's state, which the compiler then keeps
    // in registers (through the pointer it reloaded and stored them for every pair).
    uint64_t bits = w->bits;
    unsigned count = w->count;
    uint8_t *out = w->out + w->pos;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        uint8_t a = p[i], b = p[i + 1];
        bits |= (uint64_t)(code[a] | (code[b] << len[a])) << count;
        count += (unsigned)(len[a] + len[b]);
        if (count >= 32) {
            uint32_t low = (uint32_t)bits;
            memcpy(out, &low, 4);
            out += 4;
            bits >>= 32;
            count -= 32;
        }
    }
    w->bits = bits;
    w->count = count;
    w->pos = (size_t)(out - w->out);
    if (i < n) bw_put(w, code[p[i]], len[p[i]]);
    bw_put(w, pl->lit_code[256], pl->lit_len[256]);
}

static void encode_runs(bitw *w, const plane_plan *pl, const uint8_t *p, size_t n) {
    write_header(w, &pl->header);
#define LIT(b) bw_put(w, pl->lit_code[b], pl->lit_len[b])
#define RUN(r) do { int c_ = len_code_of[r]; \
        bw_put(w, pl->lit_code[257 + c_], pl->lit_len[257 + c_]); \
        if (len_extra[c_]) bw_put(w, (uint32_t)((r) - len_base[c_]), len_extra[c_]); \
        bw_put(w, pl->dist_code[0], pl->dist_len[0]); } while (0)
    CB_RLE_SCAN(p, n, LIT, RUN);
#undef LIT
#undef RUN
    bw_put(w, pl->lit_code[256], pl->lit_len[256]);
}

// MARK: - Public API

size_t cb_planes_bound(size_t n, int planes) {
    // Every plane at most its stored form (the other encodings are chosen only when
    // smaller), plus a byte-aligning empty stored block before a zlib segment; header,
    // final block and trailer.
    return 2 + (size_t)planes * (size_t)((stored_bits(n) + 7) / 8 + 8) + 2 + 4 + 8;
}

// The sample that decides whether a plane is worth a histogram: CB_SAMPLE_CHUNKS chunks of
// CB_SAMPLE_BYTES, chunk k starting at floor(k·(n − B)/(C − 1)).
#define CB_SAMPLE_CHUNKS 4
#define CB_SAMPLE_BYTES 8192

// FAST's choice for a plane, by exact size: stored, literals, or literals and runs.
// Planes longer than the sample are first judged by the sample: unless its literal code
// saves at least 3% or at least half its bytes repeat their predecessor, the plane is
// stored without further analysis. Runs are tried only when at least half the plane's
// bytes repeat their predecessor.
static void plan_plane(plane_plan *pl, const uint8_t *p, size_t n) {
    pl->mode = CB_PLANE_STORED;
    pl->bits = stored_bits(n);
    if (n == 0) return;
    uint32_t hist[256];
    if (n > CB_SAMPLE_CHUNKS * CB_SAMPLE_BYTES) {
        uint32_t part[256];
        memset(hist, 0, sizeof hist);
        size_t runsInSample = 0;
        for (int k = 0; k < CB_SAMPLE_CHUNKS; k++) {
            size_t start = (size_t)k * (n - CB_SAMPLE_BYTES) / (CB_SAMPLE_CHUNKS - 1);
            histogram(part, p + start, CB_SAMPLE_BYTES);
            for (int s = 0; s < 256; s++) hist[s] += part[s];
            runsInSample += repeats(p + start, CB_SAMPLE_BYTES);
        }
        plane_plan sample;
        plan_literals(&sample, hist);
        uint64_t sampleBits = (uint64_t)CB_SAMPLE_CHUNKS * CB_SAMPLE_BYTES * 8;
        if (sample.bits * 100 >= sampleBits * 97 && runsInSample * 2 < (size_t)CB_SAMPLE_CHUNKS * CB_SAMPLE_BYTES) return;
    }
    histogram(hist, p, n);
    plane_plan best = *pl;
    plane_plan lit;
    plan_literals(&lit, hist);
    if (lit.bits < best.bits) { best = lit; best.mode = CB_PLANE_LITERALS; }
    if (repeats(p, n) * 2 >= n) {
        plane_plan runs;
        plan_runs(&runs, p, n);
        if (runs.bits < best.bits) { best = runs; best.mode = CB_PLANE_RUNS; }
    }
    *pl = best;
}

// zlib's raw deflate of a plane at level 9 (default strategy, memLevel 9), ending with a
// sync flush (an empty stored block, so the segment ends byte-aligned and is not final).
// Returns its length, or 0 if it does not fit in `cap` or zlib fails.
static size_t zlib_segment(uint8_t *dst, size_t cap, const uint8_t *p, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    z.next_in = (Bytef *)p;
    z.next_out = dst;
    size_t left = n, produced = 0;
    int ok = 1;
    do {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        z.avail_in = chunk;
        left -= chunk;
        int flush = left ? Z_NO_FLUSH : Z_SYNC_FLUSH;
        do {
            size_t room = cap - produced;
            if (room == 0) { ok = 0; break; }   // not smaller than stored: give up
            z.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
            int rc = deflate(&z, flush);
            produced = (size_t)(z.next_out - dst);
            if (rc == Z_STREAM_ERROR) { ok = 0; break; }
        } while (z.avail_out == 0);
    } while (ok && left > 0);
    deflateEnd(&z);
    return ok ? produced : 0;
}

size_t cb_zlib_planes(uint8_t *out, const uint8_t *data, size_t n, int planes, int effort, int *modes) {
    bitw w = {out, 0, 0, 0};
    out[0] = 0x78; out[1] = 0x01;   // deflate, 32 KiB window, no dictionary
    w.pos = 2;
    uint8_t *segment = NULL;
    size_t segmentCap = 0;
    if (effort == CB_EFFORT_SMALL && n > 0) {
        segmentCap = (size_t)((stored_bits(n) + 7) / 8);
        segment = (uint8_t *)malloc(segmentCap);
        if (!segment) return 0;
    }
    for (int k = 0; k < planes; k++) {
        const uint8_t *p = data + (size_t)k * n;
        plane_plan pl;
        pl.mode = CB_PLANE_STORED;
        if (effort == CB_EFFORT_STORED) pl.bits = stored_bits(n);
        else plan_plane(&pl, p, n);
        size_t zlen = 0;
        if (segment && pl.mode == CB_PLANE_RUNS) {
            // Only for planes where runs were worth trying: on the others (near-random
            // mantissa bytes, or low-entropy exponent bytes without runs) zlib's LZ77 is
            // measured larger than literals and tens of times slower. Beaten only if
            // smaller with the empty stored block that aligns it.
            uint64_t align = w.count % 8 ? 3 + 7 + 32 : 0;
            zlen = zlib_segment(segment, segmentCap, p, n);
            if (zlen > 0 && (uint64_t)zlen * 8 + align < pl.bits) pl.mode = CB_PLANE_ZLIB;
        }
        if (modes) modes[k] = pl.mode;
        if (n == 0) continue;
        switch (pl.mode) {
        case CB_PLANE_STORED: encode_stored(&w, p, n); break;
        case CB_PLANE_LITERALS: encode_literals(&w, &pl, p, n); break;
        case CB_PLANE_RUNS: encode_runs(&w, &pl, p, n); break;
        default:
            if (w.count % 8) {
                bw_put(&w, 0, 3);   // BFINAL 0, BTYPE 00: an empty stored block
                bw_align(&w);
                static const uint8_t empty[4] = {0, 0, 0xff, 0xff};
                memcpy(w.out + w.pos, empty, 4);
                w.pos += 4;
            } else {
                bw_align(&w);
            }
            memcpy(w.out + w.pos, segment, zlen);
            w.pos += zlen;
            break;
        }
    }
    free(segment);
    bw_put(&w, 1 | (1u << 1), 3);   // BFINAL 1, BTYPE 01 (fixed Huffman)
    bw_put(&w, 0, 7);               // end of block: code 256 is seven 0 bits
    bw_align(&w);
    uint32_t adler = cb_adler32(1, data, n * (size_t)planes);
    out[w.pos++] = (uint8_t)(adler >> 24);
    out[w.pos++] = (uint8_t)(adler >> 16);
    out[w.pos++] = (uint8_t)(adler >> 8);
    out[w.pos++] = (uint8_t)adler;
    return w.pos;
}
