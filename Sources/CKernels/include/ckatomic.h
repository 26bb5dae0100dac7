// Small atomic helpers for the Swift thread pool (Sources/TTCkpt/Kernels/ThreadPool.swift),
// so it can poll shared counters without taking its mutex.
#ifndef CKATOMIC_H
#define CKATOMIC_H

static inline unsigned long ck_atomic_load(const unsigned long *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void ck_atomic_store(unsigned long *p, unsigned long v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/// Atomically subtracts one; returns the new value.
static inline unsigned long ck_atomic_decrement(unsigned long *p) {
    return __atomic_sub_fetch(p, 1, __ATOMIC_ACQ_REL);
}

/// A spin-wait hint to the CPU.
static inline void ck_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
