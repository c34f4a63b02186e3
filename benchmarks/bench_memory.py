"""Memory a contender needs beyond its inputs, worker processes included."""

import gc
import sys

from .common import CONTENDERS, SHAPES, SkipNotImplemented, contender, operands, peak_memory_during


class PeakMemory:
    """Peak memory above the inputs while setting up a contender and computing once.

    asv's own peakmem_ counts only the benchmark process; this sums the
    proportional set size of the process and its workers, sampled every 1 ms,
    so shared-memory inputs count once. Workers' interpreters are included.
    """

    params = [list(SHAPES), list(CONTENDERS)]
    param_names = ["shape", "implementation"]
    timeout = 300
    rounds = 1
    version = "2"  # 1 had mpdot_copied allocate its result while computing, not while set up

    def setup(self, shape, implementation):
        if not sys.platform.startswith("linux"):
            raise SkipNotImplemented("reads /proc")
        operands(shape, "float64")
        gc.collect()

    def track_peak_memory(self, shape, implementation):
        def set_up_and_compute():
            contender(implementation, shape, 2, "float64")()

        before = peak_memory_during(gc.collect)
        return peak_memory_during(set_up_and_compute) - before

    track_peak_memory.unit = "bytes"
