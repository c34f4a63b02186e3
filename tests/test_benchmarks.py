"""The asv suite imports and runs: a broken benchmark fails the gate, not the next nightly run."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from asv.util import load_json
from threadpoolctl import threadpool_info, threadpool_limits

import cydot._api
import cydot._levels
import mpdot._workers
from benchmarks import (
    bench_cydot,
    bench_dot,
    bench_memory,
    bench_peers,
    bench_pool,
    common,
    idle_threads,
    openblas_kernels,
)

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


def test_make_bench_leaves_out_only_the_gates_relative_times():
    completed = subprocess.run(["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True)
    suite = re.search(r"asv run .*--bench '([^']+)'", completed.stdout).group(1)
    assert not re.search(suite, "bench_gate.RelativeTime.time_relative('square_1000', 2, 'float64', 'mpdot_shared')")
    assert re.search(suite, "bench_dot.Dot.time_dot('square_1000', 2, 'float64', 'mpdot_shared')")


@pytest.mark.parametrize("preset, spin", [(None, "24"), ("20", "20")])
def test_make_shortens_openblas_helpers_spin_unless_it_is_set(preset, spin, monkeypatch):
    if preset is None:
        monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", preset)
    completed = subprocess.run(
        ["make", "-s", "--eval=spin: ; @echo $$OPENBLAS_THREAD_TIMEOUT", "spin"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert completed.stdout.strip() == spin, completed.stderr


@pytest.mark.parametrize("name", list(common.CONTENDERS))
def test_every_contender_computes_the_product(name):
    with threadpool_limits(limits=None):  # numpy.dot's contender sets this process's BLAS threads
        compute = common.CONTENDERS[name]("square_64", 2, "float64")
        result = compute()
    np.testing.assert_allclose(result, np.dot(compute.a, compute.b))


def test_shared_inputs_are_skipped_where_mpdot_computes_in_the_caller(monkeypatch):
    # No worker would map their segments, which would then outlive asv's process.
    monkeypatch.undo()  # mpdot's own threshold, not conftest's 0
    with pytest.raises(common.SkipNotImplemented, match="in the caller"):
        common.CONTENDERS["mpdot_shared"]("square_64", 2, "float64")


def test_pool_start_sends_its_product_to_the_workers(monkeypatch):
    monkeypatch.setattr("mpdot._pool.MIN_WORKER_FLOPS", mpdot.MIN_WORKER_FLOPS)  # 256³ in the caller
    starts = []
    start = mpdot._workers.Workers._start
    monkeypatch.setattr(mpdot._workers.Workers, "_start", lambda self: starts.append(self) or start(self))
    benchmark = bench_pool.PoolStart()
    benchmark.setup("fork")
    benchmark.time_start_compute_close("fork")
    benchmark.teardown("fork")
    assert len(starts) == 1


@pytest.mark.skipif(
    "x86-64-v3" not in cydot._levels.runnable_levels()
    or not any(info["internal_api"] == "openblas" for info in threadpool_info()),
    reason="needs OpenBLAS and a CPU with AVX2",
)
def test_numpy_on_a_forced_coretype_runs_in_a_helper_that_obeys_and_exits():
    a, b = common.operands("square_64", "complex128")
    helper = openblas_kernels.NumpyDotOnCoretype(a, b, 1, "Haswell")
    try:
        assert helper.architecture == "Haswell"
        assert helper.median_seconds(3) > 0
    finally:
        helper.close()
    assert helper.process.returncode == 0


@pytest.mark.parametrize("ended", [FileNotFoundError, ProcessLookupError])
def test_waiting_for_threads_skips_one_that_ends_while_its_state_is_read(ended, monkeypatch):
    def open_ended_thread(path, *args, **kwargs):
        raise ended(path)

    monkeypatch.setattr(idle_threads.os, "listdir", lambda path: ["1", "2"])
    monkeypatch.setattr(idle_threads, "open", open_ended_thread, raising=False)
    assert idle_threads._other_threads_running() is False


@pytest.mark.parametrize(
    "cpus, counts", [(1, [1, 2]), (2, [1, 2]), (3, [1, 2, 3]), (6, [1, 2, 4, 6]), (32, [1, 2, 4, 8, 16, 32])]
)
def test_worker_counts_double_up_to_the_cpus(cpus, counts):
    assert common.worker_counts(cpus) == counts


def test_the_peers_are_measured_on_every_count_that_splits_a_product():
    shapes, workers, dtypes, implementations = bench_peers.PeersSpeedup.params
    assert workers == common.SPLITTING_WORKERS == common.WORKERS[1:]
    assert bench_peers.PeersSpeedup.param_names[1] == "workers"


BENCHMARK_CLASSES = [
    bench_dot.Dot,
    bench_dot.SpeedupOverNumpy,
    bench_dot.SpeedupOverOriginalAnswer,
    bench_cydot.SpeedupPerLevel,
    bench_memory.PeakMemory,
    bench_pool.PoolStart,
    bench_pool.RoundTrip,
    bench_peers.PeersSpeedup,
]


@pytest.mark.parametrize("benchmark", BENCHMARK_CLASSES, ids=lambda benchmark: benchmark.__name__)
def test_every_graph_opens_on_a_measured_combination(benchmark, monkeypatch):
    """The dashboard first shows each parameter's first value: that combination must not be skipped."""
    params = benchmark.params if isinstance(benchmark.params[0], list) else [benchmark.params]
    first = [values[0] for values in params]
    # SpeedupPerLevel's setup switches cydot's kernels process-wide; monkeypatch switches them back.
    monkeypatch.setattr(cydot._api, "kernels", cydot._api.kernels)
    instance = benchmark()
    with threadpool_limits(limits=None):  # numpy.dot's contender sets this process's BLAS threads
        instance.setup(*first)  # SkipNotImplemented would fail it
    if hasattr(instance, "teardown"):
        instance.teardown(*first)


def regression_settings():
    config = load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    return config["regressions_first_commits"], config["regressions_thresholds"]


@pytest.mark.parametrize(
    "name, searched",
    [
        ("bench_dot.SpeedupOverNumpy.track_speedup('square_64', 1, 'float32', 'mpdot_shared')", False),
        # GFLOP/s of earlier commits stay in the history: the Throughput class measured them.
        ("bench_dot.Throughput.track_gflops('square_2000', 2, 'float64', 'cydot_blocked')", False),
        ("bench_cydot.SpeedupPerLevel.track_speedup('baseline', 'square_1000', 1, 'float32')", False),
        ("bench_dot.SpeedupOverOriginalAnswer.track_speedup(1)", False),
        ("bench_dot.Dot.time_dot('square_2000', 2, 'float64', 'numpy.dot')", False),
        ("bench_dot.Dot.time_dot('square_2000', 2, 'float64', 'mpdot_shared')", True),
        ("bench_memory.PeakMemory.track_peak_memory('square_2000', 'mpdot_copied')", True),
    ],
)
def test_regressions_page_searches_only_where_larger_is_worse_and_the_code_is_ours(name, searched):
    first_commits, _ = regression_settings()
    excluded = any(re.match(pattern, name) and commit is None for pattern, commit in first_commits.items())
    assert excluded != searched


def test_regressions_page_ignores_steps_within_the_noise_of_one_process():
    _, thresholds = regression_settings()

    def threshold(name):
        return max(value for pattern, value in thresholds.items() if re.match(pattern, name))

    assert threshold("bench_dot.Dot.time_dot('square_2000', 2, 'float64', 'mpdot_shared')") >= 0.3
    assert threshold("bench_dot.Dot.time_dot('square_64', 2, 'float64', 'mpdot_shared')") >= 0.9
    assert threshold("bench_pool.RoundTrip.time_round_trip('copied')") >= 0.9
