"""The peers beside mpdot and cydot: speed-up over numpy.dot on each splitting worker count, one run.

Measured where they tell something: the square shapes from 256³ and the
original answer's shape, float32 and float64; the naive peer where the other
naive kernels are measured. bench_dot measures mpdot and cydot.
"""

from .common import (
    DTYPES,
    NAIVE_SKIP_REASON,
    ORIGINAL_SHAPE,
    SPLITTING_WORKERS,
    SkipNotImplemented,
    contender,
    interleaved_speedup,
    measures_naive,
)
from .peers import NAIVE_PEERS, PEERS

PEER_SHAPES = [ORIGINAL_SHAPE, "square_256", "square_1000", "square_2000"]
# Left out where a neighbouring shape already shows where a peer stands, so
# that the quick dry run stays under 3 minutes. At 2000³ numba's unblocked loop
# takes seconds a call (0.12× numpy.dot, 7 s a benchmark process); BLIS's
# portable kernels, which its wheel runs on this CPU, read as at 1000³
# (0.34–0.37×); threads_numpy matches numpy.dot as at 1000³, and dask_threads
# closes in on it (0.92–0.98× against 0.79–0.85×). At 256³ a dask.distributed
# call is its scheduling round trip (0.01–0.02× numpy.dot).
LEFT_OUT = {
    ("square_2000", "numba_prange"),
    ("square_2000", "blis"),
    ("square_2000", "threads_numpy"),
    ("square_2000", "dask_threads"),
    ("square_256", "dask_distributed"),
}
# A dask.distributed cell starts a cluster (2 s of its 3.5): in float32 it read
# as in float64 or lower (0.25–0.55× against 0.30–0.65×, 2026-12-01).
FLOAT64_ONLY = {"dask_distributed"}


class PeersSpeedup:
    """numpy.dot time / peer time, timed alternately in one process (> 1: faster)."""

    params = [PEER_SHAPES, SPLITTING_WORKERS, DTYPES, list(PEERS)]
    param_names = ["shape", "workers", "dtype", "implementation"]
    timeout = 300
    rounds = 1
    version = "2"
    compute = None  # until setup has made the peer

    def setup(self, shape, workers, dtype, implementation):
        if implementation in NAIVE_PEERS and not measures_naive(shape, dtype):
            raise SkipNotImplemented(NAIVE_SKIP_REASON)
        if (shape, implementation) in LEFT_OUT:
            raise SkipNotImplemented(f"{implementation} is left out at {shape}: it says nothing new there")
        if implementation in FLOAT64_ONLY and dtype != "float64":
            raise SkipNotImplemented(f"{implementation} is measured in float64: {dtype} says nothing new")
        self.compute = PEERS[implementation](shape, workers, dtype)
        # Set up after the peer, so numpy.dot's BLAS thread limit is the one in force.
        self.baseline = contender("numpy.dot", shape, workers, dtype)

    def teardown(self, shape, workers, dtype, implementation):
        # A track_ benchmark's process runs setup and teardown once: the peer's
        # processes, segments and files must not outlive it.
        if self.compute is not None:
            self.compute.close()

    def track_speedup(self, shape, workers, dtype, implementation):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"
