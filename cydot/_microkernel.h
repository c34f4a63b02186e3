/* cydot's register-tiled micro-kernels and block sizes, per instruction-set level.
 *
 * A micro-kernel computes one MR x NR tile of C from a packed micro-panel of A
 * (kc columns of MR rows, column after column) and one of B (kc rows of NR
 * columns, row after row). The tile accumulates in a local MR x NR array: with
 * MR and NR constant, gcc and clang keep it in vector registers and vectorise
 * the NR loop. MR x NR is chosen per level to fill the register file without
 * spilling: AVX-512 has 32 registers of 8 doubles, AVX2 16 of 4, SSE2 16 of 2.
 * Tile shapes are fragile (some fall off a 10x cliff when the compiler
 * vectorises the wrong loop): change one only with a benchmark at hand.
 */
#ifndef CYDOT_MICROKERNEL_H
#define CYDOT_MICROKERNEL_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

/* Measured on AMD EPYC (Zen) with gcc 12, GFLOP/s of one micro-kernel over
 * kc=384 on one core: v4 f64 6x32 130, f32 6x64 258; v3 f64 2x24 56 (6x8 10),
 * f32 4x24 131 (6x16 6); baseline f64 2x12 27 (4x4 13), f32 2x24 53. */
#if defined(CYDOT_LEVEL_X86_64_V4)
#define CYDOT_LEVEL_NAME "x86-64-v4"
#define CYDOT_F64_MR 6
#define CYDOT_F64_NR 32
#define CYDOT_F32_MR 6
#define CYDOT_F32_NR 64
#define CYDOT_I64_MR 6
#define CYDOT_I64_NR 32
#define CYDOT_I32_MR 6
#define CYDOT_I32_NR 64
#elif defined(CYDOT_LEVEL_X86_64_V3)
#define CYDOT_LEVEL_NAME "x86-64-v3"
#define CYDOT_F64_MR 2
#define CYDOT_F64_NR 24
#define CYDOT_F32_MR 4
#define CYDOT_F32_NR 24
#define CYDOT_I64_MR 2
#define CYDOT_I64_NR 24
#define CYDOT_I32_MR 4
#define CYDOT_I32_NR 24
#else
#define CYDOT_LEVEL_NAME "baseline"
#define CYDOT_F64_MR 2
#define CYDOT_F64_NR 12
#define CYDOT_F32_MR 2
#define CYDOT_F32_NR 24
#define CYDOT_I64_MR 4
#define CYDOT_I64_NR 4
#define CYDOT_I32_MR 2
#define CYDOT_I32_NR 24
#endif

/* Complex and long double arithmetic doesn't vectorise well: small tiles. */
#define CYDOT_C128_MR 4
#define CYDOT_C128_NR 4
#define CYDOT_C64_MR 4
#define CYDOT_C64_NR 4
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

CYDOT_DEFINE_MICROKERNEL(cydot_micro_f64, double, CYDOT_F64_MR, CYDOT_F64_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_f32, float, CYDOT_F32_MR, CYDOT_F32_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_i64, int64_t, CYDOT_I64_MR, CYDOT_I64_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_i32, int32_t, CYDOT_I32_MR, CYDOT_I32_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_c128, double _Complex, CYDOT_C128_MR, CYDOT_C128_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_c64, float _Complex, CYDOT_C64_MR, CYDOT_C64_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_ld, long double, CYDOT_LD_MR, CYDOT_LD_NR)
CYDOT_DEFINE_MICROKERNEL(cydot_micro_cld, long double _Complex, CYDOT_CLD_MR, CYDOT_CLD_NR)

#endif
