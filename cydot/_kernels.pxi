# cydot's kernels, compiled once per instruction-set level (see setup.py): each
# _kernels_<level>.pyx includes this file, and the level's macros in
# _microkernel.h choose its tile sizes. Everything runs without the GIL, on
# cydot's own threads (_team.h).

from libc.stdint cimport int32_t, int64_t, uintptr_t
from libc.string cimport memset

import numpy as np

cdef extern from "_microkernel.h" nogil:
    const char *LEVEL_NAME "CYDOT_LEVEL_NAME"
    enum:
        KC "CYDOT_KC"
        MC "CYDOT_MC"
        NC "CYDOT_NC"
        F64_MR "CYDOT_F64_MR"
        F64_NR "CYDOT_F64_NR"
        F32_MR "CYDOT_F32_MR"
        F32_NR "CYDOT_F32_NR"
        F64_NARROW_MR "CYDOT_F64_NARROW_MR"
        F64_NARROW_NR "CYDOT_F64_NARROW_NR"
        F32_NARROW_MR "CYDOT_F32_NARROW_MR"
        F32_NARROW_NR "CYDOT_F32_NARROW_NR"
        I64_MR "CYDOT_I64_MR"
        I64_NR "CYDOT_I64_NR"
        I32_MR "CYDOT_I32_MR"
        I32_NR "CYDOT_I32_NR"
        C128_MR "CYDOT_C128_MR"
        C128_NR "CYDOT_C128_NR"
        C64_MR "CYDOT_C64_MR"
        C64_NR "CYDOT_C64_NR"
        LD_MR "CYDOT_LD_MR"
        LD_NR "CYDOT_LD_NR"
        CLD_MR "CYDOT_CLD_MR"
        CLD_NR "CYDOT_CLD_NR"
    void micro_f64 "cydot_micro_f64"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void micro_f32 "cydot_micro_f32"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void micro_f64_narrow "cydot_micro_f64_narrow"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t,
                                                   int, int, int)
    void micro_f32_narrow "cydot_micro_f32_narrow"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t,
                                                   int, int, int)
    void unpacked_f64 "cydot_unpacked_f64"(ptrdiff_t, const void *, ptrdiff_t, const void *, void *, ptrdiff_t,
                                          int, int, int)
    void unpacked_f32 "cydot_unpacked_f32"(ptrdiff_t, const void *, ptrdiff_t, const void *, void *, ptrdiff_t,
                                          int, int, int)
    void unpacked_f64_narrow "cydot_unpacked_f64_narrow"(ptrdiff_t, const void *, ptrdiff_t, const void *, void *,
                                                         ptrdiff_t, int, int, int)
    void unpacked_f32_narrow "cydot_unpacked_f32_narrow"(ptrdiff_t, const void *, ptrdiff_t, const void *, void *,
                                                         ptrdiff_t, int, int, int)
    void micro_i64 "cydot_micro_i64"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void micro_i32 "cydot_micro_i32"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void micro_c128 "cydot_micro_c128"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void micro_c64 "cydot_micro_c64"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void pack_split_c128 "cydot_pack_split_c128"(const void *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, int, void *)
    void pack_split_c64 "cydot_pack_split_c64"(const void *, ptrdiff_t, ptrdiff_t, ptrdiff_t, ptrdiff_t, int, void *)
    void micro_ld "cydot_micro_ld"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)
    void micro_cld "cydot_micro_cld"(ptrdiff_t, const void *, const void *, void *, ptrdiff_t, int, int, int)

ctypedef void (*micro_kernel_t)(ptrdiff_t kc, const void *packed_a, const void *packed_b,
                                void *c, ptrdiff_t ldc, int mr, int nr, int accumulate) noexcept nogil
# The same, reading A unpacked: a tile's rows lda apart, each contiguous (float types only).
ctypedef void (*unpacked_a_kernel_t)(ptrdiff_t kc, const void *a, ptrdiff_t lda, const void *packed_b,
                                     void *c, ptrdiff_t ldc, int mr, int nr, int accumulate) noexcept nogil

cdef extern from "_shared_b.h" nogil:
    int panel_claim "cydot_panel_claim"(unsigned char *state)
    void panel_packed "cydot_panel_packed"(unsigned char *state)

cdef extern from "_team.h" nogil:
    ctypedef void (*task_t "cydot_task_t")(void *context, int block, int slot) noexcept nogil
    void run_on_threads "cydot_team_run"(task_t task, void *context, int nblocks, int nthreads)

ctypedef fused numeric:
    float
    double
    float complex
    double complex
    int32_t
    int64_t
    long double
    long double complex

LEVEL = LEVEL_NAME.decode()
# The dtypes computed natively, each with its micro-tile (MR rows, NR columns).
TILES = {
    np.dtype(np.float64): (F64_MR, F64_NR),
    np.dtype(np.float32): (F32_MR, F32_NR),
    np.dtype(np.complex128): (C128_MR, C128_NR),
    np.dtype(np.complex64): (C64_MR, C64_NR),
    np.dtype(np.int64): (I64_MR, I64_NR),
    np.dtype(np.int32): (I32_MR, I32_NR),
    np.dtype(np.longdouble): (LD_MR, LD_NR),
    np.dtype(np.clongdouble): (CLD_MR, CLD_NR),
}
# The float tiles for products with few columns (see tiling()).
NARROW_TILES = {
    np.dtype(np.float64): (F64_NARROW_MR, F64_NARROW_NR),
    np.dtype(np.float32): (F32_NARROW_MR, F32_NARROW_NR),
}
BLOCKS = {"KC": KC, "MC": MC, "NC": NC}
# Packed blocks start on a cache line, so tiles load aligned.
cdef Py_ssize_t ALIGNMENT = 64


cdef struct Tiling:
    int mr
    int nr
    micro_kernel_t micro_kernel
    unpacked_a_kernel_t unpacked_a_kernel  # NULL where there is none


cdef inline Py_ssize_t padded(Py_ssize_t n, int nr) noexcept nogil:
    return (n + nr - 1) // nr * nr


cdef inline bint narrow_pays(Py_ssize_t n, int narrow_nr, int wide_nr) noexcept nogil:
    """Whether n columns are computed faster with the narrow tile than with the wide one.

    The narrow tile runs at about 5/6 of the wide one's speed, so it pays only
    where the wide one pads n to over 6/5 of the columns the narrow one does.
    """
    return 6 * padded(n, narrow_nr) < 5 * padded(n, wide_nr)


cdef inline Tiling tiling(numeric *witness, Py_ssize_t n) noexcept nogil:
    """The micro-tile and micro-kernel for `numeric` (the argument only selects the type) and n columns."""
    cdef Tiling t
    t.unpacked_a_kernel = NULL
    if numeric is double:
        if narrow_pays(n, F64_NARROW_NR, F64_NR):
            t.mr, t.nr, t.micro_kernel = F64_NARROW_MR, F64_NARROW_NR, micro_f64_narrow
            t.unpacked_a_kernel = unpacked_f64_narrow
        else:
            t.mr, t.nr, t.micro_kernel = F64_MR, F64_NR, micro_f64
            t.unpacked_a_kernel = unpacked_f64
    elif numeric is float:
        if narrow_pays(n, F32_NARROW_NR, F32_NR):
            t.mr, t.nr, t.micro_kernel = F32_NARROW_MR, F32_NARROW_NR, micro_f32_narrow
            t.unpacked_a_kernel = unpacked_f32_narrow
        else:
            t.mr, t.nr, t.micro_kernel = F32_MR, F32_NR, micro_f32
            t.unpacked_a_kernel = unpacked_f32
    elif numeric is int64_t:
        t.mr, t.nr, t.micro_kernel = I64_MR, I64_NR, micro_i64
    elif numeric is int32_t:
        t.mr, t.nr, t.micro_kernel = I32_MR, I32_NR, micro_i32
    elif numeric is "double complex":
        t.mr, t.nr, t.micro_kernel = C128_MR, C128_NR, micro_c128
    elif numeric is "float complex":
        t.mr, t.nr, t.micro_kernel = C64_MR, C64_NR, micro_c64
    elif numeric is "long double":
        t.mr, t.nr, t.micro_kernel = LD_MR, LD_NR, micro_ld
    else:
        t.mr, t.nr, t.micro_kernel = CLD_MR, CLD_NR, micro_cld
    return t


def tile(dtype, Py_ssize_t n):
    """The (MR, NR) micro-tile the blocked kernel computes `dtype` with, for n columns."""
    cdef Tiling t
    if dtype == np.float64:
        t = tiling(<double *>NULL, n)
    elif dtype == np.float32:
        t = tiling(<float *>NULL, n)
    else:
        return TILES[dtype]
    return t.mr, t.nr


def workspace_bytes(dtype, Py_ssize_t n):
    """Bytes of packing space one thread needs for a product of `dtype` with `n` columns."""
    mr, nr = TILES[dtype]
    itemsize = dtype.itemsize
    nc = min(NC, padded(n, nr))
    return (MC * KC + KC * nc) * itemsize + 2 * ALIGNMENT


def shared_b_bytes(dtype, Py_ssize_t n, Py_ssize_t k):
    """Bytes of the buffer B is packed into once for all threads (n <= NC), state bytes included."""
    cdef int nr = tile(dtype, n)[1]
    return k * padded(n, nr) * dtype.itemsize + ALIGNMENT + panel_states(n, k, nr)


cdef inline Py_ssize_t panel_states(Py_ssize_t n, Py_ssize_t k, int nr) noexcept nogil:
    """State bytes of B packed once for all threads: one per micro-panel of each panel of KC rows."""
    return (k + KC - 1) // KC * (padded(n, nr) // nr)


cdef inline void *aligned(unsigned char *address) noexcept nogil:
    return <void *>(address + (-<uintptr_t>address) % ALIGNMENT)


cdef void pack_a(const numeric *a, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t mc, Py_ssize_t kc,
                 int mr, numeric *packed) noexcept nogil:
    """Copy an mc x kc block of A into micro-panels of mr rows, zero-padding the last."""
    if numeric is "double complex":
        pack_split_c128(a, rs, cs, mc, kc, mr, packed)  # real parts, then imaginary parts
        return
    if numeric is "float complex":
        pack_split_c64(a, rs, cs, mc, kc, mr, packed)
        return
    cdef Py_ssize_t tile, i0, i, p, rows
    for tile in range((mc + mr - 1) // mr):
        i0 = tile * mr
        rows = min(mr, mc - i0)
        for p in range(kc):
            for i in range(rows):
                packed[p * mr + i] = a[(i0 + i) * rs + p * cs]
        for i in range(rows, mr):
            for p in range(kc):
                packed[p * mr + i] = 0
        packed += mr * kc


cdef void pack_b(const numeric *b, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t kc, Py_ssize_t nc,
                 int nr, numeric *packed) noexcept nogil:
    """Copy a kc x nc block of B into micro-panels of nr columns, zero-padding the last."""
    if numeric is "double complex":
        pack_split_c128(b, cs, rs, nc, kc, nr, packed)  # the rows of b's transpose
        return
    if numeric is "float complex":
        pack_split_c64(b, cs, rs, nc, kc, nr, packed)
        return
    cdef Py_ssize_t tile, j0, j, p, columns
    for tile in range((nc + nr - 1) // nr):
        j0 = tile * nr
        columns = min(nr, nc - j0)
        for p in range(kc):
            for j in range(columns):
                packed[p * nr + j] = b[p * rs + (j0 + j) * cs]
            for j in range(columns, nr):
                packed[p * nr + j] = 0
        packed += nr * kc


# B packed once for all the threads of a product (_shared_b.h): the panel of
# rows pc.. of B starts at element pc * strips * nr, and its micro-panels' state
# bytes at states[pc // KC * strips]. Only for n <= NC: one column block.
cdef struct SharedB:
    void *packed
    unsigned char *states
    int nthreads


cdef void gemm(const numeric *a, Py_ssize_t a_rs, Py_ssize_t a_cs,
               const numeric *b, Py_ssize_t b_rs, Py_ssize_t b_cs,
               numeric *c, Py_ssize_t ldc, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
               unsigned char *workspace, const SharedB *shared, int slot) noexcept nogil:
    """C = A·B on one thread, Goto-style: B blocks stay in L3, A blocks in L2, tiles in registers.

    Strides are in elements; C is row-major with leading dimension ldc; k >= 1.
    Without `shared` the thread packs B itself; with it, thread `slot` starts on
    its own share of B's micro-panels, so that threads pack different ones.
    """
    cdef Tiling t = tiling(c, n)
    cdef numeric *packed_a = <numeric *>aligned(workspace)
    cdef numeric *packed_b = <numeric *>aligned(<unsigned char *>(packed_a + MC * KC))
    cdef unsigned char *states = NULL
    # Every block of A is used once where B is one micro-panel wide: read A where it lies.
    cdef bint unpacked_a = t.unpacked_a_kernel != NULL and n <= t.nr and a_cs == 1
    cdef Py_ssize_t jc, pc, ic, jr, ir, nc, kc, mc, strip, strips, first = 0
    jc = 0
    while jc < n:
        nc = min(NC, n - jc)
        strips = padded(nc, t.nr) // t.nr
        if shared != NULL:
            first = strips * slot // shared.nthreads
        pc = 0
        while pc < k:
            kc = min(KC, k - pc)
            if shared == NULL:
                pack_b(b + pc * b_rs + jc * b_cs, b_rs, b_cs, kc, nc, t.nr, packed_b)
            else:
                packed_b = <numeric *>shared.packed + pc * strips * t.nr
                states = shared.states + pc // KC * strips
            ic = 0
            while ic < m:
                mc = min(MC, m - ic)
                if not unpacked_a:
                    pack_a(a + ic * a_rs + pc * a_cs, a_rs, a_cs, mc, kc, t.mr, packed_a)
                # jr outside ir: one micro-panel of B stays in L1 across the A block.
                for strip in range(first, first + strips):
                    jr = strip % strips * t.nr
                    if states != NULL and panel_claim(&states[jr // t.nr]):
                        pack_b(b + pc * b_rs + (jc + jr) * b_cs, b_rs, b_cs, kc, min(t.nr, nc - jr), t.nr,
                               packed_b + jr * kc)
                        panel_packed(&states[jr // t.nr])
                    ir = 0
                    while ir < mc:
                        if unpacked_a:
                            t.unpacked_a_kernel(kc, a + (ic + ir) * a_rs + pc, a_rs, packed_b + jr * kc,
                                                c + (ic + ir) * ldc + jc + jr, ldc,
                                                min(t.mr, mc - ir), min(t.nr, nc - jr), pc > 0)
                        else:
                            t.micro_kernel(kc, packed_a + ir * kc, packed_b + jr * kc,
                                           c + (ic + ir) * ldc + jc + jr, ldc,
                                           min(t.mr, mc - ir), min(t.nr, nc - jr), pc > 0)
                        ir += t.mr
                ic += MC
            pc += KC
        jc += NC


cdef inline Py_ssize_t split_point(Py_ssize_t nitems, Py_ssize_t nparts, Py_ssize_t i) noexcept nogil:
    """Start of part i when nitems are split into nparts balanced contiguous parts."""
    return i * (nitems // nparts) + min(i, nitems % nparts)


cdef enum Split:
    ROWS        # block i computes rows of c
    ALONG_K     # block i computes partials[i] from a slice of the inner dimension
    NAIVE_ROWS  # rows of c by the triple loop


cdef enum Kind:  # which of `numeric`'s types a Product holds
    FLOAT32
    FLOAT64
    COMPLEX64
    COMPLEX128
    INT32
    INT64
    LONGDOUBLE
    CLONGDOUBLE


# A product split into blocks, as the team's threads see it (strides in elements).
cdef struct Product:
    Split split
    Kind kind
    int nblocks
    const void *a
    const void *b
    void *c
    Py_ssize_t a_rs, a_cs, b_rs, b_cs
    Py_ssize_t m, n, k
    unsigned char *workspace
    Py_ssize_t workspace_rs
    const SharedB *shared  # NULL: each thread packs B itself


cdef inline Kind kind_of(numeric *witness) noexcept nogil:
    if numeric is float:
        return FLOAT32
    elif numeric is double:
        return FLOAT64
    elif numeric is "float complex":
        return COMPLEX64
    elif numeric is "double complex":
        return COMPLEX128
    elif numeric is int32_t:
        return INT32
    elif numeric is int64_t:
        return INT64
    elif numeric is "long double":
        return LONGDOUBLE
    else:
        return CLONGDOUBLE


cdef void compute_block(void *context, int block, int slot) noexcept nogil:
    """The team's task: block `block` of the Product at `context`, with thread `slot`'s workspace.

    The team calls one C signature; the fused specialisation is picked here, from p.kind.
    """
    cdef Product *p = <Product *>context
    if p.kind == FLOAT32:
        compute_typed_block(<float *>p.c, p, block, slot)
    elif p.kind == FLOAT64:
        compute_typed_block(<double *>p.c, p, block, slot)
    elif p.kind == COMPLEX64:
        compute_typed_block(<float complex *>p.c, p, block, slot)
    elif p.kind == COMPLEX128:
        compute_typed_block(<double complex *>p.c, p, block, slot)
    elif p.kind == INT32:
        compute_typed_block(<int32_t *>p.c, p, block, slot)
    elif p.kind == INT64:
        compute_typed_block(<int64_t *>p.c, p, block, slot)
    elif p.kind == LONGDOUBLE:
        compute_typed_block(<long double *>p.c, p, block, slot)
    else:
        compute_typed_block(<long double complex *>p.c, p, block, slot)


cdef void compute_typed_block(numeric *c, Product *p, int block, int slot) noexcept nogil:
    cdef const numeric *a = <const numeric *>p.a
    cdef const numeric *b = <const numeric *>p.b
    cdef unsigned char *workspace = p.workspace + slot * p.workspace_rs
    cdef Py_ssize_t start, stop, mr, tiles
    if p.split == ALONG_K:
        start = split_point(p.k, p.nblocks, block)
        stop = split_point(p.k, p.nblocks, block + 1)
        gemm(a + start * p.a_cs, p.a_rs, p.a_cs, b + start * p.b_rs, p.b_rs, p.b_cs,
             c + block * p.m * p.n, p.n, p.m, p.n, stop - start, workspace, NULL, slot)
        return
    if p.split == ROWS:  # whole row tiles to each block, so only the last tile is partial
        mr = tiling(c, p.n).mr
        tiles = (p.m + mr - 1) // mr
        start = split_point(tiles, p.nblocks, block) * mr
        stop = min(split_point(tiles, p.nblocks, block + 1) * mr, p.m)
        gemm(a + start * p.a_rs, p.a_rs, p.a_cs, b, p.b_rs, p.b_cs,
             c + start * p.n, p.n, stop - start, p.n, p.k, workspace, p.shared, slot)
    else:
        start = split_point(p.m, p.nblocks, block)
        stop = split_point(p.m, p.nblocks, block + 1)
        naive(a + start * p.a_rs, p.a_rs, p.a_cs, b, p.b_rs, c + start * p.n, stop - start, p.n, p.k)


cdef void naive(const numeric *a, Py_ssize_t a_rs, Py_ssize_t a_cs, const numeric *b, Py_ssize_t ldb,
                numeric *c, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """C = A·B by the textbook triple loop in i-k-j order; B and C row-major.

    Each row of C accumulates a[i, p] * b[p, :] for p = 0, 1, ...: every element
    sums its terms in the same order as the i-j-k loop, while the innermost loop
    runs along contiguous rows of B and C, so the compiler vectorises it.
    """
    cdef Py_ssize_t i, j, p
    cdef numeric a_ip
    cdef numeric *c_row
    cdef const numeric *b_row
    for i in range(m):
        c_row = c + i * n
        for j in range(n):
            c_row[j] = 0
        for p in range(k):
            a_ip = a[i * a_rs + p * a_cs]
            b_row = b + p * ldb
            for j in range(n):
                c_row[j] = c_row[j] + a_ip * b_row[j]


cdef Product describe(Split split, const numeric[:, :] a, const numeric[:, :] b, numeric *c,
                      unsigned char *workspace, Py_ssize_t workspace_rs, int nblocks) noexcept:
    cdef Product p
    cdef Py_ssize_t item = sizeof(numeric)
    p.split, p.kind, p.nblocks = split, kind_of(c), nblocks
    p.a, p.b, p.c = &a[0, 0], &b[0, 0], c
    p.a_rs, p.a_cs = a.strides[0] // item, a.strides[1] // item
    p.b_rs, p.b_cs = b.strides[0] // item, b.strides[1] // item
    p.m, p.k, p.n = a.shape[0], a.shape[1], b.shape[1]
    p.workspace, p.workspace_rs = workspace, workspace_rs
    p.shared = NULL
    return p


def blocked_rows(const numeric[:, :] a, const numeric[:, :] b, numeric[:, ::1] c,
                 unsigned char[:, ::1] workspace, int nthreads, unsigned char[::1] shared_b=None):
    """c = a @ b with the rows of c split into `nthreads` blocks (one workspace row a thread).

    With `shared_b` (shared_b_bytes(c.dtype, n, k) of them), B is packed there
    once for all the threads; otherwise each thread packs it for its own rows.
    """
    cdef Tiling t = tiling(&c[0, 0], b.shape[1])
    cdef Py_ssize_t tiles = (a.shape[0] + t.mr - 1) // t.mr  # no block without a row tile
    cdef Product p = describe(ROWS, a, b, &c[0, 0], &workspace[0, 0], workspace.shape[1],
                              min(nthreads, tiles))
    cdef SharedB shared
    if shared_b is not None:
        shared.packed = aligned(&shared_b[0])
        shared.states = <unsigned char *>shared.packed + p.k * padded(p.n, t.nr) * sizeof(numeric)
        memset(shared.states, 0, panel_states(p.n, p.k, t.nr))
        shared.nthreads = p.nblocks
        p.shared = &shared
    with nogil:
        run_on_threads(compute_block, &p, p.nblocks, nthreads)


def blocked_split_k(const numeric[:, :] a, const numeric[:, :] b, numeric[:, :, ::1] partials,
                    unsigned char[:, ::1] workspace, int nthreads):
    """partials[t] = a[:, kt] @ b[kt, :] for `nthreads` balanced slices kt of the inner dimension."""
    cdef Product p = describe(ALONG_K, a, b, &partials[0, 0, 0], &workspace[0, 0], workspace.shape[1],
                              nthreads)
    with nogil:
        run_on_threads(compute_block, &p, nthreads, nthreads)


def naive_rows(const numeric[:, :] a, const numeric[:, ::1] b, numeric[:, ::1] c, int nthreads):
    """c = a @ b by the textbook triple loop, the rows of c split into `nthreads` blocks."""
    cdef const numeric[:, :] rows_of_b = b  # the loop reads b's rows as contiguous
    cdef Product p = describe(NAIVE_ROWS, a, rows_of_b, &c[0, 0], <unsigned char *>NULL, 0, nthreads)
    with nogil:
        run_on_threads(compute_block, &p, nthreads, nthreads)
