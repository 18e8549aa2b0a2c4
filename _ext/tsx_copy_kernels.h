/* Small C helpers for copy.pyx: byte-swap primitives and the contiguous fill / byte-swap
   loops.  Those loops are compiled for several x86 instruction sets and the best one is
   picked when the module loads: the SSE2 baseline has no byte shuffle, so without SSSE3 or
   AVX2 a vectorised byte swap is far slower, and AVX2 stores a fill 32 bytes at a time.
   Loads and stores use constant-size memcpy because numpy arrays may be unaligned. */
#ifndef TSX_COPY_KERNELS_H_
#define TSX_COPY_KERNELS_H_

#include <stdint.h>
#include <string.h>
#include <Python.h>

static inline uint16_t tsx_bswap16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t tsx_bswap32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t tsx_bswap64(uint64_t v) { return __builtin_bswap64(v); }
typedef struct { uint64_t lo, hi; } tsx_u128;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TSX_CLONES __attribute__((target_clones("avx2", "ssse3", "default")))
#else
#define TSX_CLONES
#endif

/* d[i] = value of s[0], i = 0 .. n-1, for elements of BYTES bytes held in TYPE. */
#define TSX_DEFINE_FILL(NAME, TYPE, BYTES)                                   \
  TSX_CLONES static void NAME(char* d, const char* s, Py_ssize_t n) {        \
    TYPE v;                                                                  \
    memcpy(&v, s, BYTES);                                                    \
    for (Py_ssize_t i = 0; i < n; i++) memcpy(d + BYTES * i, &v, BYTES);     \
  }

/* d[i] = byte-reversed s[i] (rev = 0) or s[-i] (rev != 0), i = 0 .. n-1. */
#define TSX_DEFINE_SWAP(NAME, TYPE, BYTES, SWAP)                             \
  TSX_CLONES static void NAME(char* d, const char* s, Py_ssize_t n, int rev) { \
    TYPE v;                                                                  \
    if (rev) {                                                               \
      for (Py_ssize_t i = 0; i < n; i++) {                                   \
        memcpy(&v, s - BYTES * i, BYTES);                                    \
        v = SWAP(v);                                                         \
        memcpy(d + BYTES * i, &v, BYTES);                                    \
      }                                                                      \
    } else {                                                                 \
      for (Py_ssize_t i = 0; i < n; i++) {                                   \
        memcpy(&v, s + BYTES * i, BYTES);                                    \
        v = SWAP(v);                                                         \
        memcpy(d + BYTES * i, &v, BYTES);                                    \
      }                                                                      \
    }                                                                        \
  }

TSX_DEFINE_FILL(tsx_fill16, uint16_t, 2)
TSX_DEFINE_FILL(tsx_fill32, uint32_t, 4)
TSX_DEFINE_FILL(tsx_fill64, uint64_t, 8)
TSX_DEFINE_FILL(tsx_fill128, tsx_u128, 16)
TSX_DEFINE_SWAP(tsx_swap16_contig, uint16_t, 2, __builtin_bswap16)
TSX_DEFINE_SWAP(tsx_swap32_contig, uint32_t, 4, __builtin_bswap32)
TSX_DEFINE_SWAP(tsx_swap64_contig, uint64_t, 8, __builtin_bswap64)

#endif  /* TSX_COPY_KERNELS_H_ */
