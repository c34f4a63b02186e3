"""Matrix products: wall time, throughput, and speed-up over numpy.dot, for every contender."""

from .common import (
    CONTENDERS,
    DTYPES,
    SHAPES,
    WORKERS,
    SkipNotImplemented,
    contender,
    flops,
    interleaved_speedup,
    median_seconds,
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

    def time_dot(self, shape, workers, dtype, implementation):
        self.compute()


class Throughput(_Product):
    """Floating-point operations per second, 2·m·k·n over the median wall time."""

    def track_gflops(self, shape, workers, dtype, implementation):
        return flops(shape) / median_seconds(self.compute) / 1e9

    track_gflops.unit = "GFLOP/s"


class SpeedupOverNumpy(_Product):
    """numpy.dot time / contender time, timed alternately in one process (> 1: faster).

    Caveat: OpenBLAS's helper threads keep spinning for a while after each
    baseline call and slow the contender's next call when workers fill every
    core (2 workers on 2 CPUs: mpdot 0.49 here against 0.96 from time_dot at
    1000³). Drift cancels, but for that case compare time_dot instead.
    """

    def setup(self, shape, workers, dtype, implementation):
        if implementation == "numpy.dot":
            raise SkipNotImplemented("the baseline itself")
        super().setup(shape, workers, dtype, implementation)
        # Set up after the contender, so its BLAS thread limit is the one in force.
        self.baseline = contender("numpy.dot", shape, workers, dtype)

    def track_speedup(self, shape, workers, dtype, implementation):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"
