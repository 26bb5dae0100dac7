// ckmem.c: zero-filled buffers for the engine's large arrays (ckmem.h).
#define _GNU_SOURCE
#include "ckmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)1 << 21)

static size_t mapped_size(size_t bytes) { return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); }

void *ck_zeroed_alloc(size_t bytes) {
    if (bytes < CK_HUGE_MIN) {
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
        memset(p, 0, bytes);
        return p;
    }
    size_t size = mapped_size(bytes);
    if (size < bytes || size + HUGE_PAGE < size) return NULL;   // overflow
    // Map one huge page more than needed and trim both ends, so the region starts on a
    // 2 MiB boundary (huge pages need that alignment).
    uint8_t *raw = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uint8_t *start = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (start > raw) munmap(raw, (size_t)(start - raw));
    uint8_t *end = start + size, *rawEnd = raw + size + HUGE_PAGE;
    if (rawEnd > end) munmap(end, (size_t)(rawEnd - end));
#ifdef MADV_HUGEPAGE
    madvise(start, size, MADV_HUGEPAGE);   // a hint: without transparent huge pages, 4 KiB pages
#endif
    return start;
}

void ck_zeroed_free(void *p, size_t bytes) {
    if (!p) return;
    if (bytes < CK_HUGE_MIN) {
        free(p);
        return;
    }
    munmap(p, mapped_size(bytes));
}
