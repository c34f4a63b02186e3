import functools

import numpy as np
import pytest

import cydot
import cydot._levels
import mpdot

START_METHODS = ["fork", "forkserver", "spawn"]


@pytest.fixture(autouse=True)
def workers_for_every_size(monkeypatch):
    """Send even tiny products to the workers, so small test shapes exercise them."""
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS", 0)
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS_WITHOUT_BLAS", 0)


@pytest.fixture(scope="session")
def pools():
    """One two-worker Pool per start method, created on first use and shared by all tests."""
    pools = {}
    yield lambda start_method: pools.setdefault(start_method, mpdot.Pool(2, start_method))
    for pool in pools.values():
        pool.close()


@pytest.fixture(params=START_METHODS)
def pool(request, pools):
    return pools(request.param)


CYDOT_LEVELS = cydot._levels.runnable_levels()
IMPLEMENTATIONS = [
    "mpdot.dot",
    *(f"mpdot.Pool-{method}" for method in START_METHODS),
    *(f"cydot-{level}" for level in CYDOT_LEVELS),
]


@pytest.fixture(params=IMPLEMENTATIONS)
def dot(request, pools, monkeypatch):
    """A matrix product under test, called as ``dot(a, b, out=None, kernel=None)``.

    kernel=None is the implementation's fast default; every cydot level this CPU
    runs is tested.
    """
    name = request.param
    if name == "mpdot.dot":
        implementation = functools.partial(mpdot.dot, nprocesses=2)
    elif name.startswith("mpdot.Pool-"):
        implementation = pools(name.removeprefix("mpdot.Pool-")).dot
    else:
        monkeypatch.setattr(cydot._api, "kernels", cydot._levels.load(name.removeprefix("cydot-")))
        implementation = functools.partial(cydot.dot, nthreads=2)

    def call(a, b, kernel=None, **kwargs):
        if kernel is not None:
            kwargs["kernel"] = kernel
        return implementation(a, b, **kwargs)

    return call


def assert_matches_numpy(result, a, b):
    """`result` has numpy.dot's dtype and shape, and its values up to rounding."""
    with np.errstate(invalid="ignore"):  # inf - inf in numpy.dot itself
        expected = np.dot(a, b)
    assert type(result) is np.ndarray
    assert result.dtype == expected.dtype
    assert result.shape == expected.shape
    if expected.dtype.kind in "fc":
        eps = np.finfo(expected.dtype).eps
        # Blocks sum in another order than numpy.dot: allow rounding that grows with k.
        scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
        tolerance = 4 * eps * (a.shape[1] + 1) * scale
        with np.errstate(invalid="ignore"):
            close = np.abs(result - expected) <= tolerance
        same_nonfinite = (np.isnan(result) == np.isnan(expected)) & np.where(
            np.isinf(expected), result == expected, True
        )
        assert np.all(np.where(np.isfinite(expected), close, same_nonfinite))
    else:
        np.testing.assert_array_equal(result, expected)
