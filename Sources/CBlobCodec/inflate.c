// inflate.c: a fast inflater for one whole zlib stream held in memory (blobcodec.h,
// cb_inflate_exact). Every block type of RFC 1951 is decoded; it accepts a stream only
// when zlib would (same header, table and distance rules, exact length, Adler-32, no
// trailing bytes) and otherwise reports failure without a reason: the caller then runs
// zlib on the same bytes for the answer and its message.
//
// Decoding: a 64-bit bit buffer refilled 8 bytes at a time (at least 56 bits after each
// refill); a literal/length table of LB bits (8..12, by the output left) whose literal
// entries hold up to 6 literals whose codes fit in LB bits together, so a run of short
// literal codes (the exponent plane of float tensors: 2 to 3 bits each) costs one lookup
// per several bytes; codes longer than LB bits are decoded canonically, bit by bit.
#include "blobcodec.h"

#include <pthread.h>
#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }   // little-endian hosts
static inline void store64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

// MARK: - Code tables

enum { MAXBITS = 15, MAXLB = 12, DB = 9, MAXPACK = 6 };

// Literal/length table entries (uint64): byte 0 the bits to consume, byte 1 the kind
// (1..MAXPACK: that many literals in bytes 2..7; or one of the values below); a length
// entry has its base in bits 16..31 and its extra-bit count in bits 32..39.
enum { K_LEN = 0x10, K_EOB = 0x20, K_LONG = 0x40, K_BAD = 0x80 };

// Distance table entries (uint32): byte 0 the bits to consume (0: invalid code; 0xff: a
// code longer than DB bits), byte 1 the extra-bit count, bits 16..31 the base.
// Single-symbol entries (uint32, while building): symbol << 8 | length, 0 for no code,
// length 0xff for the first DB/LB bits of a longer code.

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                       257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                       8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Canonical decoding, one bit at a time (puff.c): codes of each length, symbols by code.
typedef struct {
    uint16_t count[MAXBITS + 1];
    uint16_t symbol[288];
} canon;

// Builds `single` (1 << tb entries) and `c` from code lengths. Returns 0, or -1 for a set
// zlib's inflate_table refuses: over-subscribed, or incomplete unless it is a single code
// of length 1 (or no code at all) and `codes` is 0 (the code-length code must be complete).
static int build_single(const uint8_t *lens, int n, int tb, uint32_t *single, canon *c, int codes) {
    uint16_t offs[MAXBITS + 2];
    memset(c->count, 0, sizeof c->count);
    for (int s = 0; s < n; s++) c->count[lens[s]]++;
    int max = MAXBITS;
    while (max >= 1 && c->count[max] == 0) max--;
    memset(single, 0, sizeof(uint32_t) << tb);
    if (max == 0) return codes ? -1 : 0;   // no codes: every lookup is invalid
    int left = 1;
    for (int len = 1; len <= MAXBITS; len++) {
        left <<= 1;
        left -= c->count[len];
        if (left < 0) return -1;
    }
    if (left > 0 && (codes || max != 1)) return -1;
    c->count[0] = 0;
    offs[1] = 0;
    for (int len = 1; len <= MAXBITS; len++) offs[len + 1] = (uint16_t)(offs[len] + c->count[len]);
    uint32_t next[MAXBITS + 1];
    uint32_t code = 0;
    for (int len = 1; len <= MAXBITS; len++) { code = (code + c->count[len - 1]) << 1; next[len] = code; }
    uint32_t mask = (1u << tb) - 1;
    for (int s = 0; s < n; s++) {
        int len = lens[s];
        if (!len) continue;
        c->symbol[offs[len]++] = (uint16_t)s;
        uint32_t v = next[len]++, r = 0;
        for (int k = 0; k < len; k++) { r = (r << 1) | (v & 1); v >>= 1; }
        if (len <= tb) {
            uint32_t e = (uint32_t)s << 8 | (uint32_t)len;
            for (uint32_t k = r; k <= mask; k += 1u << len) single[k] = e;
        } else {
            single[r & mask] = 0xff;
        }
    }
    return 0;
}

// The symbol of the code at the bottom of `bits` (at least 15 valid bits), its length in
// *len; -1 if no code matches.
static int canon_decode(const canon *c, uint64_t bits, unsigned *len) {
    int code = 0, first = 0, index = 0;
    for (int l = 1; l <= MAXBITS; l++) {
        code |= (int)(bits & 1);
        bits >>= 1;
        int count = c->count[l];
        if (code - count < first) { *len = (unsigned)l; return c->symbol[index + (code - first)]; }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static inline uint64_t litlen_entry(int sym, unsigned len) {
    if (sym < 0) return (uint64_t)K_BAD << 8;
    if (sym < 256) return (uint64_t)sym << 16 | 1u << 8 | len;
    if (sym == 256) return (uint64_t)K_EOB << 8 | len;
    if (sym > 285) return (uint64_t)K_BAD << 8;
    return (uint64_t)len_extra[sym - 257] << 32 | (uint64_t)len_base[sym - 257] << 16 | (uint64_t)K_LEN << 8 | len;
}

static inline uint32_t dist_entry(int sym, unsigned len) {
    if (sym < 0 || sym > 29) return 0;
    return (uint32_t)dist_base[sym] << 16 | (uint32_t)dist_extra[sym] << 8 | len;
}

// The literal/length table from its single-symbol table: each literal entry extended by
// the literals whose codes follow within the same lb bits (greedily, at most MAXPACK).
// Entry i > 0 starting with a literal of l bits is that literal followed by the first
// literals of entry i >> l (built before it) that fit in the lb − l bits left. `ends`
// holds, per entry, bit b set when one of its literals ends b bits in: the literals that
// fit in r bits are those whose bits are at most r, without a branch per literal.
static void build_litlen(uint64_t *table, const uint32_t *single, int lb, int pack, uint16_t *ends) {
    uint32_t size = 1u << lb;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t s = single[i];
        unsigned len = s & 0xff;
        int sym = (int)(s >> 8);
        if (len == 0 || len == 0xff || sym >= 256 || !pack) {
            table[i] = len == 0 ? (uint64_t)K_BAD << 8 : len == 0xff ? (uint64_t)K_LONG << 8 : litlen_entry(sym, len);
            if (pack) ends[i] = 0;
            continue;
        }
        uint64_t lits = (uint64_t)sym;
        unsigned bits = len, count = 1;
        uint32_t e = 1u << len;
        if (i == 0) {   // all zero bits: the same code again while it fits
            while (count < MAXPACK && bits + len <= (unsigned)lb) {
                lits |= (uint64_t)sym << (8 * count);
                bits += len;
                e |= 1u << bits;
                count++;
            }
        } else {
            uint32_t j = i >> len, room = (unsigned)lb - len;
            uint32_t f = ends[j] & ((2u << room) - 1);
            unsigned m = (unsigned)__builtin_popcount(f);
            if (m > MAXPACK - 1) { f &= ~(1u << (31 - __builtin_clz(f))); m = MAXPACK - 1; }   // entry j had MAXPACK
            lits |= ((table[j] >> 16) & ((1ull << (8 * m)) - 1)) << 8;
            bits += (unsigned)(31 - __builtin_clz(f | 1));
            count += m;
            e |= f << len;
        }
        ends[i] = (uint16_t)e;
        table[i] = lits << 16 | (uint64_t)count << 8 | bits;
    }
}

static void build_dist(uint32_t *table, const uint32_t *single) {
    for (uint32_t i = 0; i < (1u << DB); i++) {
        uint32_t s = single[i];
        unsigned len = s & 0xff;
        table[i] = len == 0 ? 0 : len == 0xff ? 0xff : dist_entry((int)(s >> 8), len);
    }
}

// Fixed Huffman codes (RFC 1951 §3.2.6), built once.
enum { FIXED_LB = 9 };
static uint64_t fixed_litlen[1u << FIXED_LB];
static uint32_t fixed_dist[1u << DB];
static canon fixed_lcanon, fixed_dcanon;
static pthread_once_t fixed_once = PTHREAD_ONCE_INIT;

static void fixed_init(void) {
    uint8_t lens[288];
    static uint32_t single[1u << DB];
    int s = 0;
    for (; s < 144; s++) lens[s] = 8;
    for (; s < 256; s++) lens[s] = 9;
    for (; s < 280; s++) lens[s] = 7;
    for (; s < 288; s++) lens[s] = 8;
    build_single(lens, 288, FIXED_LB, single, &fixed_lcanon, 0);
    build_litlen(fixed_litlen, single, FIXED_LB, 0, NULL);
    for (s = 0; s < 32; s++) lens[s] = 5;
    build_single(lens, 32, DB, single, &fixed_dcanon, 0);
    build_dist(fixed_dist, single);
}

// MARK: - The decoder

typedef struct {
    uint64_t litlen[1u << MAXLB];
    uint32_t dist[1u << DB];
    uint32_t single[1u << MAXLB];
    uint16_t ends[1u << MAXLB];
    canon lcanon, dcanon;
} dyn_tables;

enum { SUM_CHUNK = 32768 };

// Stored blocks left in the input instead of copied to the output (cb_inflate_unshuffle4):
// output bytes [off, off + len) are in[0 ..< len].
typedef struct { size_t off; const uint8_t *in; size_t len; } stored_seg;
enum { MAXSEGS = 512 };
typedef struct { stored_seg seg[MAXSEGS]; int count; } seg_list;

// Copies the stored blocks into the output (before a match, which may read them).
static void materialize(seg_list *segs, uint8_t *dst) {
    for (int k = 0; k < segs->count; k++) memcpy(dst + segs->seg[k].off, segs->seg[k].in, segs->seg[k].len);
    segs->count = 0;
}

// cb_inflate_exact; with `segs`, stored blocks (up to MAXSEGS of them) are not copied to
// dst but listed in segs (and copied after all if a match follows them).
static int inflate_core(uint8_t *dst, size_t n, const uint8_t *src, size_t srclen, uint32_t *crc, seg_list *segs) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return 0;   // the bit buffer assumes little-endian loads: zlib decodes instead
#endif
    pthread_once(&fixed_once, fixed_init);
    if (srclen < 2 + 4) return 0;
    unsigned cmf = src[0], flg = src[1];
    if ((cmf * 256 + flg) % 31 != 0 || (cmf & 0x0f) != 8 || (cmf >> 4) > 7 || (flg & 0x20)) return 0;

    dyn_tables dyn;
    const uint8_t *in = src + 2, *const in_end = src + srclen;
    uint8_t *out = dst, *const out_end = dst + n;
    uint8_t *summed = dst;   // output before this is in adler (and crc)
    uint32_t adler = 1, rcrc = crc ? *crc : 0;
    uint64_t bb = 0;   // bit buffer: bits above bc are 0 or the input's next bits
    unsigned bc = 0;
    unsigned virt = 0;   // zero bytes supplied past the end of the input

// At least 56 bits in the buffer afterwards (zeros past the end of the input, at most 8
// bytes of them: a valid stream's lookahead stays within its 4-byte trailer).
#define REFILL() do { \
        if (likely(in_end - in >= 8)) { bb |= load64(in) << bc; in += (63 - bc) >> 3; bc |= 56; } \
        else { \
            while (bc <= 55) { \
                if (in < in_end) bb |= (uint64_t)*in++ << bc; \
                else if (++virt > 8) goto fail; \
                bc += 8; } } \
    } while (0)
#define BITS(k) ((uint32_t)(bb & ((1u << (k)) - 1)))
#define DROP(k) do { bb >>= (k); bc -= (k); } while (0)
#define SUMS() do { adler = cb_adler32(adler, summed, (size_t)(out - summed)); \
        if (crc) rcrc = cb_crc32(rcrc, summed, (size_t)(out - summed)); summed = out; } while (0)

    int final;
    do {
        REFILL();
        final = (int)BITS(1);
        unsigned type = (unsigned)(bb >> 1) & 3;
        DROP(3);
        if (type == 0) {
            DROP(bc & 7);
            uint32_t len = BITS(16), nlen = (uint32_t)(bb >> 16) & 0xffff;
            DROP(32);
            if ((len ^ 0xffff) != nlen) goto fail;
            // Back to byte reading: the buffer's whole bytes were not consumed.
            size_t pos = (size_t)(in - src) + virt - bc / 8;
            if (pos > srclen) goto fail;
            in = src + pos;
            virt = 0;
            bb = 0;
            bc = 0;
            if (len > (size_t)(in_end - in) || len > (size_t)(out_end - out)) goto fail;
            if (segs && !crc && len > 0 && segs->count < MAXSEGS) {
                // summed == out here: every block ends with its sums.
                segs->seg[segs->count++] = (stored_seg){(size_t)(out - dst), in, len};
                adler = cb_adler32(adler, in, len);
                out += len;
                summed = out;
            } else {
                memcpy(out, in, len);
                out += len;
                SUMS();
            }
            in += len;
            continue;
        }
        if (type == 3) goto fail;

        const uint64_t *lt;
        const uint32_t *dt;
        const canon *lc, *dc;
        unsigned lb;
        if (type == 1) {
            lt = fixed_litlen; dt = fixed_dist; lc = &fixed_lcanon; dc = &fixed_dcanon; lb = FIXED_LB;
        } else {
            static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
            uint8_t lens[286 + 30];
            unsigned nlen = BITS(5) + 257, ndist = (unsigned)(bb >> 5 & 31) + 1, ncode = (unsigned)(bb >> 10 & 15) + 4;
            DROP(14);
            if (nlen > 286 || ndist > 30) goto fail;
            uint8_t clens[19] = {0};
            for (unsigned i = 0; i < ncode; i++) {
                if (bc < 3) REFILL();
                clens[order[i]] = (uint8_t)BITS(3);
                DROP(3);
            }
            if (build_single(clens, 19, 7, dyn.single, &dyn.lcanon, 1)) goto fail;
            unsigned have = 0, total = nlen + ndist;
            while (have < total) {
                REFILL();
                uint32_t e = dyn.single[BITS(7)];   // complete code: every entry is a code
                unsigned sym = e >> 8;
                DROP(e & 0xff);
                if (sym < 16) { lens[have++] = (uint8_t)sym; continue; }
                unsigned rep;
                uint8_t v = 0;
                if (sym == 16) {
                    if (have == 0) goto fail;
                    v = lens[have - 1];
                    rep = 3 + BITS(2); DROP(2);
                } else if (sym == 17) {
                    rep = 3 + BITS(3); DROP(3);
                } else {
                    rep = 11 + BITS(7); DROP(7);
                }
                if (have + rep > total) goto fail;
                memset(lens + have, v, rep);
                have += rep;
            }
            if (lens[256] == 0) goto fail;
            size_t left = (size_t)(out_end - out);
            // A table of 2^lb entries per block: larger tables pack more literals per entry
            // but cost more to build than a short block saves.
            lb = left >= (1u << 18) ? 12 : left >= (1u << 17) ? 11 : left >= (1u << 14) ? 10 : left >= (1u << 10) ? 9 : 8;
            if (build_single(lens, (int)nlen, (int)lb, dyn.single, &dyn.lcanon, 0)) goto fail;
            build_litlen(dyn.litlen, dyn.single, (int)lb, 1, dyn.ends);
            if (build_single(lens + nlen, (int)ndist, DB, dyn.single, &dyn.dcanon, 0)) goto fail;
            build_dist(dyn.dist, dyn.single);
            lt = dyn.litlen; dt = dyn.dist; lc = &dyn.lcanon; dc = &dyn.dcanon;
        }

        const uint64_t lmask = ((uint64_t)1 << lb) - 1;
        for (;;) {
            if (unlikely(out - summed >= SUM_CHUNK)) SUMS();
            REFILL();
            uint64_t e = lt[bb & lmask];
            unsigned kind = (unsigned)(e >> 8) & 0xff;
            if (unlikely(kind == K_LONG)) {
                unsigned len;
                e = litlen_entry(canon_decode(lc, bb, &len), len);
                kind = (unsigned)(e >> 8) & 0xff;
            }
            if (likely(kind <= MAXPACK)) {
                if (likely(out_end - out >= 4 * MAXPACK + 8)) {
                    // Up to four entries per refill: each takes at most lb <= 12 bits.
                    store64(out, e >> 16); out += kind; DROP(e & 0xff);
                    e = lt[bb & lmask]; kind = (unsigned)(e >> 8) & 0xff;
                    if (kind > MAXPACK) continue;
                    store64(out, e >> 16); out += kind; DROP(e & 0xff);
                    e = lt[bb & lmask]; kind = (unsigned)(e >> 8) & 0xff;
                    if (kind > MAXPACK) continue;
                    store64(out, e >> 16); out += kind; DROP(e & 0xff);
                    e = lt[bb & lmask]; kind = (unsigned)(e >> 8) & 0xff;
                    if (kind > MAXPACK) continue;
                    store64(out, e >> 16); out += kind; DROP(e & 0xff);
                } else {
                    if (kind > (size_t)(out_end - out)) goto fail;
                    for (unsigned k = 0; k < kind; k++) out[k] = (uint8_t)(e >> (16 + 8 * k));
                    out += kind;
                    DROP(e & 0xff);
                }
                continue;
            }
            if (kind == K_LEN) {
                // At most 15 + 5 + 15 + 13 = 48 bits from here: no refill needed.
                DROP(e & 0xff);
                unsigned xb = (unsigned)(e >> 32) & 0xff;
                size_t len = ((e >> 16) & 0xffff) + BITS(xb);
                DROP(xb);
                uint32_t d = dt[bb & ((1u << DB) - 1)];
                if (unlikely((d & 0xff) == 0xff)) {
                    unsigned dl;
                    d = dist_entry(canon_decode(dc, bb, &dl), dl);
                }
                if (unlikely((d & 0xff) == 0)) goto fail;
                DROP(d & 0xff);
                unsigned dx = (d >> 8) & 0xff;
                size_t dist = (d >> 16) + BITS(dx);
                DROP(dx);
                if (unlikely(dist > (size_t)(out - dst) || len > (size_t)(out_end - out))) goto fail;
                if (unlikely(segs && segs->count)) materialize(segs, dst);
                const uint8_t *from = out - dist;
                if (dist == 1) {
                    memset(out, from[0], len);
                } else if (dist >= 8 && (size_t)(out_end - out) >= len + 8) {
                    for (size_t k = 0; k < len; k += 8) store64(out + k, load64(from + k));
                } else {
                    for (size_t k = 0; k < len; k++) out[k] = from[k];
                }
                out += len;
                continue;
            }
            if (kind == K_EOB) { DROP(e & 0xff); break; }
            goto fail;
        }
        SUMS();
    } while (!final);

    {
        DROP(bc & 7);
        size_t pos = (size_t)(in - src) + virt - bc / 8;
        if (pos > srclen || srclen - pos != 4 || out != out_end) goto fail;
        const uint8_t *t = src + pos;
        uint32_t trailer = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
        if (trailer != adler) goto fail;
        if (crc) *crc = rcrc;
        return 1;
    }
fail:
    return 0;
#undef REFILL
#undef BITS
#undef DROP
#undef SUMS
}

int cb_inflate_exact(uint8_t *dst, size_t n, const uint8_t *src, size_t srclen, uint32_t *crc) {
    return inflate_core(dst, n, src, srclen, crc, NULL);
}

int cb_inflate_unshuffle4(uint8_t *dst, uint8_t *scratch, size_t n, const uint8_t *src, size_t srclen, uint32_t *crc) {
    seg_list segs;
    segs.count = 0;
    if (!inflate_core(scratch, 4 * n, src, srclen, NULL, &segs)) return 0;
    // Each plane's bytes from its stored segments or the scratch, in chunks that cross no
    // segment boundary, unshuffled and checksummed while in cache.
    enum { CHUNK = 4096 };
    int cursor[4] = {0, 0, 0, 0};
    uint32_t c = *crc;
    for (size_t i = 0; i < n;) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        const uint8_t *plane[4];
        for (int p = 0; p < 4; p++) {
            size_t off = (size_t)p * n + i;
            int s = cursor[p];
            while (s < segs.count && segs.seg[s].off + segs.seg[s].len <= off) s++;
            cursor[p] = s;
            if (s < segs.count && segs.seg[s].off <= off) {
                plane[p] = segs.seg[s].in + (off - segs.seg[s].off);
                size_t left = segs.seg[s].off + segs.seg[s].len - off;
                if (left < k) k = left;
            } else {
                plane[p] = scratch + off;
                if (s < segs.count && segs.seg[s].off - off < k) k = segs.seg[s].off - off;
            }
        }
        cb_unshuffle4_planes(dst + 4 * i, plane[0], plane[1], plane[2], plane[3], k);
        c = cb_crc32(c, dst + 4 * i, 4 * k);
        i += k;
    }
    *crc = c;
    return 1;
}
