"""Matrix products: wall time and speed-up over numpy.dot, for every contender.

GFLOP/s are 2·m·k·n over `Dot`'s times (tools/report.py draws them): a class
that timed the same calls again for them took a fifth of the suite's time.
"""

from .common import (
    CONTENDERS,
    DTYPES,
    ORIGINAL_SHAPE,
    SHAPES,
    SPLITTING_WORKERS,
    WORKERS,
    contender,
    interleaved_speedup,
)


class _Product:
    params = [list(SHAPES), WORKERS, DTYPES, list(CONTENDERS)]
    param_names = ["shape", "workers", "dtype", "implementation"]
    timeout = 300
    rounds = 1
    version = "1"

    def setup(self, shape, workers, dtype, implementation):
        self.compute = contender(implementation, shape, workers, dtype)


class Dot(_Product):
    """Wall time of one product (asv's default timer: worker processes' time included)."""

    repeat = (5, 25, 2.0)
    version = "2"  # 1 had mpdot_copied and a pool per call allocate a new result every call, numpy.dot not

    def time_dot(self, shape, workers, dtype, implementation):
        self.compute()


class SpeedupOverNumpy(_Product):
    """numpy.dot time / contender time, timed alternately in one process (> 1: faster).

    On worker counts that split the product; on one, Dot has both sides.
    Not at 64³, where mpdot computes in the caller and a new pool costs
    hundreds of products: Dot has both sides there.
    """

    params = [
        [shape for shape in SHAPES if shape != "square_64"],
        SPLITTING_WORKERS,
        DTYPES,
        [name for name in CONTENDERS if name != "numpy.dot"],
    ]
    # 1 timed single calls, without waiting for OpenBLAS's threads to sleep;
    # 2 had mpdot_copied and a pool per call allocate a new result every call, numpy.dot not.
    version = "3"

    def setup(self, shape, workers, dtype, implementation):
        super().setup(shape, workers, dtype, implementation)
        # Set up after the contender, so its BLAS thread limit is the one in force.
        self.baseline = contender("numpy.dot", shape, workers, dtype)

    def track_speedup(self, shape, workers, dtype, implementation):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"


class SpeedupOverOriginalAnswer:
    """The original answer's time / a pool per call's time, on its own shape, timed alternately.

    Both fork a new pool for every call; mpdot's workers split along k and call
    BLAS, the original's compute each column as a multiply-then-sum.
    """

    params = [WORKERS]
    param_names = ["workers"]
    timeout = 300
    rounds = 1
    version = "1"

    def setup(self, workers):
        self.compute = contender("mpdot_pool_per_call", ORIGINAL_SHAPE, workers, "float64")
        self.baseline = contender("original_answer", ORIGINAL_SHAPE, workers, "float64")

    def track_speedup(self, workers):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"
