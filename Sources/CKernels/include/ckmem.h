// ckmem: zero-filled buffers for the engine's large arrays.
#ifndef CKMEM_H
#define CKMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// `bytes` of zeros, 64-byte aligned, or NULL if out of memory. Requests of at least
/// CK_HUGE_MIN bytes are their own anonymous mapping (zero pages from the kernel, so
/// nothing is written here), aligned to 2 MiB and advised to use transparent huge pages:
/// the first touch of a 250 MB model then costs hundreds of page faults, not sixty
/// thousand. Smaller requests come from calloc. Free with ck_zeroed_free(p, bytes).
void *ck_zeroed_alloc(size_t bytes);
void ck_zeroed_free(void *p, size_t bytes);

enum { CK_HUGE_MIN = 1 << 21 };

#ifdef __cplusplus
}
#endif

#endif
