#ifndef CDIGEST_H
#define CDIGEST_H

#include <stddef.h>
#include <stdint.h>

/// Runs the SHA-256 compression function (FIPS 180-4) over `blocks` 64-byte blocks at
/// `data`, updating `state` (h0...h7), with the x86 SHA extensions when the CPU has them
/// (checked with cpuid on each call). Returns 1 if it did the work, 0 if this CPU or build
/// has no such instructions (then `state` is untouched and the caller uses its portable
/// code). The result is the same either way.
int cdigest_sha256_blocks(uint32_t state[8], const void *data, size_t blocks);

#endif
