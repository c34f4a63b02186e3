"""cydot.dot: a matrix product computed by Cython kernels on threads that release the GIL."""

import operator
import threading

import numpy as np

from mpdot._operands import check_count, check_operands, overlaps
from mpdot._pool import available_cpus

from . import _levels

KERNELS = ("blocked", "naive")
kernels = _levels.load()

# Splitting along k is for a small output and a long inner dimension (the
# original answer's 50×100000 @ 100000×60): row blocks would each pack all of b.
_K_SPLIT_MAX_OUTPUT = 2**16
# Split by rows, every thread multiplies its rows by all of b. Packed once for
# all threads rather than by each, b is read from memory once: 2-5% faster where
# b takes 9-32 MB, no different at 8 MB, slower at 1 MB and less, where each
# thread's own packed b stays in its own caches (docs/cydot.md). The buffer is
# as large as b, hence the upper bound.
_SHARED_B_MIN_BYTES = 2**23
_SHARED_B_MAX_BYTES = 2**25


def dot(a, b, out=None, nthreads=None, kernel="blocked"):
    """Matrix product of 2-D `a` and `b`, exactly as numpy.dot computes it, on `nthreads` threads.

    kernel: ``"blocked"`` (packed panels and a register-tiled micro-kernel) or
    ``"naive"`` (the textbook triple loop, unblocked). `out`, if given, must be C-contiguous
    with the result's shape and dtype; it may overlap `a` or `b`.
    """
    a, b, dtype = check_operands(a, b, out, kernel, KERNELS)
    nthreads = available_cpus() if nthreads is None else check_count("nthreads", nthreads)
    (m, k), n = a.shape, b.shape[1]
    if m * n * k == 0:
        result = np.zeros((m, n), dtype)
    else:
        computed = compute_dtype(dtype)
        a = _operand(a, computed)
        b = _operand(b, computed)
        direct = out is not None and computed == dtype and not overlaps(out, a, b)
        result = out if direct else np.empty((m, n), computed)
        if kernel == "blocked":
            _blocked(a, b, result, nthreads)
        else:
            _naive(a, b, result, nthreads)
        if computed != dtype:
            result = result != 0 if dtype.kind == "b" else result.astype(dtype)
    if out is None:
        return result
    if result is not out:
        out[...] = result
    return out


def compute_dtype(dtype):
    """The dtype the kernels compute a `dtype` result in: itself, or a wider native type.

    Integer sums wrap around, so computing narrow integers in 32 bits and casting
    back gives numpy's values; numpy itself sums float16 in float32; a boolean
    product is true where the count of true terms is non-zero.
    """
    if dtype in kernels.TILES:
        return dtype
    if dtype.kind in "biu":
        return np.dtype(np.int64 if dtype.itemsize == 8 else np.int32)
    if dtype == np.float16:
        return np.dtype(np.float32)
    raise TypeError(f"cydot has no kernel for {dtype}")


def _operand(array, dtype):
    """`array` in `dtype` and native byte order, aligned, with strides in whole elements."""
    array = array.astype(dtype, copy=False)
    rows, columns = array.strides  # unpacked: a generator over them cost 0.8 µs a call
    if not array.flags.aligned or rows % array.itemsize or columns % array.itemsize:
        array = array.copy()  # ascontiguousarray would keep a contiguous, misaligned array
    return array


def _splits_along_k(m, k, n, nthreads):
    return nthreads > 1 and (m < nthreads or (m * n <= _K_SPLIT_MAX_OUTPUT and k >= 4 * max(m, n)))


def _blocked(a, b, c, nthreads):
    (m, k), n = a.shape, b.shape[1]
    split_along_k = _splits_along_k(m, k, n, nthreads)
    nparts = min(nthreads, k if split_along_k else m)
    workspace = _workspaces.take(nparts, kernels.workspace_bytes(c.dtype, n))
    try:
        if split_along_k:
            partials = np.empty((nparts, m, n), c.dtype)
            kernels.blocked_split_k(a, b, partials, workspace, nparts)
            np.sum(partials, axis=0, out=c)
        else:
            _blocked_rows(a, b, c, workspace, nparts)
    finally:
        _workspaces.give_back(workspace)


def _blocked_rows(a, b, c, workspace, nthreads):
    """c = a @ b by blocks of rows, b packed once for all threads where that pays (above)."""
    k, n = b.shape
    b_bytes = k * n * c.itemsize
    if nthreads == 1 or n > kernels.BLOCKS["NC"] or not _SHARED_B_MIN_BYTES <= b_bytes <= _SHARED_B_MAX_BYTES:
        kernels.blocked_rows(a, b, c, workspace, nthreads)
        return
    shared_b = _workspaces.take(1, kernels.shared_b_bytes(c.dtype, n, k))
    try:
        kernels.blocked_rows(a, b, c, workspace, nthreads, shared_b[0])
    finally:
        _workspaces.give_back(shared_b)


def _naive(a, b, c, nthreads):
    b = np.ascontiguousarray(b)
    kernels.naive_rows(a, b, c, min(nthreads, a.shape[0]))


class _Workspaces:
    """Packing buffers, one row per thread, reused across calls but never by two at once.

    Plain methods rather than a context manager (1.9 µs a call against 3.2, timed
    alone): most of a small product's time is Python (docs/cydot.md).
    """

    def __init__(self, keep):
        self._free = []  # the largest first
        self._lock = threading.Lock()
        self._keep = keep

    def take(self, nthreads, nbytes):
        with self._lock:
            for index, free in enumerate(self._free):
                if free.shape[0] >= nthreads and free.shape[1] >= nbytes:
                    return self._free.pop(index)
        return np.empty((nthreads, nbytes), np.uint8)

    def give_back(self, workspace):
        with self._lock:
            self._free.append(workspace)
            self._free.sort(key=operator.attrgetter("size"), reverse=True)
            del self._free[self._keep :]


# Enough for the calls one process makes at once; beyond that the smallest go.
_workspaces = _Workspaces(keep=4)


def info():
    """What cydot computes with here: instruction-set level, threads, micro-tiles."""
    return {
        "level": kernels.LEVEL,
        "runnable_levels": _levels.runnable_levels(),
        "built_levels": _levels.built_levels(),
        "nthreads": available_cpus(),
        "tiles": {str(dtype): tile for dtype, tile in kernels.TILES.items()},
        "narrow_tiles": {str(dtype): tile for dtype, tile in kernels.NARROW_TILES.items()},
        "blocks": kernels.BLOCKS,
    }
