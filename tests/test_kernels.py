"""The block kernels a worker runs: out = a @ b, as numpy.dot computes it."""

import numpy as np
import pytest

from mpdot._kernels import _SLAB, KERNELS


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("k", [_SLAB - 1, 2 * _SLAB, 3 * _SLAB + 5])
def test_kernels_match_numpy_across_slabs_of_k(kernel, dtype, k):
    rng = np.random.default_rng(k)
    a = rng.integers(-3, 4, size=(5, k + 100)).astype(dtype)[:, :k]  # rows apart, like a k-split block
    b = rng.integers(-3, 4, size=(k, 4)).astype(dtype)
    out = np.full((5, 4), np.nan if a.dtype.kind in "fc" else 7, dtype)
    KERNELS[kernel](a, b, out)
    np.testing.assert_array_equal(out, np.dot(a, b))  # small integers: every sum is exact
