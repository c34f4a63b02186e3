"""cydot at each instruction-set level it was built for, against OpenBLAS's kernels for the same instructions."""

import numpy as np

from .common import (
    ORIGINAL_SHAPE,
    SkipNotImplemented,
    cydot,
    interleaved_speedup,
    operands,
    require,
)
from .openblas_kernels import CORETYPES, NumpyDotOnCoretype

# baseline first: the dashboard opens each graph on its first value, and every
# x86-64 CPU runs baseline (one without AVX-512 skips x86-64-v4).
LEVELS = ["baseline", "x86-64-v3", "x86-64-v4"]


class SpeedupPerLevel:
    """numpy.dot time / cydot blocked time, both on one level's instructions (> 1: faster).

    The level is what CYDOT_LEVEL would force; this process uses nothing else.
    numpy.dot runs in a helper process started with OPENBLAS_CORETYPE set to the
    level's OpenBLAS kernels (openblas_kernels.CORETYPES), so a slower kernel at
    one level shows here even where numpy's default kernels are faster.
    """

    # 2000³ at the baseline level takes seconds a call: the best level has it in bench_dot.
    params = [LEVELS, [ORIGINAL_SHAPE, "square_1000"], [1, 2], ["float32", "float64", "complex128"]]
    param_names = ["level", "shape", "threads", "dtype"]
    timeout = 300
    rounds = 1
    # 2 compared every level with numpy.dot's default kernels, in this process,
    # and cydot allocated its result on every call; 3 listed x86-64-v4 first
    version = "4"
    baseline = None  # until setup has started the helper

    def setup(self, level, shape, threads, dtype):
        require(cydot)
        if level not in cydot.info()["runnable_levels"]:
            raise SkipNotImplemented(f"{level} is not built or this CPU cannot run it")
        if shape == ORIGINAL_SHAPE and threads > 1:
            raise SkipNotImplemented(
                "on two threads the original shape weighs how OpenBLAS splits a 50×60 output, not "
                "its kernels (cydot read 2.1–2.4× at x86-64-v4): bench_dot compares the two there"
            )
        if dtype == "complex128" and (shape == ORIGINAL_SHAPE or threads > 1):
            raise SkipNotImplemented(
                "complex products are measured at 1000³ on one thread: the original answer's "
                "is real, and two threads split complex tiles as they split real ones"
            )
        cydot._api.kernels = cydot._levels.load(level)
        a, b = operands(shape, dtype)
        out = np.empty((a.shape[0], b.shape[1]), dtype)  # as the helper's numpy.dot has
        self.compute = lambda: cydot.dot(a, b, out=out, nthreads=threads)
        self.baseline = NumpyDotOnCoretype(a, b, threads, CORETYPES[level])
        if str(self.baseline.architecture).lower() != CORETYPES[level].lower():
            self.baseline.close()
            raise SkipNotImplemented(
                f"numpy's BLAS ran {self.baseline.architecture} kernels when asked for "
                f"OpenBLAS's {CORETYPES[level]}: no same-instruction baseline here"
            )

    def teardown(self, level, shape, threads, dtype):
        if self.baseline is not None:
            self.baseline.close()

    def track_speedup(self, level, shape, threads, dtype):
        return interleaved_speedup(self.compute, self.baseline)

    track_speedup.unit = "x"
