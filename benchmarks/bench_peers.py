"""The peers beside mpdot and cydot: speed-up over numpy.dot on 2 workers, the same shapes, one run.

Measured where they tell something: the square shapes from 256³ and the
original answer's shape, float32 and float64; the naive peer on float64 up to
1000³ only, as the other naive kernels. bench_dot measures mpdot and cydot.
"""

from .common import DTYPES, NAIVE_MAX_FLOPS, ORIGINAL_SHAPE, SkipNotImplemented, contender, flops, interleaved_speedup
from .peers import NAIVE_PEERS, PEERS

PEER_SHAPES = [ORIGINAL_SHAPE, "square_256", "square_1000", "square_2000"]
PEER_WORKERS = 2


class PeersSpeedup:
    """numpy.dot time / peer time, timed alternately in one process (> 1: faster)."""

    params = [PEER_SHAPES, DTYPES, list(PEERS)]
    param_names = ["shape", "dtype", "implementation"]
    timeout = 300
    rounds = 1
    version = "1"
    compute = None  # until setup has made the peer

    def setup(self, shape, dtype, implementation):
        if implementation in NAIVE_PEERS and (flops(shape) > NAIVE_MAX_FLOPS or dtype != "float64"):
            raise SkipNotImplemented("the naive kernels are measured on small float64 products")
        self.compute = PEERS[implementation](shape, PEER_WORKERS, dtype)
        # Set up after the peer, so numpy.dot's BLAS thread limit is the one in force.
        self.baseline = contender("numpy.dot", shape, PEER_WORKERS, dtype)

    def teardown(self, shape, dtype, implementation):
        # A track_ benchmark's process runs setup and teardown once: the peer's
        # processes, segments and files must not outlive it.
        if self.compute is not None:
            self.compute.close()

    def track_speedup(self, shape, dtype, implementation):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"
