"""mpdot's fixed costs: starting a pool, and one round trip to its workers."""

import functools

import numpy as np

from .common import mpdot, mpdot_pool, require

START_METHODS = ["fork", "forkserver", "spawn"]


class PoolStart:
    """Creating a pool, starting its two workers with a first 256³ product, and closing it.

    The product goes to the workers, though mpdot would compute it in the caller.
    """

    params = [START_METHODS]
    param_names = ["start_method"]
    rounds = 1
    repeat = (3, 5, 10.0)
    version = "1"

    def setup(self, start_method):
        require(mpdot)
        mpdot_pool.MIN_WORKER_FLOPS = 0  # this process only benchmarks pool starts
        rng = np.random.default_rng(0)
        self.a, self.b = mpdot.asarray(rng.random((256, 256))), mpdot.asarray(rng.random((256, 256)))

    def teardown(self, start_method):
        # asv ends a benchmark process with os._exit: segments still alive then
        # are left to the resource tracker, which warns of a leak.
        del self.a, self.b

    def time_start_compute_close(self, start_method):
        with mpdot.Pool(2, start_method=start_method) as pool:
            pool.dot(self.a, self.b)


@functools.lru_cache(maxsize=1)
def round_trip(inputs):
    """A warm two-worker pool and 64³ operands, shared or plain."""
    rng = np.random.default_rng(0)
    a, b, out = rng.random((64, 64)), rng.random((64, 64)), None
    if inputs == "shared":
        a, b, out = mpdot.asarray(a), mpdot.asarray(b), mpdot.empty((64, 64))
    pool = mpdot.Pool(2)
    pool.dot(a, b, out=out)
    return functools.partial(pool.dot, a, b, out=out)


class RoundTrip:
    """One 64³ product sent to two workers, though mpdot would compute it in the caller.

    This is the per-call overhead every product pays (its figures: docs/mpdot.md).
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
