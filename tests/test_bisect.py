"""make bisect's search, on synthetic histories: a fake comparison, no timing."""

import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize(
    "verdicts, outcome",
    [
        (["unchanged", "regressed"], "regressed"),
        (["unchanged", "faster"], "unchanged"),
        (["unchanged", "inconclusive"], "inconclusive"),
        (["regressed", "inconclusive"], "regressed"),
    ],
)
def test_a_step_regressed_if_any_benchmark_did_unchanged_only_if_all_are(verdicts, outcome):
    judged = [verdict.Verdict(str(i), v) for i, v in enumerate(verdicts)]
    assert bisect_regression.step_outcome(judged) == outcome


def test_a_benchmark_that_failed_is_not_measured_as_unchanged():
    with pytest.raises(bisect_regression.NotMeasured):
        bisect_regression.step_outcome([verdict.Verdict("a", "unchanged"), verdict.Verdict("b", "failed")])


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
