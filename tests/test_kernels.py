"""The block kernels a worker runs: out = a @ b, as numpy.dot computes it."""

import tracemalloc

import numpy as np
import pytest

from mpdot._kernels import KERNELS, blas_kernel


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize(
    "dtype", [np.float64, np.float32, np.complex128, np.int64, np.int8, np.float16, np.bool_]
)
def test_kernels_match_numpy_on_blocks_with_strided_rows(kernel, dtype):
    rng = np.random.default_rng(0)
    wide_a = rng.integers(-3, 4, size=(5, 3000)).astype(dtype)
    a = wide_a[:, 1000:2000]  # rows 3000 apart, like a block of a split along k
    b = rng.integers(-3, 4, size=(1000, 4)).astype(dtype)
    out = np.full((5, 4), 7, dtype)
    KERNELS[kernel](a, b, out)
    np.testing.assert_array_equal(out, np.dot(a, b))  # small integers: every sum is exact


def test_blas_kernel_hands_strided_rows_to_blas_without_a_copy():
    wide_a, b = np.ones((50, 20000)), np.ones((10000, 60))
    a, out = wide_a[:, :10000], np.empty((50, 60))
    tracemalloc.start()
    try:
        blas_kernel(a, b, out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < a.nbytes // 10, f"{peak} bytes allocated for a {a.nbytes}-byte block"
