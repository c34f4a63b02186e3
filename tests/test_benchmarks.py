"""The asv suite imports and runs: a broken benchmark fails the gate, not the next nightly run."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarks import bench_cydot, bench_dot, bench_memory, bench_pool, common

ROOT = Path(__file__).resolve().parent.parent


def asv(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "asv", *arguments, "--config", str(ROOT / "asv.conf.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_suite_passes_asv_check():
    completed = asv("check", "--python=same")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_benchmark_runs_once():
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], check=True, capture_output=True)
    completed = asv("run", "--python=same", "--quick", "--dry-run", "--show-stderr")
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "failed" not in output, output


@pytest.mark.parametrize("name", list(common.CONTENDERS))
def test_every_contender_computes_the_product(name):
    with threadpool_limits(limits=None):  # numpy.dot's contender sets this process's BLAS threads
        compute = common.CONTENDERS[name]("square_64", 2, "float64")
        result = compute()
    np.testing.assert_allclose(result, np.dot(compute.a, compute.b))


BENCHMARK_CLASSES = [
    bench_dot.Dot,
    bench_dot.Throughput,
    bench_dot.SpeedupOverNumpy,
    bench_dot.SpeedupOverOriginalAnswer,
    bench_cydot.SpeedupPerLevel,
    bench_memory.PeakMemory,
    bench_pool.PoolStart,
    bench_pool.RoundTrip,
]


@pytest.mark.parametrize("benchmark", BENCHMARK_CLASSES, ids=lambda benchmark: benchmark.__name__)
def test_every_graph_opens_on_a_measured_combination(benchmark):
    """The dashboard first shows each parameter's first value: that combination must not be skipped."""
    params = benchmark.params if isinstance(benchmark.params[0], list) else [benchmark.params]
    with threadpool_limits(limits=None):  # numpy.dot's contender sets this process's BLAS threads
        benchmark().setup(*(values[0] for values in params))  # SkipNotImplemented would fail it
