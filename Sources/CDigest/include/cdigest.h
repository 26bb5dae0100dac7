#ifndef CDIGEST_H
#define CDIGEST_H

#include <stddef.h>
#include <stdint.h>

/// Runs the SHA-256 compression function (FIPS 180-4) over `blocks` 64-byte blocks at
/// `data`, updating `state` (h0...h7), with the x86 SHA extensions when the CPU has them
/// (checked with cpuid once). Returns 1 if it did the work, 0 if this CPU or build
/// has no such instructions (then `state` is untouched and the caller uses its portable
/// code). The result is the same either way.
int cdigest_sha256_blocks(uint32_t state[8], const void *data, size_t blocks);

/// Two messages at once: as cdigest_sha256_blocks(state_a, a, blocks) and then
/// cdigest_sha256_blocks(state_b, b, blocks), with the two chains of rounds interleaved
/// (about 1.8x the bytes a second of one chain). Returns 0, touching neither state, where
/// cdigest_sha256_blocks would.
int cdigest_sha256_blocks2(uint32_t state_a[8], const void *a, uint32_t state_b[8], const void *b, size_t blocks);

#endif
