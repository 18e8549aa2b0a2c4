/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for _ext/crc32c.pyx.
 *
 * Everything here works on the raw CRC register (no initial or final inversion; the caller
 * does those), which makes the CRC linear: reg(r, A || B) = shift(reg(r, A), |B|) ^ reg(0, B),
 * where shift(r, n) multiplies r by x^(8n) modulo the polynomial.  That identity lets the
 * hardware path run three independent streams over three consecutive blocks and join them.
 *
 * Two implementations:
 *   - x86-64 with SSE4.2 (chosen at run time with __builtin_cpu_supports): the crc32
 *     instruction on 8-byte words, three streams interleaved to hide its 3-cycle latency;
 *     aarch64 built with the CRC extension: the __crc32c* intrinsics, one stream;
 *   - everywhere: slicing-by-8 tables (8 x 256 words, built once).
 */
#ifndef TSX_CRC32C_H
#define TSX_CRC32C_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TSX_CRC32C_POLY 0x82F63B78u

static uint32_t tsx_crc32c_table[8][256];
/* x^(2^k) mod P, k = 0..31, for shifting a register by a number of zero bytes. */
static uint32_t tsx_crc32c_x2n[32];
static int tsx_crc32c_initialised = 0;

/* a * b modulo P, both in reflected bit order (bit 31 is x^0). */
static uint32_t tsx_crc32c_multmodp(uint32_t a, uint32_t b) {
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ TSX_CRC32C_POLY : b >> 1;
    }
    return p;
}

/* x^(8 * nbytes) mod P: the operator that shifts a register over nbytes zero bytes. */
static uint32_t tsx_crc32c_shift_op(size_t nbytes) {
    uint32_t p = 1u << 31; /* x^0 */
    unsigned k = 3;        /* 2^3 bits per byte */
    while (nbytes) {
        if (nbytes & 1) p = tsx_crc32c_multmodp(tsx_crc32c_x2n[k & 31], p);
        nbytes >>= 1;
        k++;
    }
    return p;
}

static void tsx_crc32c_init(void) {
    if (tsx_crc32c_initialised) return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++) c = (c & 1) ? (c >> 1) ^ TSX_CRC32C_POLY : c >> 1;
        tsx_crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = tsx_crc32c_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = tsx_crc32c_table[0][c & 0xFF] ^ (c >> 8);
            tsx_crc32c_table[t][i] = c;
        }
    }
    uint32_t p = 1u << 30; /* x^1 */
    tsx_crc32c_x2n[0] = p;
    for (int k = 1; k < 32; k++) tsx_crc32c_x2n[k] = p = tsx_crc32c_multmodp(p, p);
    tsx_crc32c_initialised = 1;
}

static inline uint32_t tsx_load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Slicing-by-8: eight table look-ups per 8 input bytes. */
static uint32_t tsx_crc32c_sw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) {
        crc = tsx_crc32c_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = tsx_load_le32(p) ^ crc;
        uint32_t hi = tsx_load_le32(p + 4);
        crc = tsx_crc32c_table[7][lo & 0xFF] ^ tsx_crc32c_table[6][(lo >> 8) & 0xFF] ^
              tsx_crc32c_table[5][(lo >> 16) & 0xFF] ^ tsx_crc32c_table[4][lo >> 24] ^
              tsx_crc32c_table[3][hi & 0xFF] ^ tsx_crc32c_table[2][(hi >> 8) & 0xFF] ^
              tsx_crc32c_table[1][(hi >> 16) & 0xFF] ^ tsx_crc32c_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = tsx_crc32c_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

/* Bytes per stream of the three-way interleave.  Shifting a register over one stripe is
 * linear in the register, so it is tabulated per register byte (4 x 256 words): a join costs
 * four look-ups instead of a 32-step polynomial multiplication. */
#define TSX_CRC32C_STRIPE 4096
static uint32_t tsx_crc32c_stripe_table[4][256];

static inline uint32_t tsx_crc32c_shift_stripe(uint32_t r) {
    return tsx_crc32c_stripe_table[0][r & 0xFF] ^ tsx_crc32c_stripe_table[1][(r >> 8) & 0xFF] ^
           tsx_crc32c_stripe_table[2][(r >> 16) & 0xFF] ^ tsx_crc32c_stripe_table[3][r >> 24];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define TSX_CRC32C_HAVE_HW 1
#include <nmmintrin.h>

static int tsx_crc32c_hw_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) static uint32_t tsx_crc32c_hw(uint32_t crc, const unsigned char *p,
                                                                size_t n) {
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 3 * TSX_CRC32C_STRIPE) {
        uint64_t c1 = 0, c2 = 0;
        const unsigned char *p1 = p + TSX_CRC32C_STRIPE, *p2 = p + 2 * TSX_CRC32C_STRIPE;
        for (size_t i = 0; i < TSX_CRC32C_STRIPE; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p1 + i, 8);
            memcpy(&w2, p2 + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = tsx_crc32c_shift_stripe((uint32_t)c) ^ (uint32_t)c1;
        c = tsx_crc32c_shift_stripe((uint32_t)c) ^ (uint32_t)c2;
        p += 3 * TSX_CRC32C_STRIPE;
        n -= 3 * TSX_CRC32C_STRIPE;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}

#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#define TSX_CRC32C_HAVE_HW 1
#include <arm_acle.h>

static int tsx_crc32c_hw_available(void) { return 1; }

static uint32_t tsx_crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n && ((uintptr_t)p & 7)) {
        crc = __crc32cb(crc, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        crc = __crc32cd(crc, w);
        p += 8;
        n -= 8;
    }
    while (n--) crc = __crc32cb(crc, *p++);
    return crc;
}

#else
#define TSX_CRC32C_HAVE_HW 0
static int tsx_crc32c_hw_available(void) { return 0; }
static uint32_t tsx_crc32c_hw(uint32_t crc, const unsigned char *p, size_t n) {
    return tsx_crc32c_sw(crc, p, n);
}
#endif

/* 1 when the hardware path is used; call once (under the GIL) before anything else. */
static int tsx_crc32c_setup(void) {
    tsx_crc32c_init();
    uint32_t op = tsx_crc32c_shift_op(TSX_CRC32C_STRIPE);
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++)
            tsx_crc32c_stripe_table[k][v] = tsx_crc32c_multmodp(op, v << (8 * k));
    return tsx_crc32c_hw_available();
}

/* The CRC-32C of n bytes continuing from a finished CRC `value` (0 for a fresh one). */
static uint32_t tsx_crc32c_extend(uint32_t value, const unsigned char *p, size_t n, int hw) {
    uint32_t reg = ~value;
    reg = hw ? tsx_crc32c_hw(reg, p, n) : tsx_crc32c_sw(reg, p, n);
    return ~reg;
}

#endif /* TSX_CRC32C_H */
