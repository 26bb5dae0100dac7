#ifndef TTCKPT_CZLIB_SHIM_H
#define TTCKPT_CZLIB_SHIM_H

#include <zlib.h>

// deflateInit2 and inflateInit2 are macros in zlib.h; Swift cannot call
// macros, so they are reached through these inline wrappers.
static inline int czlib_deflateInit2(z_streamp strm, int level, int method,
                                     int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

static inline int czlib_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}

static inline int czlib_deflateInit(z_streamp strm, int level) {
    return deflateInit(strm, level);
}

static inline int czlib_inflateInit(z_streamp strm) {
    return inflateInit(strm);
}

#endif
