"""The block kernels a worker (or the caller, for small products) runs: out = a @ b."""

import numpy as np

# With a small output and a long inner dimension (a worker's block of the
# original answer's 50×100000 @ 100000×60, split along k), OpenBLAS ran 6%
# faster on one core, and 12% faster with two workers side by side, when given
# slabs of k one at a time.
_SLAB = 8192
_SLAB_MAX_OUTPUT = 2**16
_BLAS_TYPES = "fdFD"


def blas_kernel(a, b, out):
    """numpy.dot on the block: BLAS for float and complex types, numpy's loops otherwise."""
    k = a.shape[1]
    if k < 2 * _SLAB or out.size > _SLAB_MAX_OUTPUT or out.dtype.char not in _BLAS_TYPES:
        np.dot(a, b, out=out)
        return
    slab_product = np.empty_like(out)
    np.dot(a[:, :_SLAB], b[:_SLAB], out=out)
    for start in range(_SLAB, k, _SLAB):
        np.dot(a[:, start : start + _SLAB], b[start : start + _SLAB], out=slab_product)
        out += slab_product


def naive_kernel(a, b, out):
    """The original answer's kernel, kept for comparison: each output column as multiply-then-sum."""
    products = np.empty_like(a)
    for j in range(b.shape[1]):
        np.multiply(a, b[:, j], out=products)
        products.sum(axis=1, out=out[:, j])


KERNELS = {"blas": blas_kernel, "naive": naive_kernel}
