"""mpdot's fixed costs: starting a pool, and one round trip to its workers."""

import functools

import numpy as np

from .common import mpdot, mpdot_pool, require

START_METHODS = ["fork", "forkserver", "spawn"]


@functools.lru_cache(maxsize=1)
def shared_operands(size):
    rng = np.random.default_rng(0)
    return mpdot.asarray(rng.random((size, size))), mpdot.asarray(rng.random((size, size)))


class PoolStart:
    """Creating a pool, starting its two workers with a first 256³ product, and closing it."""

    params = [START_METHODS]
    param_names = ["start_method"]
    rounds = 1
    repeat = (3, 5, 10.0)
    version = "1"

    def setup(self, start_method):
        require(mpdot)
        self.a, self.b = shared_operands(256)

    def time_start_compute_close(self, start_method):
        with mpdot.Pool(2, start_method=start_method) as pool:
            pool.dot(self.a, self.b)


@functools.lru_cache(maxsize=1)
def round_trip(inputs):
    """A warm two-worker pool and 64³ operands, shared or plain."""
    a, b = shared_operands(64)
    out = mpdot.empty((64, 64))
    if inputs == "copied":
        a, b, out = np.array(a), np.array(b), None
    pool = mpdot.Pool(2)
    pool.dot(a, b, out=out)
    return functools.partial(pool.dot, a, b, out=out)


class RoundTrip:
    """One 64³ product sent to two workers, though mpdot would compute it in the caller.

    This is the per-call overhead every product pays; the target is ≤ 150 µs.
    """

    params = [["shared", "copied"]]
    param_names = ["inputs"]
    rounds = 1
    repeat = (5, 25, 2.0)
    version = "1"

    def setup(self, inputs):
        require(mpdot)
        mpdot_pool.MIN_WORKER_FLOPS = 0  # this process only benchmarks the round trip
        self.compute = round_trip(inputs)

    def time_round_trip(self, inputs):
        self.compute()
