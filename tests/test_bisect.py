"""make bisect's search, on synthetic histories: a fake comparison, no timing."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bisect_regression  # noqa: E402
import verdict  # noqa: E402

CHAIN = [f"commit{i:02d}" for i in range(17)]  # GOOD and 16 commits after it


class History:
    """A chain whose commit `culprit` is slower; some comparisons come out undecided."""

    def __init__(self, culprit, undecided=()):
        self.culprit, self.undecided = CHAIN.index(culprit), set(undecided)
        self.steps = []

    def step(self, before, after):
        self.steps.append((before, after))
        if (before, after) in self.undecided:
            return "inconclusive"
        slower = CHAIN.index(before) < self.culprit <= CHAIN.index(after)
        return "regressed" if slower else "unchanged"


@pytest.mark.parametrize("culprit", CHAIN[1:])
def test_the_culprit_is_found_in_at_most_log2_steps(culprit):
    history = History(culprit)
    assert bisect_regression.first_bad(CHAIN, history.step) == culprit
    assert len(history.steps) <= 4  # ⌈log2 16⌉; with the GOOD..BAD confirmation, 5


def test_an_undecided_step_is_decided_from_the_other_side():
    history = History("commit11", undecided=[("commit00", "commit08")])
    assert bisect_regression.first_bad(CHAIN, history.step) == "commit11"
    assert ("commit08", "commit16") in history.steps
    assert len(history.steps) <= 4 + 2


def test_a_step_undecided_from_both_sides_is_reported_not_guessed():
    history = History("commit05", undecided=[("commit00", "commit08"), ("commit08", "commit16")])
    with pytest.raises(bisect_regression.Undecided) as raised:
        bisect_regression.first_bad(CHAIN, history.step)
    assert (raised.value.good, raised.value.bad) == ("commit00", "commit16")


def test_a_benchmark_that_failed_stops_the_search_as_not_measured():
    with pytest.raises(bisect_regression.NotMeasured) as raised:
        bisect_regression.require_measured([verdict.Verdict("a", "unchanged"), verdict.Verdict("b", "failed")])
    assert raised.value.names == ["b"]


def test_the_search_follows_only_confirmed_regressions():
    verdicts = [
        verdict.Verdict("confirmed", "regressed", processes=(32, 32), confirmed=True),
        verdict.Verdict("read once", "regressed", processes=(16, 16)),
        verdict.Verdict("undecided", "inconclusive", processes=(64, 64)),
    ]
    assert [v.name for v in bisect_regression.confirmed(verdicts)] == ["confirmed"]


# Per-process spread like the calibration's at 1000³ (64 pairs of identical code left
# 90% intervals about ±4-5% wide); the slowdown 10%, as calibrate_bisect injects.
SPREAD, SLOWDOWN = 0.15, 1.10
FOLLOWED = {"a": 5e-3, "b": 20e-3, "c": 60e-3}  # benchmark: its time on GOOD


def rounds(rng, count, factor, spread=SPREAD):
    """{benchmark: `count` per-process values} of a commit `factor` times slower than GOOD."""
    return {name: list(seconds * factor * rng.lognormal(0, spread, count)) for name, seconds in FOLLOWED.items()}


def confirmation(rng, count=64):
    """bisect's confirmation of GOOD against BAD: each benchmark's shift and weight."""
    good, bad = rounds(rng, count, 1.0), rounds(rng, count, SLOWDOWN)
    regressed = [verdict.judge(name, good[name], bad[name]) for name in FOLLOWED]
    return verdict.shifts_and_weights(regressed, good, bad)


@pytest.mark.parametrize("seed", range(40))
def test_a_step_is_never_taken_for_the_other_side(seed):
    rng = np.random.default_rng(seed)
    follow = confirmation(rng)
    like_good = verdict.position(rounds(rng, 64, 1.0), rounds(rng, 64, 1.0), follow)
    like_bad = verdict.position(rounds(rng, 64, 1.0), rounds(rng, 64, SLOWDOWN), follow)
    assert like_good.outcome in ("unchanged", "inconclusive"), like_good
    assert like_bad.outcome in ("regressed", "inconclusive"), like_bad
    assert like_good.interval[0] <= like_good.estimate <= like_good.interval[1]


def test_pooled_benchmarks_decide_steps_that_one_benchmark_alone_would_leave_undecided():
    rng = np.random.default_rng(0)
    follow = confirmation(rng)
    decided = alone = 0
    for _ in range(40):
        before, after = rounds(rng, 64, 1.0), rounds(rng, 64, 1.0)
        decided += verdict.position(before, after, follow).outcome == "unchanged"
        alone += verdict.judge("a", before["a"], after["a"]).verdict == "unchanged"
    assert decided >= 32 > alone, (decided, alone)


def test_a_benchmark_that_shows_the_slowdown_surely_weighs_more():
    rng = np.random.default_rng(1)
    good, bad = rounds(rng, 64, 1.0), rounds(rng, 64, SLOWDOWN)
    bad["b"] = [value * rng.lognormal(0, 0.3) for value in bad["b"]]  # a noisy benchmark
    measured = verdict.shifts_and_weights([verdict.judge(n, good[n], bad[n]) for n in FOLLOWED], good, bad)
    assert measured["b"][1] < min(measured["a"][1], measured["c"][1])


def test_bisect_follows_the_heaviest_benchmarks():
    measured = {"light": (0.1, 0.4), "heaviest": (0.1, 1.0), "heavy": (0.1, 0.6), "second": (0.1, 0.9)}
    assert list(bisect_regression.to_follow(measured)) == ["heaviest", "second", "heavy"]
    assert list(bisect_regression.to_follow({"light": (0.1, 0.4)})) == ["light"]


def test_too_few_rounds_leave_a_step_undecided():
    rng = np.random.default_rng(2)
    follow = confirmation(rng)
    assert verdict.position(rounds(rng, 9, 1.0), rounds(rng, 9, 2.0), follow).outcome == "inconclusive"
    with pytest.raises(ValueError):
        verdict.position(rounds(rng, 16, 1.0), rounds(rng, 12, 1.0), follow)


class MeasuredHistory:
    """A chain measured as bisect measures it: in stages of synthetic processes, the culprit 10% slower."""

    def __init__(self, culprit, seed):
        self.culprit, self.rng = CHAIN.index(culprit), np.random.default_rng(seed)
        self.follow = confirmation(self.rng)
        self.steps, self.rounds = [], 0

    def step(self, before, after):
        self.steps.append((before, after))
        measured = {}

        def measure(count, append):
            self.rounds += count
            for commit in (before, after):
                factor = SLOWDOWN if CHAIN.index(commit) >= self.culprit else 1.0
                new = rounds(self.rng, count, factor)
                old = measured.get(commit) if append else None
                measured[commit] = {name: (old[name] if old else []) + new[name] for name in FOLLOWED}

        where = bisect_regression.locate(
            measure, lambda: (measured[before], measured[after]), self.follow, 16, 16, 64
        )
        return where.outcome


@pytest.mark.parametrize("culprit", ["commit01", "commit06", "commit11", "commit14", "commit16"])
@pytest.mark.parametrize("seed", range(3))
def test_bisect_finds_the_slower_commit_measuring_in_stages(culprit, seed):
    history = MeasuredHistory(culprit, seed)
    assert bisect_regression.first_bad(CHAIN, history.step) == culprit
    assert len(history.steps) <= 4 + 2


def test_no_regression_says_how_many_benchmarks_stayed_undecided():
    verdicts = [verdict.Verdict("a", "unchanged"), verdict.Verdict("b", "inconclusive"), verdict.Verdict("c", "faster")]
    message = bisect_regression.no_regression("1" * 40, "2" * 40, verdicts)
    assert "No regression between 11111111 and 22222222 on 3 gated benchmarks (1 undecided" in message
    assert "undecided" not in bisect_regression.no_regression("1" * 40, "2" * 40, verdicts[::2])


def test_make_bisect_runs_the_search_between_good_and_bad():
    completed = subprocess.run(
        ["make", "-n", "bisect", "GOOD=v1", "BAD=v2", "BENCH=cydot"], cwd=ROOT, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    assert "tools/bisect_regression.py v1 v2 --bench 'cydot'" in completed.stdout


def test_an_unknown_commit_is_not_measured():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bisect_regression.py"), "no-such-commit", "HEAD"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert completed.returncode == 2
    assert "'no-such-commit' is not a commit" in completed.stderr
