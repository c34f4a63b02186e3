"""The regression gate's verdicts, on synthetic asv result files; its configuration, without timing."""

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from asv.results import Results
from asv.runner import BenchmarkResult
from threadpoolctl import threadpool_limits

from benchmarks import bench_gate, bench_pool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import calibrate_gate  # noqa: E402
import gate  # noqa: E402
import simulate_gate  # noqa: E402
import verdict  # noqa: E402

BENCHMARK = {"name": "bench_dot.Dot.time_dot", "params": [["'square_1000'"], ["2"]], "version": "1"}
NAME = "bench_dot.Dot.time_dot('square_1000', 2)"
CALLS = 5


def processes(rng, count, slowdown=1.0, modes=(8.7e-3, 12.5e-3)):
    """`count` processes of CALLS samples each, every process fast or slow for its whole life."""
    samples = []
    for mode in rng.choice(modes, size=count):
        samples += list(mode * slowdown * rng.normal(1, 0.01, CALLS))
    return samples


def save(results_dir, commit, samples):
    results = Results({"machine": "gate-test"}, {}, commit, 0, "3.11", "env", {})
    result = BenchmarkResult(
        result=[None if samples is None else float(np.median(samples))],
        samples=[samples],
        number=[None if samples is None else 1],
        errcode=0 if samples else 1,
        stderr="",
        profile=None,
    )
    results.add_result(BENCHMARK, result, record_samples=True)
    results.save(str(results_dir))


def judged(tmp_path, base_samples, head_samples):
    save(tmp_path, "a" * 40, base_samples)
    save(tmp_path, "b" * 40, head_samples)
    [judgement] = verdict.judge_all([NAME], tmp_path, "a" * 40, "b" * 40, CALLS)
    return judgement


@pytest.mark.parametrize("seed", range(20))
def test_identical_code_with_bimodal_processes_passes(tmp_path, seed):
    rng = np.random.default_rng(seed)
    judgement = judged(tmp_path, processes(rng, 12), processes(rng, 12))
    assert judgement.verdict != "regressed", judgement


def test_pooling_the_samples_of_bimodal_processes_would_raise_false_alarms():
    """Why the process is the unit: asv continuous's test on pooled samples calls identical code different."""
    from asv._stats import mann_whitney_u

    alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        _, p = mann_whitney_u(processes(rng, 2), processes(rng, 2))
        alarms += p < verdict.ALPHA
    assert alarms >= 5


def test_a_ten_percent_slowdown_over_enough_processes_fails(tmp_path):
    rng = np.random.default_rng(1)
    judgement = judged(tmp_path, processes(rng, 12, modes=[10e-3]), processes(rng, 12, 1.10, modes=[10e-3]))
    assert judgement.verdict == "regressed"
    assert judgement.ratio == pytest.approx(1.10, abs=0.01)
    assert judgement.p < verdict.ALPHA


def test_a_speedup_is_not_a_regression(tmp_path):
    rng = np.random.default_rng(2)
    judgement = judged(tmp_path, processes(rng, 12, modes=[10e-3]), processes(rng, 12, 0.8, modes=[10e-3]))
    assert judgement.verdict == "faster"


def test_too_few_processes_are_inconclusive(tmp_path):
    rng = np.random.default_rng(3)
    judgement = judged(tmp_path, processes(rng, 3, modes=[10e-3]), processes(rng, 3, 1.5, modes=[10e-3]))
    assert judgement.verdict == "inconclusive"
    assert "at least" in judgement.reason


def test_a_commit_without_results_is_a_failure_not_a_regression(tmp_path):
    rng = np.random.default_rng(4)
    judgement = judged(tmp_path, processes(rng, 12), None)
    assert judgement.verdict == "failed"
    assert "HEAD" in judgement.reason


def pairs(rng, count, shift=1.0, spread=0.05):
    """Per-process values of BASE and HEAD: HEAD `shift` times slower, each process off by `spread` (CV)."""
    base = 10e-3 * rng.lognormal(0, spread, count)
    head = 10e-3 * shift * rng.lognormal(0, spread, count)
    return list(base), list(head)


@pytest.mark.parametrize("seed", range(50))
def test_a_fourteen_percent_slowdown_over_sixteen_noisy_pairs_is_never_unchanged(seed):
    judgement = verdict.judge(NAME, *pairs(np.random.default_rng(seed), 16, 1.14, spread=0.15))
    assert judgement.verdict in ("regressed", "inconclusive"), judgement
    assert judgement.interval[0] <= judgement.ratio <= judgement.interval[1]


@pytest.mark.parametrize("seed", range(50))
def test_unchanged_only_when_the_interval_excludes_a_five_percent_slowdown(seed):
    judgement = verdict.judge(NAME, *pairs(np.random.default_rng(seed), 16, 1.0, spread=0.08))
    assert (judgement.verdict == "unchanged") == (judgement.interval[1] < verdict.EQUIVALENCE) or (
        judgement.verdict == "faster"
    ), judgement
    assert judgement.verdict != "regressed"


def test_the_report_prints_the_interval_beside_the_ratio():
    judgement = verdict.judge(NAME, *pairs(np.random.default_rng(5), 16, 1.14, spread=0.15))
    line = gate.report([judgement]).splitlines()[1]
    assert re.search(r"1\.\d{3} +\[\d\.\d{3}, \d\.\d{3}\]", line), line
    assert "unchanged" not in line


def test_the_interval_is_the_exact_signed_rank_one():
    rng = np.random.default_rng(6)
    differences = list(rng.normal(0, 1, 16))
    walsh = sorted((differences[i] + differences[j]) / 2 for i in range(16) for j in range(i, 16))
    estimate, (low, high) = verdict.hodges_lehmann(differences, 0.95)
    # n = 16: the two-sided 5% critical value of the signed-rank sum is 29.
    assert (low, high) == (walsh[29], walsh[-30])
    assert estimate == pytest.approx(np.median(walsh))


class Staged:
    """A fake gate run: each call measures `rounds` more pairs of every named benchmark."""

    def __init__(self, shifts, spread, seed):
        self.shifts, self.spread, self.rng = shifts, spread, np.random.default_rng(seed)
        self.values = {}
        self.calls = []

    def measure(self, names, rounds, append):
        self.calls.append((sorted(names), rounds, append))
        for name in names:
            if not append:
                self.values[name] = ([], [])
            base, head = self.values[name]
            new_base, new_head = pairs(self.rng, rounds, self.shifts[name], self.spread)
            base += new_base
            head += new_head

    def judge(self):
        return [verdict.judge(name, *self.values[name]) for name in self.shifts]

    def run(self, first=16, stage=16, budget=64):
        return {v.name: v for v in verdict.staged(self.measure, self.judge, list(self.shifts), first, stage, budget)}


@pytest.mark.parametrize("seed", range(10))
def test_identical_code_comes_out_unchanged_within_the_budget(seed):
    fake = Staged({f"b{i}": 1.0 for i in range(5)}, spread=0.05, seed=seed)
    assert {v.verdict for v in fake.run().values()} <= {"unchanged"}
    assert all(v.processes[0] <= 64 for v in fake.run().values())


def test_an_undecided_benchmark_is_measured_again_in_stages_until_the_budget():
    fake = Staged({"same": 1.0, "noisy": 1.04}, spread=0.3, seed=1)
    verdicts = fake.run()
    assert fake.calls[0] == (["noisy", "same"], 16, False)
    assert all(append for _, _, append in fake.calls[1:])
    assert verdicts["noisy"].processes[0] == 64 or verdicts["noisy"].verdict != "inconclusive"
    assert sum(rounds for names, rounds, _ in fake.calls if "noisy" in names) <= 64


def test_a_regression_is_confirmed_by_a_second_stage():
    fake = Staged({"slower": 1.25}, spread=0.03, seed=2)
    verdicts = fake.run()
    assert verdicts["slower"].verdict == "regressed"
    assert verdicts["slower"].processes == (32, 32)


def test_a_speed_up_is_confirmed_by_a_second_stage():
    fake = Staged({"faster": 0.8}, spread=0.03, seed=2)
    verdicts = fake.run()
    assert verdicts["faster"].verdict == "faster"
    assert verdicts["faster"].processes == (32, 32)


class Scripted:
    """A fake gate run whose benchmarks read the verdicts of a script, one per stage measured."""

    def __init__(self, script):
        self.script = script
        self.processes = dict.fromkeys(script, 0)
        self.looks = dict.fromkeys(script, 0)

    def measure(self, names, rounds, append):
        for name in names:
            self.processes[name] += rounds
            self.looks[name] += 1

    def judge(self):
        return [
            verdict.Verdict(name, script[min(self.looks[name], len(script)) - 1], processes=(self.processes[name],) * 2)
            for name, script in self.script.items()
        ]

    def run(self, first=16, stage=16, budget=64):
        return {v.name: v for v in verdict.staged(self.measure, self.judge, list(self.script), first, stage, budget)}


def test_a_change_first_read_after_the_first_stage_waits_for_the_next_one(capsys):
    verdicts = Scripted({
        "later": ["inconclusive", "regressed", "regressed"],
        "once": ["inconclusive", "regressed", "inconclusive"],
        "faster once": ["inconclusive", "inconclusive", "faster", "unchanged"],
    }).run()
    assert (verdicts["later"].verdict, verdicts["later"].processes, verdicts["later"].confirmed) == (
        "regressed", (48, 48), True
    )
    assert (verdicts["once"].verdict, verdicts["once"].processes) == ("inconclusive", (64, 64))
    assert (verdicts["faster once"].verdict, verdicts["faster once"].processes) == ("unchanged", (64, 64))
    # The log names every look that read a change, confirmed later or not.
    log = capsys.readouterr().out
    assert "regressed after 32 pairs, to be confirmed: once" in log
    assert "faster after 48 pairs, to be confirmed: faster once" in log


def test_a_change_read_with_no_budget_left_is_final():
    verdicts = Scripted({"slower": ["regressed"]}).run(first=16, budget=16)
    assert (verdicts["slower"].verdict, verdicts["slower"].processes, verdicts["slower"].confirmed) == (
        "regressed", (16, 16), True
    )


def test_the_simulation_draws_from_the_last_gate_runs_pairs(tmp_path):
    rng = np.random.default_rng(0)
    base, head = processes(rng, 12), processes(rng, 12, slowdown=1.1)
    save(tmp_path / "results", "a" * 40, base)
    save(tmp_path / "results", "b" * 40, head)
    (tmp_path / "verdicts.json").write_text(json.dumps([{"name": NAME, "base": "a" * 40, "head": "b" * 40}]))
    logs = np.log(np.array(verdict.process_values(head, CALLS)) / verdict.process_values(base, CALLS))
    spreads = simulate_gate.measured_spreads(tmp_path)
    assert sorted(spreads[NAME]) == pytest.approx(sorted(abs(logs - np.median(logs))))


def test_simulated_gate_runs_flag_a_large_slowdown_and_pass_identical_code():
    spreads = {"a": [0.0, 0.01, 0.02, 0.03], "b": [0.01, 0.03]}
    for run in simulate_gate.simulate(spreads, runs=3, slowdown=1.25, seed=0):
        assert [(v.verdict, v.confirmed, v.processes) for v in run] == [("regressed", True, (20, 20))] * 2
    for run in simulate_gate.simulate(spreads, runs=3, slowdown=1.0, seed=0):
        assert {v.verdict for v in run} == {"unchanged"}


def test_the_signed_rank_test_is_exact():
    assert verdict.signed_rank_p([1.0] * 10) == pytest.approx(2 / 2**10)
    assert verdict.signed_rank_p([-1.0] * 10) == pytest.approx(2 / 2**10)
    assert verdict.signed_rank_p([1.0, -2.0, 3.0, -4.0]) == pytest.approx(14 / 16)
    assert verdict.signed_rank_p([]) == 1.0


def test_each_process_counts_by_its_fastest_call():
    assert verdict.process_values([1, 2, 9, 5, 5, 6], 3) == [1, 5]
    with pytest.raises(ValueError):
        verdict.process_values([1, 2, 3, 4], 3)


def test_a_process_of_relative_times_counts_by_their_median():
    relative = "bench_gate.RelativeTime.time_relative('square_1000', 2, 'float64', 'cydot_blocked')"
    statistic = verdict.process_statistic(relative)
    assert verdict.process_values([0.9, 1.0, 1.3, 1.2, 0.5, 1.1], 3, statistic) == [1.0, 1.1]
    assert verdict.process_statistic("bench_pool.RoundTrip.time_round_trip('shared')") is min


@pytest.mark.parametrize(
    "verdicts, status",
    [
        (["unchanged", "faster", "inconclusive"], 0),
        (["unchanged", "regressed"], 1),
        (["unchanged", "failed"], 2),
        (["failed", "regressed"], 1),
    ],
)
def test_only_a_regression_or_a_failure_fails_the_gate(verdicts, status, capsys):
    assert gate.conclusion([verdict.Verdict(str(i), v) for i, v in enumerate(verdicts)]) == status
    output = capsys.readouterr().out
    assert ("REGRESSION" in output) == ("regressed" in verdicts)
    assert ("NOT MEASURED" in output) == ("failed" in verdicts)


def suite_names(benchmark_class, method):
    """Every asv name with parameters of one benchmark method, as asv writes them."""
    params = benchmark_class.params
    params = params if isinstance(params[0], list) else [params]
    prefix = f"{benchmark_class.__module__.removeprefix('benchmarks.')}.{benchmark_class.__name__}.{method}"
    return {f"{prefix}({', '.join(map(repr, combination))})" for combination in itertools.product(*params)}


def gateable():
    """The timed benchmarks the gate may select from, with their parameters."""
    return (
        suite_names(bench_gate.RelativeTime, "time_relative")
        | suite_names(bench_pool.RoundTrip, "time_round_trip")
        | suite_names(bench_pool.PoolStart, "time_start_compute_close")
    )


def test_every_gated_benchmark_is_in_the_suite():
    assert 20 <= len(gate.GATED) <= 30
    assert len(set(gate.GATED)) == len(gate.GATED)
    assert set(gate.GATED) <= gateable()


def test_the_gate_times_every_relative_time_it_defines():
    assert suite_names(bench_gate.RelativeTime, "time_relative") <= set(gate.GATED)


def test_a_relative_time_is_recorded_as_the_sample_asv_reads():
    benchmark = bench_gate.RelativeTime()
    parameters = ("tall_skinny_20000x256x32", 2, "float64", "cydot_blocked")
    with threadpool_limits(limits=None):  # numpy.dot's contender sets this process's BLAS threads
        benchmark.setup(*parameters)
        before = benchmark.timer()
        benchmark.time_relative(*parameters)
    assert 0.1 < benchmark.timer() - before < 10  # cydot's time over numpy.dot's, about 1


@pytest.mark.parametrize("place", list(calibrate_gate.INJECTIONS))
def test_calibration_counts_each_gated_product_as_slowed_in_its_own_package(place):
    assert [calibrate_gate.affected_by(name, place) for name in gate.PRODUCTS] == [
        "cydot" if "cydot" in name else "mpdot" for name in gate.PRODUCTS
    ]
    assert {calibrate_gate.affected_by(name, None) for name in gate.GATED} == {None}


def test_each_gated_pattern_selects_only_its_benchmark():
    every = gateable()
    for name in gate.GATED:
        assert [other for other in every if re.search(f"^{re.escape(name)}$", other)] == [name]


def test_the_gate_runs_the_benchmarks_with_openblas_default_spin_and_its_glibc_tunables(monkeypatch):
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "24")  # as `make` sets it
    environment = gate.benchmark_environment()
    assert environment["OPENBLAS_THREAD_TIMEOUT"] == "28"
    assert environment["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:" + gate.GLIBC_TUNABLES


def test_make_compare_runs_the_gate_on_base_and_head():
    completed = subprocess.run(["make", "-n", "compare", "BASE=v0"], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert "tools/gate.py v0 HEAD" in completed.stdout


def test_an_unknown_commit_is_not_reported_as_a_regression():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gate.py"), "no-such-commit", "HEAD"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert completed.returncode == 2
    assert "'no-such-commit' is not a commit" in completed.stderr


def test_the_verdicts_are_written_as_json_and_as_the_markdown_a_pull_request_shows(tmp_path, monkeypatch):
    monkeypatch.setattr(gate, "GATE_DIR", tmp_path / "gate")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    judged = [
        verdict.judge(NAME, *pairs(np.random.default_rng(7), 32, 1.25, spread=0.02)),
        verdict.Verdict("bench_pool.RoundTrip.time_round_trip('shared')", "failed", reason="no result for HEAD"),
    ]
    gate.write_verdicts(judged, "a" * 40, "b" * 40)
    records = json.loads((tmp_path / "gate" / "verdicts.json").read_text())
    assert [r["verdict"] for r in records] == ["regressed", "failed"]
    assert records[0]["interval"][0] <= records[0]["ratio"] <= records[0]["interval"][1]
    assert records[1]["ratio"] is None and records[1]["interval"] == [None, None]
    text = (tmp_path / "gate" / "verdicts.md").read_text()
    assert text == (tmp_path / "summary.md").read_text()
    assert text.startswith("### Regression gate: HEAD bbbbbbbb against BASE aaaaaaaa")
    assert "- REGRESSION: 1 gated benchmarks" in text and "- NOT MEASURED: 1" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| verdict | HEAD/BASE | 90% interval | p | processes | benchmark |"
    assert re.fullmatch(r"\| regressed \| 1\.2\d\d \| \[1\.2\d\d, 1\.2\d\d\] \| .+ \| 32/32 \| `.+` \|", rows[1])
    assert rows[2].endswith("`bench_pool.RoundTrip.time_round_trip('shared')` (no result for HEAD) |")


def test_staging_ends_once_the_caller_has_enough():
    def confirmed(verdicts):
        return any(v.verdict == "regressed" and v.confirmed for v in verdicts)

    fake = Staged({"slower": 1.25, "noisy": 1.04}, spread=0.05, seed=0)
    verdicts = {v.name: v for v in verdict.staged(fake.measure, fake.judge, list(fake.shifts), 16, 16, 64, confirmed)}
    assert verdicts["slower"].verdict == "regressed"
    assert verdicts["noisy"].verdict == "inconclusive"
    assert verdicts["noisy"].processes == (32, 32)
