/* cydot's register-tiled micro-kernels and block sizes, per instruction-set level.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed micro-panel of A
 * (kc columns of MR rows, column after column) and one of B (kc rows of NR
 * columns, row after row). The float and complex kernels are written with
 * gcc/clang vector extensions, CYDOT_VECTOR_BYTES wide: MR rows of NR/LANES
 * vector accumulators, a whole tile written back a vector at a time. The
 * integer and long double ones accumulate in a local MR x NR array that the
 * compiler vectorises. MR x NR is chosen per level to fill the register file
 * without spilling: AVX-512 has 32 registers of 8 doubles, AVX2 16 of 4, SSE2
 * 16 of 2. Tile shapes are fragile (some fall off a 10x cliff when the compiler
 * vectorises the wrong loop): change one only with a benchmark at hand.
 */
#ifndef CYDOT_MICROKERNEL_H
#define CYDOT_MICROKERNEL_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

/* Measured on AMD EPYC (Zen 4) with gcc 12, one core. GFLOP/s of one vector
 * micro-kernel over kc=384: v4 f64 6x32 55 (8x24, 12x16 the same: the core's
 * peak), f32 6x64 107; v3 f64 3x16 57 (6x8 56, 2x24 44), f32 4x24 105;
 * baseline f64 3x8 22 (2x12 21, 4x4 19), f32 2x24 41. In the whole product
 * (numpy.dot time / cydot time against OpenBLAS's kernels for the same
 * instructions, 1000^3): v4 f64 8x24 ties 6x32 but reads 0.93 against 0.99 on
 * 50x100000x60, whose partial tiles it wastes; v3 f64 3x16 0.98, 6x8 0.82-0.91
 * (before C's prefetch). Prefetching the tile of C when a float kernel starts
 * took v4 f64 from 0.94 to 0.99 and v3 f32 at 2000^3 from 0.93 to 0.97.
 * The integer tiles come from earlier auto-vectorised float kernels.
 * Narrow float tiles, two vectors wide with twice the rows, serve products with
 * few columns: a wide tile there pads columns with zeros and stores its partial
 * tiles element by element (20000x256x32 float32 on v4: 0.63-0.68x numpy.dot
 * with the 6x64 tile alone). Elsewhere they are slower: on Zen 3 (v3, 2 threads)
 * 1000^3 float64 ran 0.78x numpy.dot on 6x8 against 0.89x on 3x16, 2000^3
 * float32 0.77x on 6x16 against 0.90x on 4x24; so a narrow tile serves only
 * where the wide one pads over 6/5 as many columns (narrow_pays in
 * _kernels.pxi). */
#if defined(CYDOT_LEVEL_X86_64_V4)
#define CYDOT_LEVEL_NAME "x86-64-v4"
#define CYDOT_F64_MR 6
#define CYDOT_F64_NR 32
#define CYDOT_F32_MR 6
#define CYDOT_F32_NR 64
#define CYDOT_F64_NARROW_MR 12
#define CYDOT_F64_NARROW_NR 16
#define CYDOT_F32_NARROW_MR 12
#define CYDOT_F32_NARROW_NR 32
#define CYDOT_I64_MR 6
#define CYDOT_I64_NR 32
#define CYDOT_I32_MR 6
#define CYDOT_I32_NR 64
#define CYDOT_VECTOR_BYTES 64
#define CYDOT_C128_MR 4
#define CYDOT_C128_NR 16
#define CYDOT_C64_MR 4
#define CYDOT_C64_NR 32
#elif defined(CYDOT_LEVEL_X86_64_V3)
#define CYDOT_LEVEL_NAME "x86-64-v3"
#define CYDOT_F64_MR 3
#define CYDOT_F64_NR 16
#define CYDOT_F32_MR 4
#define CYDOT_F32_NR 24
#define CYDOT_F64_NARROW_MR 6
#define CYDOT_F64_NARROW_NR 8
#define CYDOT_F32_NARROW_MR 6
#define CYDOT_F32_NARROW_NR 16
#define CYDOT_I64_MR 2
#define CYDOT_I64_NR 24
#define CYDOT_I32_MR 4
#define CYDOT_I32_NR 24
#define CYDOT_VECTOR_BYTES 32
#define CYDOT_C128_MR 2
#define CYDOT_C128_NR 12
#define CYDOT_C64_MR 2
#define CYDOT_C64_NR 24
#else
#define CYDOT_LEVEL_NAME "baseline"
#define CYDOT_F64_MR 3
#define CYDOT_F64_NR 8
#define CYDOT_F32_MR 2
#define CYDOT_F32_NR 24
#define CYDOT_F64_NARROW_MR 6
#define CYDOT_F64_NARROW_NR 4
#define CYDOT_F32_NARROW_MR 6
#define CYDOT_F32_NARROW_NR 8
#define CYDOT_I64_MR 4
#define CYDOT_I64_NR 4
#define CYDOT_I32_MR 2
#define CYDOT_I32_NR 24
#define CYDOT_VECTOR_BYTES 16
#define CYDOT_C128_MR 2
#define CYDOT_C128_NR 6
#define CYDOT_C64_MR 2
#define CYDOT_C64_NR 12
#endif

/* Long double arithmetic doesn't vectorise: small tiles. */
#define CYDOT_LD_MR 2
#define CYDOT_LD_NR 2
#define CYDOT_CLD_MR 2
#define CYDOT_CLD_NR 2

/* Cache blocks: a KC x NC block of B is packed once per (jc, pc) step and
 * reused by every MC x KC block of A; KC=384 beat 256 by 5-15% at 2000^3.
 * MC is a multiple of every MR above, so only the last row tile is partial. */
#define CYDOT_KC 384
#define CYDOT_MC 144
#define CYDOT_NC 2048

/* Pointers are void * so Cython's own complex typedefs need not match ours. */
#define CYDOT_DEFINE_MICROKERNEL(NAME, T, MR, NR)                                   \
    static inline void NAME(ptrdiff_t kc, const void *packed_a, const void *packed_b, \
                            void *c_tile, ptrdiff_t ldc, int mr, int nr,             \
                            int accumulate)                                          \
    {                                                                                \
        const T *restrict a = (const T *)packed_a;                                   \
        const T *restrict b = (const T *)packed_b;                                   \
        T *restrict c = (T *)c_tile;                                                 \
        T acc[MR][NR];                                                               \
        for (int i = 0; i < MR; i++)                                                 \
            for (int j = 0; j < NR; j++)                                             \
                acc[i][j] = 0;                                                       \
        for (ptrdiff_t p = 0; p < kc; p++) {                                         \
            for (int i = 0; i < MR; i++) {                                           \
                const T a_ip = a[p * MR + i];                                        \
                for (int j = 0; j < NR; j++)                                         \
                    acc[i][j] += a_ip * b[p * NR + j];                               \
            }                                                                        \
        }                                                                            \
        for (int i = 0; i < mr; i++)                                                 \
            for (int j = 0; j < nr; j++)                                             \
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j]; \
    }

/* The vector types of a kernel over the real type R: `vector`, and `loaded` to
 * read or write one where memory need not be aligned (packed panels, C). */
#define CYDOT_VECTOR_TYPES(R)                                                        \
    typedef R vector __attribute__((vector_size(CYDOT_VECTOR_BYTES)));               \
    typedef R loaded __attribute__((vector_size(CYDOT_VECTOR_BYTES),                 \
                                    aligned(sizeof(R)), may_alias));                 \
    enum { LANES = CYDOT_VECTOR_BYTES / sizeof(R) }

/* Asks for a tile of C (rows of `bytes`, `stride` bytes apart) now: the kernel
 * reads and writes it after its kc steps, by when the cache misses are over. */
static inline void cydot_prefetch_tile(const void *c, ptrdiff_t stride, int rows, ptrdiff_t bytes)
{
    for (int i = 0; i < rows; i++)
        for (ptrdiff_t offset = 0; offset < bytes; offset += 64)
            __builtin_prefetch((const char *)c + i * stride + offset, 1);
}

/* The body of a vector kernel: C's tile (its first mr x nr) = or += the sum over
 * kc steps p of A_ELEMENT (row i's element at step p) times row p of the packed
 * B micro-panel; A_ADVANCE moves to the next step of A. */
#define CYDOT_VECTOR_KERNEL_BODY(R, MR, NR, A_ELEMENT, A_ADVANCE)                    \
        CYDOT_VECTOR_TYPES(R);                                                       \
        enum { NV = NR / LANES };                                                    \
        const R *b = (const R *)packed_b;                                            \
        R *c = (R *)c_tile;                                                          \
        vector acc[MR][NV];                                                          \
        cydot_prefetch_tile(c, ldc * sizeof(R), mr, nr * sizeof(R));                 \
        for (int i = 0; i < MR; i++)                                                 \
            for (int v = 0; v < NV; v++)                                             \
                acc[i][v] = (vector){0};                                             \
        for (ptrdiff_t p = 0; p < kc; p++, A_ADVANCE, b += NR) {                     \
            vector b_p[NV];                                                          \
            for (int v = 0; v < NV; v++)                                             \
                b_p[v] = *(const loaded *)(b + v * LANES);                           \
            for (int i = 0; i < MR; i++)                                             \
                for (int v = 0; v < NV; v++)                                         \
                    acc[i][v] += A_ELEMENT * b_p[v];                                 \
        }                                                                            \
        if (mr == MR && nr == NR) { /* a whole tile: row by row, a vector at a time */ \
            for (int i = 0; i < MR; i++)                                             \
                for (int v = 0; v < NV; v++) {                                       \
                    loaded *target = (loaded *)(c + i * ldc + v * LANES);            \
                    vector sum = acc[i][v];                                          \
                    if (accumulate)                                                  \
                        sum += *target;                                              \
                    *target = sum;                                                   \
                }                                                                    \
            return;                                                                  \
        }                                                                            \
        for (int i = 0; i < mr; i++)                                                 \
            for (int j = 0; j < nr; j++) {                                           \
                R sum = acc[i][j / LANES][j % LANES];                                \
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;            \
            }

#define CYDOT_DEFINE_VECTOR_MICROKERNEL(NAME, R, MR, NR)                             \
    static inline void NAME(ptrdiff_t kc, const void *packed_a, const void *packed_b, \
                            void *c_tile, ptrdiff_t ldc, int mr, int nr, int accumulate) \
    {                                                                                \
        const R *a = (const R *)packed_a;                                            \
        CYDOT_VECTOR_KERNEL_BODY(R, MR, NR, a[i], a += MR)                           \
    }

/* The same kernel reading a tile of A where it lies, its rows lda apart, each
 * contiguous: for products whose columns fit one micro-panel of B, where every
 * block of A is used once and packing it cost more than the kernel (20000x256x32
 * float32 on Zen 4, x86-64-v4: 55% of the time in packing A, 36% in the kernel).
 * Rows past mr read row mr - 1, and are never written back. */
#define CYDOT_DEFINE_UNPACKED_A_MICROKERNEL(NAME, R, MR, NR)                         \
    static inline void NAME(ptrdiff_t kc, const void *a_tile, ptrdiff_t lda, const void *packed_b, \
                            void *c_tile, ptrdiff_t ldc, int mr, int nr, int accumulate) \
    {                                                                                \
        const R *row[MR];                                                            \
        for (int i = 0; i < MR; i++)                                                 \
            row[i] = (const R *)a_tile + (i < mr ? i : mr - 1) * lda;                \
        CYDOT_VECTOR_KERNEL_BODY(R, MR, NR, row[i][p], (void)0)                      \
    }

CYDOT_DEFINE_VECTOR_MICROKERNEL(cydot_micro_f64, double, CYDOT_F64_MR, CYDOT_F64_NR)
CYDOT_DEFINE_VECTOR_MICROKERNEL(cydot_micro_f32, float, CYDOT_F32_MR, CYDOT_F32_NR)
CYDOT_DEFINE_VECTOR_MICROKERNEL(cydot_micro_f64_narrow, double, CYDOT_F64_NARROW_MR, CYDOT_F64_NARROW_NR)
CYDOT_DEFINE_VECTOR_MICROKERNEL(cydot_micro_f32_narrow, float, CYDOT_F32_NARROW_MR, CYDOT_F32_NARROW_NR)
CYDOT_DEFINE_UNPACKED_A_MICROKERNEL(cydot_unpacked_f64, double, CYDOT_F64_MR, CYDOT_F64_NR)
CYDOT_DEFINE_UNPACKED_A_MICROKERNEL(cydot_unpacked_f32, float, CYDOT_F32_MR, CYDOT_F32_NR)
CYDOT_DEFINE_UNPACKED_A_MICROKERNEL(cydot_unpacked_f64_narrow, double, CYDOT_F64_NARROW_MR, CYDOT_F64_NARROW_NR)
CYDOT_DEFINE_UNPACKED_A_MICROKERNEL(cydot_unpacked_f32_narrow, float, CYDOT_F32_NARROW_MR, CYDOT_F32_NARROW_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_i64, int64_t, CYDOT_I64_MR, CYDOT_I64_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_i32, int32_t, CYDOT_I32_MR, CYDOT_I32_NR)

/* complex128 and complex64 are packed split: each column of an A micro-panel
 * holds its MR real parts, then its MR imaginary parts (each row of a B one
 * likewise), so the kernel updates two real tiles with real vector FMAs, as
 * BLAS's complex kernels do: re += ar*br - ai*bi, im += ar*bi + ai*br, term
 * by term. R is the real type; a complex is two R, real part first (C11 6.2.5).
 * The kernel is written with gcc/clang vector extensions, CYDOT_VECTOR_BYTES
 * wide: left to the auto-vectoriser, complex tiles ran at 8-12 GFLOP/s.
 * Measured on AMD EPYC (Zen 4) with gcc 12, GFLOP/s (8 a complex multiply-add)
 * of one micro-kernel over kc=384 on one core: v4 c128 4x16 57.6 (6x16, 8x8:
 * the same, the core's peak), c64 4x32 113; v3 c128 2x12 56.7 (3x8 38), c64
 * 2x24 113 (3x16 77); baseline c128 2x6 22.2, c64 2x12 43.1. */
/* Packs an m x kc block into split micro-panels of mr rows, zero-padding the
 * last: A's micro-panels, and B's as the rows of B's transpose (strides swapped). */
#define CYDOT_DEFINE_SPLIT_PACKING(NAME, R)                                          \
    static inline void NAME(const void *source, ptrdiff_t rs, ptrdiff_t cs,          \
                            ptrdiff_t m, ptrdiff_t kc, int mr, void *packed)         \
    {                                                                                \
        const R *a = (const R *)source;                                              \
        R *panel = (R *)packed;                                                      \
        for (ptrdiff_t i0 = 0; i0 < m; i0 += mr, panel += 2 * mr * kc) {             \
            int rows = m - i0 < mr ? (int)(m - i0) : mr;                             \
            for (ptrdiff_t p = 0; p < kc; p++)                                       \
                for (int i = 0; i < mr; i++) {                                       \
                    R re = 0, im = 0;                                                \
                    if (i < rows) {                                                  \
                        re = a[2 * ((i0 + i) * rs + p * cs)];                        \
                        im = a[2 * ((i0 + i) * rs + p * cs) + 1];                    \
                    }                                                                \
                    panel[p * 2 * mr + i] = re;                                      \
                    panel[p * 2 * mr + mr + i] = im;                                 \
                }                                                                    \
        }                                                                            \
    }

#define CYDOT_DEFINE_SPLIT_MICROKERNEL(NAME, R, MR, NR)                              \
    static inline void NAME(ptrdiff_t kc, const void *packed_a, const void *packed_b, \
                            void *c_tile, ptrdiff_t ldc, int mr, int nr, int accumulate) \
    {                                                                                \
        CYDOT_VECTOR_TYPES(R);                                                       \
        enum { NV = NR / LANES };                                                    \
        const R *a = (const R *)packed_a, *b = (const R *)packed_b;                  \
        R *c = (R *)c_tile;                                                          \
        vector re[MR][NV], im[MR][NV];                                               \
        cydot_prefetch_tile(c, 2 * ldc * sizeof(R), mr, 2 * nr * sizeof(R));         \
        for (int i = 0; i < MR; i++)                                                 \
            for (int v = 0; v < NV; v++)                                             \
                re[i][v] = im[i][v] = (vector){0};                                   \
        for (ptrdiff_t p = 0; p < kc; p++, a += 2 * MR, b += 2 * NR) {               \
            vector b_re[NV], b_im[NV];                                               \
            for (int v = 0; v < NV; v++) {                                           \
                b_re[v] = *(const loaded *)(b + v * LANES);                          \
                b_im[v] = *(const loaded *)(b + NR + v * LANES);                     \
            }                                                                        \
            for (int i = 0; i < MR; i++) {                                           \
                const R a_re = a[i], a_im = a[MR + i];                               \
                for (int v = 0; v < NV; v++) {                                       \
                    re[i][v] += a_re * b_re[v];                                      \
                    re[i][v] -= a_im * b_im[v];                                      \
                    im[i][v] += a_re * b_im[v];                                      \
                    im[i][v] += a_im * b_re[v];                                      \
                }                                                                    \
            }                                                                        \
        }                                                                            \
        for (int i = 0; i < mr; i++)                                                 \
            for (int j = 0; j < nr; j++) {                                           \
                R *element = c + 2 * (i * ldc + j);                                  \
                R sum_re = re[i][j / LANES][j % LANES], sum_im = im[i][j / LANES][j % LANES]; \
                element[0] = accumulate ? element[0] + sum_re : sum_re;              \
                element[1] = accumulate ? element[1] + sum_im : sum_im;              \
            }                                                                        \
    }

CYDOT_DEFINE_SPLIT_PACKING(cydot_pack_split_c128, double)
CYDOT_DEFINE_SPLIT_PACKING(cydot_pack_split_c64, float)
CYDOT_DEFINE_SPLIT_MICROKERNEL(cydot_micro_c128, double, CYDOT_C128_MR, CYDOT_C128_NR)
CYDOT_DEFINE_SPLIT_MICROKERNEL(cydot_micro_c64, float, CYDOT_C64_MR, CYDOT_C64_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_ld, long double, CYDOT_LD_MR, CYDOT_LD_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_cld, long double _Complex, CYDOT_CLD_MR, CYDOT_CLD_NR)

#endif
