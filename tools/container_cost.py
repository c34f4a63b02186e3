"""What mpdot's shared memory costs where it lives: numpy.dot time / mpdot time, plain inputs.

Usage: python tools/container_cost.py [LABEL]

Times mpdot with plain (copied) inputs on 2 workers against numpy.dot on 2
BLAS threads, interleaved with OpenBLAS's helpers asleep before each side
(benchmarks/common.py), three medians per cell. Run it as docs/containers.md
says: as it is, in a private 64 MB /dev/shm, and with MPDOT_SHARED_MEMORY=/dev/shm there.
"""

import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from speedups import openblas_kernels, speedups  # noqa: E402

from benchmarks import common  # noqa: E402

SHAPES = ["original_50x100000x60", "square_2000"]
DTYPES = ["float64", "float32"]
RUNS = 3


def main(argv=None):
    label = " ".join(argv if argv is not None else sys.argv[1:]) or "here"
    where = os.environ.get("MPDOT_SHARED_MEMORY", "memfd")
    print(f"{label}: shared memory in {where}, OpenBLAS {openblas_kernels()}")
    # A product that does not fit is computed in the caller, with a warning per call.
    warnings.simplefilter("ignore", RuntimeWarning)
    for shape in SHAPES:
        for dtype in DTYPES:
            baseline = common.NumpyDot(shape, 2, dtype)
            contender = common.MpdotCopied(shape, 2, dtype)
            ratios = speedups(contender, baseline, RUNS)
            print(f"  {shape} {dtype}: " + " ".join(f"{ratio:.2f}" for ratio in ratios), flush=True)


if __name__ == "__main__":
    main()
