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

#include <limits>

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

/* ---- Blocks of 2s and 1s in one pass: integer means, minima, maxima -------------------------
 *
 * The common pyramid steps (2x2x2, 2x2, 1x2x2, 2x2x1, 2x2x2 with a channel dimension of 1, ...):
 * the last dimension with a factor other than 1 (the pair dimension) has factor 2, and every
 * output element is the mean of the pairs at the same place in R source rows (R = 1, 2, 4 or 8:
 * the product of the factors before it, each 1 or 2, cut by the edges).  Each output row is
 * computed straight from its R source rows: sum, round half to even, store, in one loop the
 * compiler vectorises; no accumulator array and no second pass.  Sums are exact (8/16-bit
 * elements in 32 bits, 32-bit ones in 64, 64-bit ones in 128), so the result is the exact mean rounded half to
 * even, as TensorStore.  Minima and maxima (any element type) take the same rows. */

template <typename T> struct tsx_mean_acc;
template <> struct tsx_mean_acc<uint8_t> { typedef uint32_t type; };
template <> struct tsx_mean_acc<int8_t> { typedef int32_t type; };
template <> struct tsx_mean_acc<uint16_t> { typedef uint32_t type; };
template <> struct tsx_mean_acc<int16_t> { typedef int32_t type; };
template <> struct tsx_mean_acc<uint32_t> { typedef uint64_t type; };
template <> struct tsx_mean_acc<int32_t> { typedef int64_t type; };
template <> struct tsx_mean_acc<uint64_t> { typedef unsigned __int128 type; };
template <> struct tsx_mean_acc<int64_t> { typedef __int128 type; };

/* p[0] + p[1] in A.  8- and 16-bit pairs are loaded as one word and split with shifts (the
 * signed ones sign-extended by an arithmetic shift), which vectorises with plain loads. */
template <typename T, typename A>
static inline A tsx_pair(const T* p) {
  return (A)p[0] + (A)p[1];
}
template <>
inline uint32_t tsx_pair<uint16_t, uint32_t>(const uint16_t* p) {
  uint32_t w;
  memcpy(&w, p, sizeof w);
  return (w & 0xFFFFu) + (w >> 16);
}
template <>
inline int32_t tsx_pair<int16_t, int32_t>(const int16_t* p) {
  uint32_t w;
  memcpy(&w, p, sizeof w);
  return ((int32_t)(w << 16) >> 16) + ((int32_t)w >> 16);
}
template <>
inline uint32_t tsx_pair<uint8_t, uint32_t>(const uint8_t* p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  uint32_t w = h;
  return (w & 0xFFu) + (w >> 8);
}
template <>
inline int32_t tsx_pair<int8_t, int32_t>(const int8_t* p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  uint32_t w = h;
  return ((int32_t)(w << 24) >> 24) + ((int32_t)(w << 16) >> 24);
}

/* s / 2^shift rounded half to even; floor-based for negative s (the shift is arithmetic). */
template <typename A>
static inline A tsx_round_shift(A s, int shift) {
  if (shift == 0) return s;
  return (s + (((A)1 << (shift - 1)) - 1) + ((s >> shift) & 1)) >> shift;
}

/* The `inner` elements at `at` of each of the R rows, summed and divided by 2^shift (a block
 * that holds one position of the pair dimension, cut by an edge). */
template <typename T, int R>
static inline void tsx_mean2_single(const T* const* rows, int64_t at, T* out, int64_t inner, int shift) {
  typedef typename tsx_mean_acc<T>::type A;
  for (int64_t i = 0; i < inner; ++i) {
    A s = 0;
    for (int r = 0; r < R; ++r) s += (A)rows[r][at + i];
    out[i] = (T)tsx_round_shift<A>(s, shift);
  }
}

/* One output row from the R source rows `rows`: along the pair dimension n positions (the
 * first at position o, 0 or 1, of its pair) of `inner` elements each (the trailing dimensions
 * of factor 1; usually 1).  Output position k, element i is the mean of element i of the pair
 * positions of block k in all R rows. */
template <typename T, int R>
static inline void tsx_mean2_row(const T* const* rows, T* __restrict out, int64_t n, int64_t o, int64_t inner) {
  typedef typename tsx_mean_acc<T>::type A;
  const int shift = R == 1 ? 1 : R == 2 ? 2 : R == 4 ? 3 : 4;  /* log2(2R) */
  const A half = ((A)1 << (shift - 1)) - 1;
  const T* __restrict r0 = rows[0];
  const T* __restrict r1 = rows[R > 1 ? 1 : 0];
  const T* __restrict r2 = rows[R > 2 ? 2 : 0];
  const T* __restrict r3 = rows[R > 2 ? 3 : 0];
  const T* __restrict r4 = rows[R > 4 ? 4 : 0];
  const T* __restrict r5 = rows[R > 4 ? 5 : 0];
  const T* __restrict r6 = rows[R > 4 ? 6 : 0];
  const T* __restrict r7 = rows[R > 4 ? 7 : 0];
  int64_t j = 0;
  if (o == 1) {  /* a first block holding one position */
    tsx_mean2_single<T, R>(rows, 0, out, inner, shift - 1);
    out += inner;
    j = 1;
  }
  const int64_t pairs = (n - j) / 2;
  const int64_t start = j * inner;
  r0 += start; r1 += start; r2 += start; r3 += start; r4 += start; r5 += start; r6 += start; r7 += start;
  if (inner == 1) {
    for (int64_t k = 0; k < pairs; ++k) {
      A s = tsx_pair<T, A>(r0 + 2 * k);
      if (R > 1) s += tsx_pair<T, A>(r1 + 2 * k);
      if (R > 2) s += tsx_pair<T, A>(r2 + 2 * k) + tsx_pair<T, A>(r3 + 2 * k);
      if (R > 4) {
        s += tsx_pair<T, A>(r4 + 2 * k) + tsx_pair<T, A>(r5 + 2 * k);
        s += tsx_pair<T, A>(r6 + 2 * k) + tsx_pair<T, A>(r7 + 2 * k);
      }
      out[k] = (T)((s + half + ((s >> shift) & 1)) >> shift);
    }
  } else {
    /* The two positions of a pair are `inner` apart: the loop over the inner elements is the
     * one that vectorises. */
    for (int64_t k = 0; k < pairs; ++k) {
      const int64_t a = 2 * k * inner, b = a + inner;
      T* __restrict dst = out + k * inner;
      for (int64_t i = 0; i < inner; ++i) {
        A s = (A)r0[a + i] + (A)r0[b + i];
        if (R > 1) s += (A)r1[a + i] + (A)r1[b + i];
        if (R > 2) s += (A)r2[a + i] + (A)r2[b + i] + (A)r3[a + i] + (A)r3[b + i];
        if (R > 4) {
          s += (A)r4[a + i] + (A)r4[b + i] + (A)r5[a + i] + (A)r5[b + i];
          s += (A)r6[a + i] + (A)r6[b + i] + (A)r7[a + i] + (A)r7[b + i];
        }
        dst[i] = (T)((s + half + ((s >> shift) & 1)) >> shift);
      }
    }
  }
  j += 2 * pairs;
  if (j < n) tsx_mean2_single<T, R>(rows, j * inner, out + pairs * inner, inner, shift - 1);  /* a last block of one */
}

/* Min (want_max false) or max of the blocks of one output row, as tsx_mean2_row lays them
 * out: from `init` (+inf / -inf, or the type's max / min), each element of the block in C order
 * (rows, then the pair, for each inner element) replaces the running value only when strictly
 * better: the first of equal elements stays (-0.0 against 0.0) and NaN never gets in, as in
 * tsx_extreme_row. */
template <typename T, bool want_max>
static inline T tsx_better(T v, T acc) {
  return want_max ? (v > acc ? v : acc) : (v < acc ? v : acc);
}

template <typename T, int R, bool want_max>
static inline void tsx_extreme2_single(const T* const* rows, int64_t at, T* out, int64_t inner, T init) {
  for (int64_t i = 0; i < inner; ++i) {
    T acc = init;
    for (int r = 0; r < R; ++r) acc = tsx_better<T, want_max>(rows[r][at + i], acc);
    out[i] = acc;
  }
}

template <typename T, int R, bool want_max>
static inline void tsx_extreme2_row(const T* const* rows, T* __restrict out, int64_t n, int64_t o, int64_t inner, T init) {
  int64_t j = 0;
  if (o == 1) {
    tsx_extreme2_single<T, R, want_max>(rows, 0, out, inner, init);
    out += inner;
    j = 1;
  }
  const int64_t pairs = (n - j) / 2;
  const T* __restrict r[R];
  for (int c = 0; c < R; ++c) r[c] = rows[c] + j * inner;
  if (inner == 1) {  /* the loop over the pairs is the one that vectorises */
    for (int64_t k = 0; k < pairs; ++k) {
      T acc = init;
      for (int c = 0; c < R; ++c) {
        acc = tsx_better<T, want_max>(r[c][2 * k], acc);
        acc = tsx_better<T, want_max>(r[c][2 * k + 1], acc);
      }
      out[k] = acc;
    }
  } else {
    for (int64_t k = 0; k < pairs; ++k) {
      const int64_t a = 2 * k * inner, b = a + inner;
      T* __restrict dst = out + k * inner;
      for (int64_t i = 0; i < inner; ++i) {
        T acc = init;
        for (int c = 0; c < R; ++c) {
          acc = tsx_better<T, want_max>(r[c][a + i], acc);
          acc = tsx_better<T, want_max>(r[c][b + i], acc);
        }
        dst[i] = acc;
      }
    }
  }
  j += 2 * pairs;
  if (j < n) tsx_extreme2_single<T, R, want_max>(rows, j * inner, out + pairs * inner, inner, init);
}

/* The blocks of 2s and 1s, one output row at a time (see downsample.pyx for the arguments;
 * `out_stride` in elements): calls row(rows, count, out_row, n, o, inner) for each output row,
 * `rows` its `count` (1, 2, 4 or 8) source rows in C order.  False when the case is not this
 * one's, which the general loop then handles.  This one's: the last dimension with a factor
 * other than 1 (the pair dimension) has factor 2; the dimensions before it 1 or 2, at most
 * three of them 2; the trailing dimensions of factor 1 after it (a channel dimension, say) are
 * contiguous in `out` together with it. */
template <typename T, typename RowFn>
static inline bool tsx_rows2(const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape,
                             const int64_t* out_stride, const int64_t* off, const int64_t* fac, RowFn row) {
  if (rank < 1 || rank > 64) return false;
  int pair_dim = rank - 1;
  while (pair_dim >= 0 && fac[pair_dim] == 1) --pair_dim;
  if (pair_dim < 0 || fac[pair_dim] != 2) return false;
  int twos = 0;
  for (int d = 0; d < pair_dim; ++d) {
    if (fac[d] == 2) ++twos;
    else if (fac[d] != 1) return false;
  }
  if (twos > 3) return false;
  int64_t inner = 1, out_inner = 1;
  for (int d = rank - 1; d > pair_dim; --d) {
    if (out_shape[d] != 1 && out_stride[d] != out_inner) return false;
    inner *= src_shape[d];
    out_inner *= out_shape[d];
  }
  if (out_shape[pair_dim] != 1 && out_stride[pair_dim] != out_inner) return false;
  int64_t src_stride[64], idx[64];
  int64_t stride = inner;
  for (int d = pair_dim; d >= 0; --d) {
    src_stride[d] = stride;
    stride *= src_shape[d];
  }
  int64_t out_rows = 1;
  for (int d = 0; d < pair_dim; ++d) {
    out_rows *= out_shape[d];
    idx[d] = 0;
  }
  T* o = out;  /* the current output row */
  const int64_t n = src_shape[pair_dim];
  for (int64_t row_index = 0; row_index < out_rows; ++row_index) {
    /* The source rows of this output row, in C order: the innermost dimension doubles first. */
    const T* rows[8];
    int count = 1;
    const T* first = src;
    for (int d = 0; d < pair_dim; ++d) {
      int64_t lo = idx[d] * fac[d] - off[d];
      if (lo < 0) lo = 0;
      first += lo * src_stride[d];
    }
    rows[0] = first;
    for (int d = pair_dim - 1; d >= 0; --d) {
      int64_t lo = idx[d] * fac[d] - off[d];
      int64_t hi = lo + fac[d];
      if (lo < 0) lo = 0;
      if (hi > src_shape[d]) hi = src_shape[d];
      if (hi - lo == 2) {
        for (int c = 0; c < count; ++c) rows[count + c] = rows[c] + src_stride[d];
        count *= 2;
      }
    }
    row(rows, count, o, n, off[pair_dim], inner);
    for (int d = pair_dim - 1; d >= 0; --d) {
      o += out_stride[d];
      if (++idx[d] < out_shape[d]) break;
      o -= out_stride[d] * out_shape[d];
      idx[d] = 0;
    }
  }
  return true;
}

template <typename T>
static inline bool tsx_mean2(const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape,
                             const int64_t* out_stride, const int64_t* off, const int64_t* fac) {
  return tsx_rows2(src, out, rank, src_shape, out_shape, out_stride, off, fac,
                   [](const T* const* rows, int count, T* o, int64_t n, int64_t first, int64_t inner) {
                     switch (count) {
                       case 1: tsx_mean2_row<T, 1>(rows, o, n, first, inner); break;
                       case 2: tsx_mean2_row<T, 2>(rows, o, n, first, inner); break;
                       case 4: tsx_mean2_row<T, 4>(rows, o, n, first, inner); break;
                       default: tsx_mean2_row<T, 8>(rows, o, n, first, inner); break;
                     }
                   });
}

template <typename T, bool want_max>
static inline bool tsx_extreme2(const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape,
                                const int64_t* out_stride, const int64_t* off, const int64_t* fac) {
  typedef std::numeric_limits<T> lim;
  const T init = lim::has_infinity ? (want_max ? -lim::infinity() : lim::infinity()) : (want_max ? lim::lowest() : lim::max());
  return tsx_rows2(src, out, rank, src_shape, out_shape, out_stride, off, fac,
                   [init](const T* const* rows, int count, T* o, int64_t n, int64_t first, int64_t inner) {
                     switch (count) {
                       case 1: tsx_extreme2_row<T, 1, want_max>(rows, o, n, first, inner, init); break;
                       case 2: tsx_extreme2_row<T, 2, want_max>(rows, o, n, first, inner, init); break;
                       case 4: tsx_extreme2_row<T, 4, want_max>(rows, o, n, first, inner, init); break;
                       default: tsx_extreme2_row<T, 8, want_max>(rows, o, n, first, inner, init); break;
                     }
                   });
}

template <typename T>
static inline bool tsx_min2(const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape,
                            const int64_t* out_stride, const int64_t* off, const int64_t* fac) {
  return tsx_extreme2<T, false>(src, out, rank, src_shape, out_shape, out_stride, off, fac);
}

template <typename T>
static inline bool tsx_max2(const T* src, T* out, int rank, const int64_t* src_shape, const int64_t* out_shape,
                            const int64_t* out_stride, const int64_t* off, const int64_t* fac) {
  return tsx_extreme2<T, true>(src, out, rank, src_shape, out_shape, out_stride, off, fac);
}

#endif
