"""What every benchmark shares: named shapes, cached inputs, the contenders, and measuring helpers.

numpy.dot, with as many BLAS threads as the contender has workers, is the
baseline in every comparison.
"""

import functools
import importlib
import os
import statistics
import threading
import timeit

import numpy as np
from threadpoolctl import threadpool_limits

from . import original_answer
from .idle_threads import wait_for_other_threads_to_sleep

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:
    SkipNotImplemented = NotImplementedError


def safe_import(name):
    """The module, or None on commits from before it existed (params must not depend on it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


mpdot = safe_import("mpdot")
mpdot_pool = safe_import("mpdot._pool")
cydot = safe_import("cydot")

# (m, k, n): a is m×k and b is k×n.
ORIGINAL_SHAPE = "original_50x100000x60"  # the original answer's test
SHAPES = {
    ORIGINAL_SHAPE: (50, 100_000, 60),
    "square_64": (64, 64, 64),
    "square_256": (256, 256, 256),
    "square_1000": (1000, 1000, 1000),
    "square_2000": (2000, 2000, 2000),
    "tall_skinny_20000x256x32": (20_000, 256, 32),
}


def cpu_count():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def worker_counts(cpus):
    """1, 2, 4, … below `cpus`, then `cpus`: how a product scales as workers double, up to the machine.

    2 is always measured, oversubscribed on one CPU, so that every machine
    answers whether splitting pays. Results are kept per machine, so the
    counts may differ between machines: 1 and 2 here, 1 to 32 in 6 steps on 32.
    """
    counts = [1, 2]
    while counts[-1] * 2 < cpus:
        counts.append(counts[-1] * 2)
    return sorted({*counts, cpus})


WORKERS = worker_counts(cpu_count())
SPLITTING_WORKERS = WORKERS[1:]  # the counts that split a product
DTYPES = ["float32", "float64"]

# The naive kernels take seconds a call beyond small squares: they are measured
# there and on the original answer's own shape, in float64 as it was.
NAIVE_SHAPES = [ORIGINAL_SHAPE, "square_64", "square_256"]
NAIVE_SKIP_REASON = "the naive kernels are measured in float64 on small squares and the original shape"


def measures_naive(shape, dtype):
    return shape in NAIVE_SHAPES and dtype == "float64"


def flops(shape):
    m, k, n = SHAPES[shape]
    return 2 * m * k * n


@functools.lru_cache(maxsize=4)
def operands(shape, dtype):
    """Fixed-seed random a and b for a named shape, in [0, 1) (real and imaginary parts)."""
    m, k, n = SHAPES[shape]
    rng = np.random.default_rng(20261125)
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        part = np.dtype(f"f{dtype.itemsize // 2}")
        return tuple(
            (rng.random(size, dtype=part) + 1j * rng.random(size, dtype=part)).astype(dtype)
            for size in [(m, k), (k, n)]
        )
    return rng.random((m, k), dtype=dtype), rng.random((k, n), dtype=dtype)


class Contender:
    """One way of computing a @ b, set up outside the timed region; calling it returns a @ b.

    Worker pools it starts are closed when it is collected or at exit.
    """

    def __init__(self, shape, workers, dtype):
        self.a, self.b = operands(shape, dtype)


class NumpyDot(Contender):
    """numpy.dot with `workers` BLAS threads."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        self.out = np.empty((self.a.shape[0], self.b.shape[1]), dtype)
        threadpool_limits(workers, user_api="blas")

    def __call__(self):
        return np.dot(self.a, self.b, out=self.out)


class MpdotPersistent(Contender):
    """A persistent mpdot.Pool with `workers` processes, started before timing."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        require(mpdot)
        self.pool = mpdot.Pool(workers)


class MpdotShared(MpdotPersistent):
    """Inputs and out already in shared memory: nothing is copied."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        if flops(shape) < mpdot_pool.MIN_WORKER_FLOPS:
            # Its segments would then outlive the benchmark process, which asv
            # ends with os._exit, and the resource tracker would warn of a leak.
            raise SkipNotImplemented(
                "mpdot computes this product in the caller, where shared inputs are "
                "plain arrays: mpdot_copied measures it"
            )
        self.a, self.b = mpdot.asarray(self.a), mpdot.asarray(self.b)
        self.out = mpdot.empty((self.a.shape[0], self.b.shape[1]), dtype)
        self()  # start the workers and map the segments

    def __call__(self):
        return self.pool.dot(self.a, self.b, out=self.out)


class MpdotCopied(MpdotPersistent):
    """Plain numpy inputs and out: inputs copied into the pool's shared buffers, the result out of one.

    `out` is allocated once, as numpy.dot's is: faulting in a new result's
    pages took 0.4 ms a call at 256³ in float64 on a Zen 3 VM, beside 0.54 ms
    for numpy.dot itself.
    """

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        self.out = np.empty((self.a.shape[0], self.b.shape[1]), dtype)
        self()  # start the workers and allocate the buffers

    def __call__(self):
        return self.pool.dot(self.a, self.b, out=self.out)


class OriginalAnswer(Contender):
    """The answer mpdot grew from: a new fork pool per call and a per-column multiply-and-sum."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        self.workers = workers

    def __call__(self):
        return original_answer.dot(self.a, self.b, self.workers)


class MpdotPoolPerCall(Contender):
    """The original answer's style: a new fork pool for every call, BLAS kernel, a plain out."""

    kernel = "blas"

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        require(mpdot)
        self.out = np.empty((self.a.shape[0], self.b.shape[1]), dtype)
        self.workers = workers

    def __call__(self):
        with mpdot.Pool(self.workers, start_method="fork") as pool:
            return pool.dot(self.a, self.b, out=self.out, kernel=self.kernel)


class MpdotNaive(MpdotPoolPerCall):
    """The original answer's design rebuilt on mpdot: a fork pool per call, the naive kernel."""

    kernel = "naive"


class CydotBlocked(Contender):
    """cydot's blocked kernel on `workers` threads."""

    kernel = "blocked"

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        require(cydot)
        self.out = np.empty((self.a.shape[0], self.b.shape[1]), dtype)
        self.workers = workers

    def __call__(self):
        return cydot.dot(self.a, self.b, out=self.out, nthreads=self.workers, kernel=self.kernel)


class CydotNaive(CydotBlocked):
    """cydot's textbook triple loop on `workers` threads."""

    kernel = "naive"


# asv's graphs open on each parameter's first value: numpy.dot where it is
# measured, mpdot_shared where numpy.dot is the baseline (SpeedupOverNumpy).
CONTENDERS = {
    "numpy.dot": NumpyDot,
    "mpdot_shared": MpdotShared,
    "mpdot_copied": MpdotCopied,
    "cydot_blocked": CydotBlocked,
    "mpdot_pool_per_call": MpdotPoolPerCall,
    "original_answer": OriginalAnswer,
    "mpdot_naive": MpdotNaive,
    "cydot_naive": CydotNaive,
}
NAIVE = {"original_answer", "mpdot_naive", "cydot_naive"}


def require(module):
    if module is None:
        raise SkipNotImplemented("not in this commit")


# asv_runner >= 0.3 re-runs setup() before every timed call: caching keeps that
# cheap and the contender warm (a benchmark process runs one parameter set, and
# a speed-up comparison needs two contenders).
@functools.lru_cache(maxsize=2)
def contender(name, shape, workers, dtype):
    """Set up `name` for these parameters, or skip combinations that make no sense or take minutes."""
    if name in NAIVE and not measures_naive(shape, dtype):
        raise SkipNotImplemented(NAIVE_SKIP_REASON)
    return CONTENDERS[name](shape, workers, dtype)


def interleaved_speedup(function, baseline, budget=0.3, at_least=3, at_most=15, quick_call=0.02):
    """Median over alternating rounds of baseline time / function time (> 1: faster).

    Alternating rounds make drift hit both alike. A round times each side once,
    or a side whose first call took under `quick_call` seconds five times back
    to back, keeping the median: here the first one or two calls after an idle
    spell can wait 4-8 ms for a sleeping thread or process to wake. Each side
    starts once this process's other threads are asleep: OpenBLAS's helpers spin
    ~0.1 s after a call and would take a core from the contender (mpdot on 2
    workers read 0.49 at 1000³ instead of 0.96). The contender goes first in a
    round, so that only numpy.dot's helpers are waited for, once a round. A side
    that runs in another process times itself there: it has a
    ``median_seconds(calls)`` method.
    """
    function_time = side_seconds(function, 1)
    baseline_time = side_seconds(baseline, 1)
    function_calls, baseline_calls = (
        calls_per_round(seconds, quick_call) for seconds in (function_time, baseline_time)
    )
    # Timed as a round would time them, these calls are the first round.
    ratios = [baseline_time / function_time] if function_calls == baseline_calls == 1 else []
    started = timeit.default_timer()
    while len(ratios) < at_least or (
        len(ratios) < at_most and timeit.default_timer() - started < budget
    ):
        function_time = side_seconds(function, function_calls)
        baseline_time = side_seconds(baseline, baseline_calls)
        ratios.append(baseline_time / function_time)
    return statistics.median(ratios)


def calls_per_round(seconds, quick_call=0.02):
    """How many calls a round times back to back on a side whose call took `seconds`."""
    return 5 if seconds < quick_call else 1


def side_seconds(side, calls):
    """Median time of `calls` calls of one side, started once this process's other threads are asleep."""
    wait_for_other_threads_to_sleep()
    if hasattr(side, "median_seconds"):
        return side.median_seconds(calls)
    return statistics.median(_timed(side) for _ in range(calls))


def _timed(function):
    start = timeit.default_timer()
    function()
    return timeit.default_timer() - start


def peak_memory_during(function, interval=0.001):
    """Peak proportional set size (bytes) of this process and its children while `function` runs.

    PSS splits each shared page among the processes mapping it, so shared-memory
    inputs are counted once, not once per worker. Sampled every `interval` s.
    """
    peak = _total_pss()
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.wait(interval):
            peak = max(peak, _total_pss())

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        function()
    finally:
        done.set()
        sampler.join()
    return max(peak, _total_pss())


def _total_pss():
    total = 0
    for pid in [os.getpid(), *_children(os.getpid())]:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError):  # a worker that just exited
            pass
    return total


def _children(pid):
    """Every descendant of `pid` (forkserver workers are grandchildren)."""
    children = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:  # it just exited
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as file:
                children += [int(child) for child in file.read().split()]
        except FileNotFoundError:  # a thread that just ended
            pass
    return children + [grandchild for child in children for grandchild in _children(child)]
