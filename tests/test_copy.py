"""Large copies into and out of shared memory, split among the caller's threads."""

import os

import numpy as np
import pytest
from conftest import assert_matches_numpy

import mpdot
from mpdot._copy import MIN_PARALLEL_BYTES, Copier

ROWS = 1001  # not a multiple of the thread count
LARGE_COLUMNS = MIN_PARALLEL_BYTES // (8 * ROWS) + 7  # a float64 array of these is copied in parallel


def layouts(rng):
    """Sources of one large float64 shape, in every layout a copy must handle."""
    base = rng.random((ROWS, LARGE_COLUMNS))
    yield "C", base
    yield "F", np.asfortranarray(base)
    yield "strided", rng.random((ROWS, 2 * LARGE_COLUMNS))[:, ::2]
    yield "byte-swapped", base.astype(base.dtype.newbyteorder())
    yield "int32", rng.integers(-5, 5, base.shape).astype(np.int32)


@pytest.mark.parametrize("nthreads", [1, 2, 3])
def test_a_large_copy_is_exact_in_every_layout(nthreads):
    copier = Copier(nthreads)
    try:
        for _, source in layouts(np.random.default_rng(0)):
            target = np.full(source.shape, np.nan)
            copier.copy(target, source)
            np.testing.assert_array_equal(target, source)
    finally:
        copier.close()


def test_helper_threads_take_part_only_in_large_copies():
    copier = Copier(2)
    try:
        small = np.ones((4, 4))
        copier.copy(np.empty_like(small), small)
        assert copier._helpers is None
        large = np.ones((ROWS, LARGE_COLUMNS))
        copier.copy(np.empty_like(large), large)
        assert copier._helpers is not None
    finally:
        copier.close()
    assert copier._helpers is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_copies_on_its_own_thread():
    copier = Copier(2)
    large = np.arange(float(ROWS * LARGE_COLUMNS)).reshape(ROWS, LARGE_COLUMNS)
    copier.copy(np.empty_like(large), large)  # the helper thread exists, in this process only
    pid = os.fork()
    if pid == 0:  # the child: its copy of the executor has no threads to run the other half
        target = np.empty_like(large)
        copier.copy(target, large)
        copier.close()
        os._exit(0 if np.array_equal(target, large) else 1)
    _, status = os.waitpid(pid, 0)
    copier.close()
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("use_out", [False, True])
def test_products_of_large_plain_operands(use_out):
    rng = np.random.default_rng(1)
    a = rng.random((ROWS, 600))  # 4.8 MB, copied in parallel
    b = np.asfortranarray(rng.random((600, LARGE_COLUMNS)))
    with mpdot.Pool(2) as pool:
        out = np.empty((ROWS, LARGE_COLUMNS)) if use_out else None
        result = pool.dot(a, b, out=out)
        assert_matches_numpy(result, a, b)
        if use_out:
            assert result is out
