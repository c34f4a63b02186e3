"""mpdot.dot and Pool.dot return what numpy.dot returns."""

import numpy as np
import pytest
from conftest import assert_matches_numpy

import mpdot

SHAPES = [(1, 1, 1), (7, 5, 3), (3, 40, 1), (33, 17, 65), (2, 3000, 4), (50, 1000, 60)]
EMPTY_SHAPES = [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0)]
DTYPES = [np.float64, np.float32, np.complex128, np.complex64, np.int64, np.int32, np.int8,
          np.uint16, np.float16, np.bool_]
MIXED = [(np.int8, np.uint8), (np.int32, np.float32), (np.float32, np.float64),
         (np.bool_, np.int16), (np.float64, np.complex64), (np.uint64, np.int64)]


def random_array(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, 100, size=shape).astype(dtype)
    values = rng.standard_normal(shape)
    if dtype.kind == "c":
        values = values + 1j * rng.standard_normal(shape)
    return values.astype(dtype)


def operands(m, k, n, dtype_a=np.float64, dtype_b=None):
    return random_array((m, k), dtype_a, 1), random_array((k, n), dtype_b or dtype_a, 2)


@pytest.mark.parametrize("kernel", [None, "naive"])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_matches_numpy_for_shapes(dot, kernel, m, k, n):
    a, b = operands(m, k, n)
    assert_matches_numpy(dot(a, b, kernel=kernel), a, b)


@pytest.mark.parametrize("kernel", [None, "naive"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_numpy_for_dtypes(dot, kernel, dtype):
    a, b = operands(9, 31, 5, dtype)
    assert_matches_numpy(dot(a, b, kernel=kernel), a, b)


@pytest.mark.parametrize("dtypes", MIXED, ids=lambda pair: f"{pair[0].__name__}-{pair[1].__name__}")
def test_promotes_mixed_dtypes_like_numpy(dot, dtypes):
    a, b = operands(6, 8, 4, *dtypes)
    assert_matches_numpy(dot(a, b), a, b)


@pytest.mark.parametrize("m, k, n", EMPTY_SHAPES)
def test_empty_dimensions(dot, m, k, n):
    a, b = operands(m, k, n)
    assert_matches_numpy(dot(a, b), a, b)


LAYOUTS = {
    "fortran": lambda x: np.asfortranarray(x),
    "transposed-view": lambda x: np.ascontiguousarray(x.T).T,
    "strided": lambda x: np.repeat(np.repeat(x, 2, axis=0), 3, axis=1)[::2, ::3],
    "reversed": lambda x: x[::-1, ::-1].copy()[::-1, ::-1],
    "big-endian": lambda x: x.astype(x.dtype.newbyteorder(">")),
    "read-only": lambda x: _read_only(x),
    "shared-fortran": lambda x: mpdot.asarray(x.T).T,
    "shared-strided": lambda x: mpdot.asarray(np.repeat(x, 2, axis=1))[:, ::2],
}


def _read_only(x):
    x = x.copy()
    x.flags.writeable = False
    return x


@pytest.mark.parametrize("layout", LAYOUTS)
def test_any_layout_of_either_operand(dot, layout):
    a, b = operands(12, 20, 9)
    arrange = LAYOUTS[layout]
    for a_in, b_in in [(arrange(a), b), (a, arrange(b)), (arrange(a), arrange(b))]:
        np.testing.assert_array_equal(a_in, a)
        assert_matches_numpy(dot(a_in, b_in), a, b)


def test_broadcast_operands_with_zero_strides(dot):
    a = np.broadcast_to(np.arange(5.0), (8, 5))
    b = np.broadcast_to(np.arange(3.0)[None, :], (5, 3))
    assert a.strides[0] == 0 and b.strides[0] == 0
    assert_matches_numpy(dot(a, b), a, b)


def test_nan_and_inf_propagate(dot):
    a, b = operands(6, 10, 7)
    a[1, 3] = np.nan
    a[4, 2] = np.inf
    b[5, 6] = -np.inf
    assert_matches_numpy(dot(a, b), a, b)


@pytest.mark.parametrize("kind", ["plain", "shared"])
def test_fills_and_returns_out(dot, kind):
    a, b = operands(10, 15, 8)
    out = np.full((10, 8), np.nan) if kind == "plain" else mpdot.empty((10, 8))
    result = dot(a, b, out=out)
    assert result is out
    assert_matches_numpy(out, a, b)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("kernel", [None, "naive"])
def test_out_may_alias_an_input(dot, shared, kernel):
    a, b = operands(16, 16, 16)
    expected = np.dot(a, b)
    asarray = mpdot.asarray if shared else np.array
    for aliased in ("a", "b"):
        x, y = asarray(a), asarray(b)
        out = x if aliased == "a" else y
        assert dot(x, y, out=out, kernel=kernel) is out
        np.testing.assert_allclose(out, expected)


@pytest.mark.parametrize("shared", [False, True])
def test_out_may_be_part_of_an_input_split_along_k(dot, shared):
    a, b = operands(3, 5000, 4)
    expected = np.dot(a, b)
    b = mpdot.asarray(b) if shared else b
    out = b[:3]  # the first rows of b
    assert dot(a, b, out=out) is out
    np.testing.assert_allclose(out, expected)


def test_out_may_be_part_of_an_input(dot):
    a, b = operands(20, 10, 10)
    stacked = mpdot.asarray(np.vstack([a, np.zeros((10, 10))]))
    out = stacked[10:]
    dot(stacked[:20], b, out=out)
    np.testing.assert_allclose(out, np.dot(a, b))


def test_shared_inputs_and_out_are_used_in_place(dot):
    a, b = operands(40, 30, 20)
    out = mpdot.empty((40, 20))
    assert dot(mpdot.asarray(a), mpdot.asarray(b), out=out) is out
    assert_matches_numpy(out, a, b)


@pytest.mark.parametrize("m, k, n", [(40, 30, 20), (3, 5000, 4)], ids=["rows", "along-k"])
def test_a_repeated_request_reads_the_operands_new_values(pool, m, k, n):
    # Workers keep their views of the blocks of a request sent again byte for byte.
    a, b = (mpdot.asarray(x) for x in operands(m, k, n))
    out = mpdot.empty((m, n))
    for seed in range(3):
        a[...] = random_array(a.shape, float, seed)
        b[-1] = seed
        for kernel in ("blas", "blas", "naive", "naive"):
            out[...] = np.nan
            assert pool.dot(a, b, out=out, kernel=kernel) is out
            assert_matches_numpy(out, a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.complex128, np.float16])
def test_splitting_along_k_matches_numpy(dot, dtype):
    a, b = operands(3, 5000, 4, dtype)  # a short, wide a: workers take slices of k
    assert_matches_numpy(dot(a, b), a, b)


def test_more_workers_than_rows(dot):
    a, b = operands(1, 7, 300)
    assert_matches_numpy(dot(a, b), a, b)


def test_unaligned_operands(dot):
    a, b = operands(5, 6, 7)
    raw = np.zeros(a.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, a.dtype, count=a.size, offset=1).reshape(a.shape)
    np.copyto(unaligned, a)
    assert not unaligned.flags.aligned
    assert_matches_numpy(dot(unaligned, b), a, b)


def test_small_products_run_in_the_caller(monkeypatch):
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS", 10**9)
    with mpdot.Pool(2) as pool:
        a, b = operands(30, 30, 30)
        assert_matches_numpy(pool.dot(a, b), a, b)
        assert pool._workers._processes == []


@pytest.mark.parametrize(
    "dtype, kernel, on_workers",
    [
        (np.float64, "blas", False),
        (np.complex64, "blas", False),
        (np.int64, "blas", True),
        (np.float16, "blas", True),
        (np.float64, "naive", True),
    ],
)
def test_only_products_numpy_runs_on_blas_threads_wait_for_the_larger_threshold(
    monkeypatch, dtype, kernel, on_workers
):
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS", 10**9)
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS_WITHOUT_BLAS", 1)
    with mpdot.Pool(2) as pool:
        a, b = operands(30, 30, 30, dtype)
        assert_matches_numpy(pool.dot(a, b, kernel=kernel), a, b)
        assert bool(pool._workers._processes) == on_workers


def test_the_default_pool_is_not_started_on_one_cpu(monkeypatch):
    monkeypatch.setattr("mpdot._default.available_cpus", lambda: 1)
    monkeypatch.setattr("mpdot._default._pool", None)
    a, b = operands(30, 30, 30)
    assert_matches_numpy(mpdot.dot(a, b), a, b)
    with pytest.raises(ValueError, match="shape"):
        mpdot.dot(a, b[:5])
    assert mpdot._default._pool is None
    assert_matches_numpy(mpdot.dot(a, b, nprocesses=1), a, b)  # asked for: a worker
    assert mpdot._default._pool.nprocesses == 1 and mpdot._default._pool._workers.started
    mpdot._default._pool.close()


def test_forked_workers_inherit_the_first_calls_inputs():
    a, b = operands(40, 30, 20)
    with mpdot.Pool(2, start_method="fork") as pool:
        assert_matches_numpy(pool.dot(a, b), a, b)
        assert "a" not in pool._staging and "b" not in pool._staging  # nothing copied
        a2, b2 = operands(40, 30, 20, np.float32)
        assert_matches_numpy(pool.dot(a2, b2), a2, b2)  # later calls go through shared memory
        assert "a" in pool._staging


def test_repeated_calls_reuse_the_workers(pool):
    pids = None
    for seed in range(5):
        a, b = random_array((30, 20), float, seed), random_array((20, 10), float, seed + 1)
        assert_matches_numpy(pool.dot(a, b), a, b)
        current = [process.pid for process in pool._workers._processes]
        assert pids is None or current == pids
        pids = current
