"""Bad input is refused with ValueError or TypeError naming what was expected and what came."""

import numpy as np
import pytest

import cydot
import mpdot

A = np.ones((3, 4))
B = np.ones((4, 5))


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.ones((3, 4)), np.ones((5, 2)), r"shapes \(3, 4\) and \(5, 2\) not aligned"),
        (np.ones(4), B, r"a must be 2-D, got 1-D"),
        (A, np.ones((4, 5, 1)), r"b must be 2-D, got 3-D"),
        (np.float64(2.0), B, r"a must be 2-D, got 0-D"),
    ],
)
def test_bad_shapes_raise_value_error(dot, a, b, message):
    with pytest.raises(ValueError, match=message):
        dot(a, b)


@pytest.mark.parametrize("dtype", [object, str, "datetime64[s]"])
def test_non_numeric_dtypes_raise_type_error(dot, dtype):
    with pytest.raises(TypeError, match="numeric dtype"):
        dot(A.astype(dtype), B)
    with pytest.raises(TypeError, match="numeric dtype"):
        dot(A, B.astype(dtype))


@pytest.mark.parametrize(
    "out, message",
    [
        (np.empty((3, 4)), r"shape \(3, 5\) and dtype float64, got shape \(3, 4\)"),
        (np.empty((3, 5), np.float32), r"got shape \(3, 5\) and dtype float32"),
        (np.empty((3, 5), ">f8"), r"dtype float64, got shape \(3, 5\) and dtype >f8"),
        (np.empty((5, 3)).T, "C-contiguous"),
        (np.empty((3, 10))[:, ::2], "C-contiguous"),
        ([[0.0] * 5] * 3, "numpy.ndarray, got list"),
    ],
)
def test_bad_out_raises_value_error(dot, out, message):
    with pytest.raises(ValueError, match=message):
        dot(A, B, out=out)


def test_read_only_out_raises_value_error(dot):
    out = np.empty((3, 5))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        dot(A, B, out=out)


def test_unknown_kernel_raises_value_error(dot):
    with pytest.raises(ValueError, match=r"kernel must be one of \[.*'naive'\], got 'fast'"):
        dot(A, B, kernel="fast")


@pytest.mark.parametrize("count", [0, -1, 1.5, "2", True])
def test_bad_worker_counts_raise_value_error(count):
    with pytest.raises(ValueError, match="nprocesses must be a positive integer"):
        mpdot.dot(A, B, nprocesses=count)
    with pytest.raises(ValueError, match="nprocesses must be a positive integer"):
        mpdot.Pool(count)
    with pytest.raises(ValueError, match="nthreads must be a positive integer"):
        cydot.dot(A, B, nthreads=count)


def test_unknown_start_method_raises_value_error():
    with pytest.raises(ValueError, match="cannot find context"):
        mpdot.Pool(2, start_method="teleport")


def test_closed_pool_refuses_work():
    pool = mpdot.Pool(1)
    pool.close()
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.dot(A, B)


def test_closed_pool_refuses_even_a_product_it_would_compute_in_the_caller(monkeypatch):
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS", 2 * 200**3)
    pool = mpdot.Pool(2)
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.dot(np.ones((2, 3)), np.ones((3, 4)))


@pytest.mark.parametrize("nitems, nslices", [(-1, 2), (3, 0)])
def test_slices_rejects_bad_counts(nitems, nslices):
    with pytest.raises(ValueError, match="must be"):
        mpdot.slices(nitems, nslices)
