"""Workers read plain operands in the caller's memory, piece by piece, or fall back to copies."""

import functools
import subprocess
import sys

import numpy as np
import pytest
from conftest import START_METHODS, assert_matches_numpy

import mpdot
import mpdot._pool
from mpdot._remote import PIECE_BYTES, RemoteArray, RemoteReadError


def random_array(shape, dtype=np.float64, order="C", seed=0):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape).astype(dtype), order=order)


def exited_pid():
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize(
    "index",
    [np.s_[:, :], np.s_[2:5], np.s_[:, 3:4], np.s_[7:8, :], np.s_[:, 10:2], np.s_[-3:, 1:]],
    ids=["whole", "rows", "one-column", "one-row", "empty", "negative"],
)
def test_a_block_reads_as_numpy_slices_it(order, index):
    array = random_array((9, 13), order=order)
    buffer = np.empty(array.nbytes, np.uint8)
    np.testing.assert_array_equal(RemoteArray(array)[index].read(buffer), array[index])


@pytest.mark.parametrize("shape", [(3000, 1), (1, 3000), (3000, 2)])
def test_vectors_and_more_runs_than_one_call_takes(shape):
    array = random_array(shape, np.float32)
    buffer = np.empty(array.nbytes, np.uint8)
    first_column = RemoteArray(array)[:, :1]  # (3000, 2): 3000 runs of one element
    np.testing.assert_array_equal(first_column.read(buffer), array[:, :1])
    fortran = np.asfortranarray(array)  # alive while read: a RemoteArray holds only its address
    np.testing.assert_array_equal(RemoteArray(fortran)[5:].read(buffer), array[5:])


def test_any_stride_on_an_axis_of_length_one():
    array = np.lib.stride_tricks.as_strided(random_array((1, 6)), strides=(-16, 8))
    assert array.flags.c_contiguous
    np.testing.assert_array_equal(RemoteArray(array)[:, 2:].read(np.empty(48, np.uint8)), array[:, 2:])


def test_a_refused_read_raises():
    array = random_array((4, 4))
    with pytest.raises(RemoteReadError, match="process"):
        RemoteArray(array, pid=exited_pid()).read(np.empty(array.nbytes, np.uint8))


# Split along k (a short output, a long inner dimension), and by rows against a small b
# (40000 × 16 @ 16 × 8), each in several pieces per worker.
M, K, N = 200, 4 * PIECE_BYTES // (400 * 8), 200


@pytest.fixture(scope="module", params=START_METHODS)
def unstaged_pool(request):
    """A pool of this module's own, whose staging buffers only its products made."""
    with mpdot.Pool(2, request.param) as pool:
        yield pool


@pytest.mark.parametrize("kernel", ["blas", "naive"])
@pytest.mark.parametrize("orders", ["CC", "FF", "CF", "FC"])
@pytest.mark.parametrize("shape", [(M, K, N), (40000, 16, 8)], ids=["along-k", "rows-small-b"])
def test_plain_operands_are_read_where_they_are(unstaged_pool, shape, orders, kernel):
    (m, k, n), pool = shape, unstaged_pool
    a, b = random_array((m, k), order=orders[0], seed=1), random_array((k, n), order=orders[1], seed=2)
    assert_matches_numpy(pool.dot(a, b, kernel=kernel), a, b)
    if pool.start_method != "fork":  # a fork pool's first call had its workers inherit them
        assert "a" not in pool._staging and "b" not in pool._staging


def test_a_large_b_split_by_rows_is_copied(unstaged_pool):
    a, b = random_array((20, 600)), random_array((600, 600))  # b: 2.9 MB, read by every worker
    assert_matches_numpy(unstaged_pool.dot(a, b), a, b)
    if unstaged_pool.start_method != "fork":
        assert "b" in unstaged_pool._staging


def test_a_repeated_request_reads_the_new_values(pool):
    a, b = random_array((M, K), seed=1), random_array((K, N), seed=2)
    out = np.empty((M, N))
    for seed in range(3):
        a[...] = random_array(a.shape, seed=seed)
        b[-1] = seed
        assert pool.dot(a, b, out=out) is out
        assert_matches_numpy(out, a, b)


@pytest.mark.parametrize(
    "unreadable",
    [lambda: random_array((M, K), np.float32), lambda: random_array((M, 2 * K))[:, ::2]],
    ids=["another-dtype", "not-contiguous"],
)
def test_operands_of_another_dtype_or_not_contiguous_are_copied(unreadable):
    a, b = unreadable(), random_array((K, N))
    with mpdot.Pool(2, start_method="forkserver") as pool:
        assert_matches_numpy(pool.dot(a, b), a, b)
        assert "a" in pool._staging and "b" not in pool._staging  # b is read where it is


def test_operands_smaller_than_a_piece_are_copied():
    a, b = random_array((40, 30)), random_array((30, 20))
    with mpdot.Pool(2, start_method="forkserver") as pool:
        assert_matches_numpy(pool.dot(a, b), a, b)
        assert "a" in pool._staging and "b" in pool._staging


def test_the_pool_copies_once_a_read_is_refused(monkeypatch):
    monkeypatch.setattr(mpdot._pool, "RemoteArray", functools.partial(RemoteArray, pid=exited_pid()))
    a, b = random_array((M, K)), random_array((K, N))
    with mpdot.Pool(2, start_method="forkserver") as pool:
        for _ in range(2):
            assert_matches_numpy(pool.dot(a, b), a, b)
            assert "a" in pool._staging and "b" in pool._staging
        assert not pool._reads_remotely
