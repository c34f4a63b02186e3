"""mpdot's round trip: a 64³ product forced onto the workers, back to back and after an idle spell.

Usage: python tools/round_trip.py [--workers 1 2 4 8] [--inputs shared copied] [--runs 5]

Each run prints the median of `calls` calls back to back and of `idle_calls`
calls each made `idle` seconds after the last, in µs, with the BLAS kernel
threadpoolctl reports. Below mpdot.MIN_WORKER_FLOPS a product runs in the
caller; here every product goes to the workers, which is the overhead every
product pays. The direct check beside the suite's RoundTrip benchmark.
"""

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np  # noqa: E402

import mpdot  # noqa: E402
from mpdot import _pool  # noqa: E402
from tools.speedups import openblas_kernels  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--inputs", nargs="*", choices=["shared", "copied"], default=["shared"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--idle-calls", type=int, default=100)
    parser.add_argument("--idle", type=float, default=0.02, help="seconds asleep before each idle call")
    args = parser.parse_args(argv)
    for option in ("runs", "calls", "idle_calls"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if args.idle < 0:
        parser.error(f"--idle must be 0 or more seconds, got {args.idle}")
    _pool.MIN_WORKER_FLOPS = 0
    print(f"64³ round trip, µs (back to back | after {args.idle * 1e3:g} ms idle), OpenBLAS {openblas_kernels()}")
    for workers in args.workers:
        for inputs in args.inputs:
            medians = round_trips(workers, inputs, args)
            print(f"  {workers} workers, {inputs}: " + " ".join(f"{b:.0f}|{i:.0f}" for b, i in medians), flush=True)


def round_trips(workers, inputs, args):
    """`args.runs` pairs of medians (back to back, after idle) in µs, on one pool."""
    rng = np.random.default_rng(0)
    a, b, out = rng.random((64, 64)), rng.random((64, 64)), None
    if inputs == "shared":
        a, b, out = mpdot.asarray(a), mpdot.asarray(b), mpdot.empty((64, 64))
    with mpdot.Pool(workers) as pool:
        product = functools.partial(pool.dot, a, b, out=out)
        for _ in range(min(200, args.calls)):
            product()
        return [
            (median_microseconds(product, args.calls, 0.0), median_microseconds(product, args.idle_calls, args.idle))
            for _ in range(args.runs)
        ]


def median_microseconds(product, calls, idle):
    """The median time of `calls` calls of `product`, each after `idle` seconds asleep, in µs."""
    times = []
    for _ in range(calls):
        if idle:
            time.sleep(idle)
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


if __name__ == "__main__":
    main()
