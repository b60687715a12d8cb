#ifndef CZLIB_H
#define CZLIB_H
#include <zlib.h>

// deflateInit2/inflateInit2 are macros (they pass ZLIB_VERSION and sizeof(z_stream)),
// which Swift cannot import; these functions make them callable.
int czlib_deflate_init2(z_streamp strm, int level, int window_bits, int mem_level, int strategy);
int czlib_inflate_init2(z_streamp strm, int window_bits);

#endif
