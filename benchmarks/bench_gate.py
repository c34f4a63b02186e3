"""What the regression gate times: a product's time relative to numpy.dot's, in one process.

This host's speed swings: at 1000³ benchmark processes a few seconds apart
differ by 10-25%, whatever they run (docs/gate.md). A contender and numpy.dot
timed a fraction of a second apart in one process see the same speed, and
numpy is pinned (asv.conf.json), so between two commits their ratio changes
only with the contender. `make bench` leaves this module out: asv would show
its ratios as seconds.
"""

import functools

from .common import calls_per_round, contender, side_seconds


@functools.lru_cache(maxsize=1)
def _calls_per_round(shape, workers, dtype, implementation):
    """Calls a round times on each side, chosen once a process: asv re-runs setup before every sample."""
    sides = (contender(implementation, shape, workers, dtype), contender("numpy.dot", shape, workers, dtype))
    return tuple(calls_per_round(side_seconds(side, 1)) for side in sides)


class _RelativeClock:
    """asv's timer for RelativeTime: it reads the sum of the relative times recorded so far."""

    def __init__(self):
        self.reading = 0.0

    def __call__(self):
        return self.reading

    def record(self, relative_time):
        self.reading += relative_time


class RelativeTime:
    """Contender time / numpy.dot time over one round as interleaved_speedup times it (< 1: faster)."""

    params = [
        ["original_50x100000x60", "square_1000", "square_2000", "tall_skinny_20000x256x32"],
        [2],
        ["float32", "float64"],
        ["mpdot_shared", "mpdot_copied", "cydot_blocked"],
    ]
    param_names = ["shape", "workers", "dtype", "implementation"]
    timer = _RelativeClock()
    number = 1
    repeat = 5
    warmup_time = 0
    timeout = 300
    version = "1"

    def setup(self, shape, workers, dtype, implementation):
        self.compute = contender(implementation, shape, workers, dtype)
        # Set up after the contender, so its BLAS thread limit is the one in force.
        self.baseline = contender("numpy.dot", shape, workers, dtype)
        self.calls = _calls_per_round(shape, workers, dtype, implementation)

    def time_relative(self, shape, workers, dtype, implementation):
        compute_calls, baseline_calls = self.calls
        ratio = side_seconds(self.compute, compute_calls) / side_seconds(self.baseline, baseline_calls)
        self.timer.record(ratio)
