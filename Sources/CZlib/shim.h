// zlib for gzip-compressed import files. `inflateInit2` is a macro, which Swift cannot call:
// CZlib_inflateInit2 wraps it.
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

static inline int CZlib_inflateInit2(z_streamp stream, int windowBits) {
    return inflateInit2(stream, windowBits);
}
#endif
