/* Row loops of the downsample kernel (downsample.pyx), templated on element and accumulator.
 *
 * Each folds one source row of `n` elements into the accumulators of the output row it
 * belongs to: element j goes to block (j + o) / f.  The first block may be cut (o > 0), the
 * last one by the end of the row.  Factors 1 and 2 get loops without an inner block loop, which
 * the compiler can vectorise: they are the common case (pyramids halve each level). */
#ifndef TSX_DOWNSAMPLE_H
#define TSX_DOWNSAMPLE_H

#include <stdint.h>
#include <string.h>

/* Sums of adjacent pairs, acc[i] += p[2i] + p[2i+1].  For 8- and 16-bit unsigned elements the
 * pair is loaded as one word and split, which the compiler vectorises with plain loads. */
template <typename T, typename A>
static inline void tsx_pair_sums(const T* p, A* acc, int64_t pairs) {
  for (int64_t i = 0; i < pairs; ++i) acc[i] += (A)p[2 * i] + (A)p[2 * i + 1];
}

template <>
inline void tsx_pair_sums<uint16_t, uint32_t>(const uint16_t* p, uint32_t* acc, int64_t pairs) {
  for (int64_t i = 0; i < pairs; ++i) {
    uint32_t w;
    memcpy(&w, p + 2 * i, sizeof w);
    acc[i] += (w & 0xFFFFu) + (w >> 16);
  }
}

template <>
inline void tsx_pair_sums<uint8_t, uint32_t>(const uint8_t* p, uint32_t* acc, int64_t pairs) {
  for (int64_t i = 0; i < pairs; ++i) {
    uint16_t w;
    memcpy(&w, p + 2 * i, sizeof w);
    acc[i] += (uint32_t)(w & 0xFFu) + (uint32_t)(w >> 8);
  }
}

template <typename T, typename A>
static inline void tsx_sum_row(const T* b, A* acc, int64_t n, int64_t f, int64_t o) {
  int64_t j = 0, k = 0;
  if (f == 1) {
    for (; j < n; ++j) acc[j] += (A)b[j];
    return;
  }
  if (o > 0) {  /* the cut first block */
    int64_t stop = f - o < n ? f - o : n;
    A s = 0;
    for (; j < stop; ++j) s += (A)b[j];
    acc[k++] += s;
  }
  if (f == 2) {
    int64_t pairs = (n - j) / 2;
    tsx_pair_sums<T, A>(b + j, acc + k, pairs);
    j += 2 * pairs;
    k += pairs;
    if (j < n) acc[k] += (A)b[j];
    return;
  }
  while (j < n) {
    int64_t stop = j + f < n ? j + f : n;
    A s = 0;
    for (; j < stop; ++j) s += (A)b[j];
    acc[k++] += s;
  }
}

/* Min (want_max false) or max: a strict comparison keeps the first of equal elements and never
 * lets NaN in. */
template <typename T, bool want_max>
static inline void tsx_extreme_row(const T* b, T* acc, int64_t n, int64_t f, int64_t o) {
  int64_t q = o, k = 0;
  for (int64_t j = 0; j < n; ++j) {
    T v = b[j];
    if (want_max ? (v > acc[k]) : (v < acc[k])) acc[k] = v;
    if (++q == f) {
      q = 0;
      ++k;
    }
  }
}

template <typename T>
static inline void tsx_min_row(const T* b, T* acc, int64_t n, int64_t f, int64_t o) {
  tsx_extreme_row<T, false>(b, acc, n, f, o);
}

template <typename T>
static inline void tsx_max_row(const T* b, T* acc, int64_t n, int64_t f, int64_t o) {
  tsx_extreme_row<T, true>(b, acc, n, f, o);
}

/* Appends each element to its block's slot range: slot k holds up to `bmax` elements. */
template <typename T>
static inline void tsx_gather_row(const T* b, T* buf, int64_t* fill, int64_t bmax, int64_t n, int64_t f, int64_t o) {
  int64_t q = o, k = 0;
  for (int64_t j = 0; j < n; ++j) {
    buf[k * bmax + fill[k]++] = b[j];
    if (++q == f) {
      q = 0;
      ++k;
    }
  }
}

/* Sorts 8 elements with Batcher's odd-even merge network (19 compare-exchanges, no
 * branches): the common 2x2x2 block.  Only for integers: with NaN, a network and
 * std::sort / std::nth_element may disagree on the order, and the callers must match the
 * latter's. */
#define TSX_CX(a, b)                \
  do {                              \
    T lo_ = s[a] < s[b] ? s[a] : s[b]; \
    T hi_ = s[a] < s[b] ? s[b] : s[a]; \
    s[a] = lo_;                     \
    s[b] = hi_;                     \
  } while (0)

template <typename T>
static inline void tsx_sort8(T* s) {
  TSX_CX(0, 1); TSX_CX(2, 3); TSX_CX(4, 5); TSX_CX(6, 7);
  TSX_CX(0, 2); TSX_CX(1, 3); TSX_CX(4, 6); TSX_CX(5, 7);
  TSX_CX(1, 2); TSX_CX(5, 6);
  TSX_CX(0, 4); TSX_CX(1, 5); TSX_CX(2, 6); TSX_CX(3, 7);
  TSX_CX(2, 4); TSX_CX(3, 5);
  TSX_CX(1, 2); TSX_CX(3, 4); TSX_CX(5, 6);
}

#undef TSX_CX

#endif
