"""cydot at each instruction-set level it was built for, against numpy.dot on as many threads."""

from .common import (
    ORIGINAL_SHAPE,
    SkipNotImplemented,
    contender,
    cydot,
    interleaved_speedup,
    operands,
    require,
)

LEVELS = ["x86-64-v4", "x86-64-v3", "baseline"]


class SpeedupPerLevel:
    """numpy.dot time / cydot blocked time with the kernels of one level (> 1: faster).

    The level is what CYDOT_LEVEL would force; this process uses nothing else.
    """

    # 2000³ at the baseline level takes seconds a call: the best level has it in bench_dot.
    params = [LEVELS, [ORIGINAL_SHAPE, "square_1000"], [1, 2], ["float32", "float64"]]
    param_names = ["level", "shape", "threads", "dtype"]
    timeout = 300
    rounds = 1
    version = "2"  # 1 timed single calls, without waiting for OpenBLAS's threads to sleep

    def setup(self, level, shape, threads, dtype):
        require(cydot)
        if level not in cydot.info()["runnable_levels"]:
            raise SkipNotImplemented(f"{level} is not built or this CPU cannot run it")
        cydot._api.kernels = cydot._levels.load(level)
        a, b = operands(shape, dtype)
        self.compute = lambda: cydot.dot(a, b, nthreads=threads)
        self.baseline = contender("numpy.dot", shape, threads, dtype)

    def track_speedup(self, level, shape, threads, dtype):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"
