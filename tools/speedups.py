"""numpy.dot time / contender time, measured as the suite's SpeedupOverNumpy measures it, on chosen cells.

Usage: python tools/speedups.py [--shapes S ...] [--dtypes D ...] [--contenders C ...] [--workers 2] [--runs 3]

A shape is one of the suite's names (benchmarks/common.py SHAPES) or MxKxN. Each
cell is timed alternately against numpy.dot on as many BLAS threads, with
OpenBLAS's helpers asleep before each side; prints `runs` medians per cell,
with the BLAS kernel threadpoolctl reports. The direct check beside `make bench`.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from threadpoolctl import threadpool_info  # noqa: E402

from benchmarks import common  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="*", default=["square_256"])
    parser.add_argument("--dtypes", nargs="*", default=common.DTYPES)
    parser.add_argument("--contenders", nargs="*", default=["mpdot_shared", "mpdot_copied", "cydot_blocked"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"numpy.dot time / contender time, {args.workers} workers, OpenBLAS {openblas_kernels()}")
    for shape in args.shapes:
        if shape not in common.SHAPES:
            common.SHAPES[shape] = tuple(int(size) for size in shape.split("x"))
        for dtype in args.dtypes:
            baseline = common.NumpyDot(shape, args.workers, dtype)
            for name in args.contenders:
                try:
                    contender = common.CONTENDERS[name](shape, args.workers, dtype)
                except common.SkipNotImplemented as reason:
                    print(f"  {shape} {dtype} {name}: skipped, {reason}", flush=True)
                    continue
                ratios = speedups(contender, baseline, args.runs)
                print(f"  {shape} {dtype} {name}: " + " ".join(f"{r:.2f}" for r in ratios), flush=True)
                del contender  # its workers stop before the next contender's start


def speedups(contender, baseline, runs):
    """`runs` medians of numpy.dot time / contender time, each over alternating rounds."""
    return [common.interleaved_speedup(contender, baseline, budget=1.0, at_least=7) for _ in range(runs)]


def openblas_kernels():
    """The OpenBLAS kernel sets threadpoolctl reports loaded, e.g. "SkylakeX"."""
    return ", ".join(sorted({str(i.get("architecture")) for i in threadpool_info() if i["internal_api"] == "openblas"}))


if __name__ == "__main__":
    main()
