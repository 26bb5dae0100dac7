// blobcodec: the byte work of .ttc blobs, in C.
//
// - CRC-32 and Adler-32 with the same values as zlib's crc32/adler32 (VPCLMULQDQ or
//   PCLMULQDQ folding and AVX2 sums when the CPU has them, tables and plain sums
//   otherwise);
// - the format's byte shuffle for 4-byte elements and its inverse (AVX2 when available);
// - an inflater for whole zlib streams in memory (inflate.c), falling back on zlib for
//   the reason when a stream is not accepted;
// - a zlib stream writer for byte planes: each plane of a shuffled tensor (all first
//   bytes, all second bytes, ...) is encoded on its own as stored blocks, one dynamic
//   Huffman block of literals, or one of literals and runs at distance 1 (and, for the
//   SMALL effort, zlib's own level-9 deflate), whichever is smallest by exact count. The
//   result is one ordinary RFC 1950 stream: any zlib inflates it.
//
// Every function is deterministic: its output depends only on its arguments (never on
// the CPU's features, which select code paths with identical results).
#ifndef BLOBCODEC_H
#define BLOBCODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// zlib's crc32(crc, p, n) (CRC-32/ISO-HDLC).
uint32_t cb_crc32(uint32_t crc, const void *p, size_t n);

/// zlib's adler32(adler, p, n).
uint32_t cb_adler32(uint32_t adler, const void *p, size_t n);

/// Byte shuffle of n 4-byte elements: dst[b·n + i] = src[4i + b].
void cb_shuffle4(uint8_t *dst, const uint8_t *src, size_t n);

/// Its inverse: dst[4i + b] = src[b·n + i].
void cb_unshuffle4(uint8_t *dst, const uint8_t *src, size_t n);

/// The inverse from four separate planes: dst[4i + b] = s_b[i].
void cb_unshuffle4_planes(uint8_t *dst, const uint8_t *s0, const uint8_t *s1, const uint8_t *s2,
                          const uint8_t *s3, size_t n);

/// cb_unshuffle4, returning cb_crc32(crc, dst, 4n): each 16 KiB of dst is checksummed
/// right after it is written.
uint32_t cb_unshuffle4_crc32(uint8_t *dst, const uint8_t *src, size_t n, uint32_t crc);

/// Inflates one zlib stream (RFC 1950) of `srclen` bytes into exactly `n` bytes at `dst`.
/// Returns 1 when the stream is one zlib accepts (header, blocks, Adler-32), produces
/// exactly `n` bytes and ends at its last byte; `dst` then holds zlib's output and, if
/// `crc` is not NULL, *crc is updated to cb_crc32(*crc, dst, n). Returns 0 otherwise (any
/// stream zlib rejects, a different length, trailing bytes, or, possibly, a valid stream
/// this decoder declines): `dst` and *crc are then unspecified, and only zlib can say why.
/// Reads only src[0..<srclen], writes only dst[0..<n], allocates nothing.
int cb_inflate_exact(uint8_t *dst, size_t n, const uint8_t *src, size_t srclen, uint32_t *crc);

/// cb_inflate_exact of a stream of 4n bytes (a shuffled tensor's four planes) followed by
/// cb_unshuffle4 into `dst` (4n bytes): returns 1 with *crc updated to cb_crc32(*crc, dst,
/// 4n) when cb_inflate_exact would return 1, else 0 (dst, scratch and *crc unspecified).
/// `scratch` (4n bytes) receives the decoded planes except stored blocks, which are
/// unshuffled straight from `src`.
int cb_inflate_unshuffle4(uint8_t *dst, uint8_t *scratch, size_t n, const uint8_t *src, size_t srclen, uint32_t *crc);

/// Effort of cb_zlib_planes.
enum {
    /// Every plane in stored blocks (zlib level 0's format).
    CB_EFFORT_STORED = 0,
    /// Stored, literals or runs per plane, by exact size.
    CB_EFFORT_FAST = 1,
    /// FAST's candidates and, for planes where runs were worth trying, zlib's level-9 deflate.
    CB_EFFORT_SMALL = 2,
};

/// How a plane was encoded (for tests and statistics).
enum {
    CB_PLANE_STORED = 0,
    CB_PLANE_LITERALS = 1,
    CB_PLANE_RUNS = 2,
    CB_PLANE_ZLIB = 3,
};

/// Capacity cb_zlib_planes needs for `planes` planes of `n` bytes each.
size_t cb_planes_bound(size_t n, int planes);

/// Writes one zlib stream (RFC 1950) of `data`: `planes` consecutive planes of `n` bytes,
/// each encoded on its own (see the top of this file); `out` holds cb_planes_bound(n,
/// planes) bytes. Returns the stream's length, or 0 if memory for the SMALL effort's
/// zlib candidate could not be allocated. `modes` (may be NULL) gets each plane's
/// CB_PLANE_* choice.
size_t cb_zlib_planes(uint8_t *out, const uint8_t *data, size_t n, int planes, int effort, int *modes);

#ifdef __cplusplus
}
#endif
#endif
