"""Per-benchmark verdicts of the regression gate, read from asv result files.

The process is the unit of replication: on this machine a benchmark process is
fast or slow for its whole life, so the samples of one process are not
independent of each other. Each process times `calls` calls and contributes the
fastest (noise only adds time), or the median of `calls` relative times
(`process_statistic`). asv runs BASE and HEAD alternately, one process
of each benchmark per commit and round, so the i-th processes of the two commits
ran a few seconds apart: the gate compares them in pairs, which cancels the
machine's drift over minutes, with a Wilcoxon signed-rank test on the logarithm
of each pair's ratio.

A verdict states what the data exclude. The HEAD/BASE ratio is the
Hodges-Lehmann estimate (the median of the pairs' log-ratio Walsh averages) with
the exact confidence interval of the signed-rank test. *Regressed*: no slowdown
is ruled out (p < ALPHA) and the estimate is at least MIN_SLOWDOWN. *Unchanged*:
the interval's upper end rules out a slowdown of EQUIVALENCE. Everything else is
*inconclusive*, and the gate measures it again rather than guessing.
"""

import itertools
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from asv.results import Results

# asv continuous's threshold. The exact test reaches it only with 10 or more
# pairs (the smallest two-sided p of n pairs is 2 / 2**n).
ALPHA = 0.002
MIN_PROCESSES = 10
# A slowdown smaller than this is not called a regression, however
# significant: two builds of the same code must never fail the gate.
MIN_SLOWDOWN = 1.03
# "Unchanged" must rule out a slowdown this large: the interval's upper end is below it.
EQUIVALENCE = 1.05
# The interval's coverage, two-sided: its upper end is a 95% one-sided bound, as
# in an equivalence test (TOST) at 5%. A 95% interval left 25 of 29 benchmarks
# of a quiet identical-code run undecided after 16 pairs and 8 after 64.
CONFIDENCE = 0.90


# make bisect: a step is like BAD (regressed) when its position's interval lies
# wholly above this, like GOOD (unchanged) when wholly below (`position`).
HALFWAY = 0.5


@dataclass
class Verdict:
    name: str
    verdict: str  # "regressed", "unchanged", "faster", "inconclusive" or "failed"
    ratio: float = float("nan")  # Hodges-Lehmann estimate of HEAD's process / BASE's
    p: float = float("nan")
    processes: tuple = (0, 0)  # (BASE, HEAD)
    reason: str = ""
    interval: tuple = (float("nan"), float("nan"))  # CONFIDENCE interval of `ratio`
    # Set by `staged`: a regression or speed-up the stage before had read too, or with no budget left.
    confirmed: bool = False

    @property
    def ratio_with_interval(self):
        """The ratio with its interval, as logs print it: ``1.101x [1.057, 1.159]``."""
        return f"{self.ratio:.3f}x [{self.interval[0]:.3f}, {self.interval[1]:.3f}]"


def judge(name, base, head):
    """The verdict on one benchmark from the per-process values of BASE and HEAD, in run order."""
    processes = (len(base), len(head))
    if min(processes) < MIN_PROCESSES or len(base) != len(head):
        return Verdict(
            name, "inconclusive", processes=processes,
            reason=f"needs at least {MIN_PROCESSES} processes a side, in pairs",
        )
    logs = log_ratios(base, head)
    estimate, (low, high) = hodges_lehmann(logs, CONFIDENCE)
    ratio, interval = math.exp(estimate), (math.exp(low), math.exp(high))
    p = signed_rank_p(logs)
    if p < ALPHA and ratio >= MIN_SLOWDOWN:
        verdict = "regressed"
    elif p < ALPHA and ratio <= 1 / MIN_SLOWDOWN:
        verdict = "faster"
    elif interval[1] < EQUIVALENCE:
        verdict = "unchanged"
    else:
        verdict = "inconclusive"
    return Verdict(name, verdict, ratio, p, processes, interval=interval)


def log_ratios(base, head):
    """Each pair's log(HEAD / BASE): the i-th processes of the two commits, run seconds apart."""
    return [math.log(after / before) for before, after in zip(base, head)]


@dataclass
class Position:
    outcome: str  # "regressed" (like BAD), "unchanged" (like GOOD) or "inconclusive"
    estimate: float = float("nan")  # 0: as GOOD, 1: as slow as BAD
    interval: tuple = (float("nan"), float("nan"))  # CONFIDENCE interval of `estimate`
    rounds: int = 0


def shifts_and_weights(regressed, base, head):
    """{name: (shift, weight)} of each regressed benchmark, for `position`.

    `base[name]` and `head[name]` are the per-process values of the comparison
    that found the regressions (GOOD and BAD). A benchmark's shift is the
    logarithm of its ratio; its rounds' log-ratios in units of that shift scatter
    by a robust spread (1.4826 times their median absolute deviation), and its
    weight is one over that spread squared: what one of its rounds tells.
    """
    measured = {}
    for v in regressed:
        shift = math.log(v.ratio)
        units = [log / shift for log in log_ratios(base[v.name], head[v.name])]
        center = statistics.median(units)
        spread = 1.4826 * statistics.median(abs(unit - center) for unit in units)
        measured[v.name] = shift, 1 / max(spread, 1e-9) ** 2
    return measured


def position(base, head, followed):
    """Where HEAD lies between BASE (0) and a confirmed slowdown (1), and which of the two it is like.

    `base[name]` and `head[name]` are the per-process values of each followed
    benchmark in run order, so that the i-th of every list ran in round i;
    `followed[name]` is its (shift, weight) from `shifts_and_weights`. A round's
    position is the weighted mean over the benchmarks of its log-ratio in units
    of their shifts, so the benchmarks pool their evidence and each round stays
    one unit of replication. HEAD is like BAD when the interval of the
    Hodges-Lehmann estimate lies above HALFWAY, like GOOD when below: no slowdown
    size is fixed in advance, only the one the confirmation measured is used.
    """
    rounds = {len(values) for values in [*base.values(), *head.values()]}
    if len(rounds) != 1:
        raise ValueError(f"the followed benchmarks ran different numbers of rounds: {sorted(rounds)}")
    count = rounds.pop()
    if count < MIN_PROCESSES:
        return Position("inconclusive", rounds=count)
    total = sum(weight for _, weight in followed.values())
    positions = [
        sum(weight * math.log(head[name][i] / base[name][i]) / shift for name, (shift, weight) in followed.items())
        / total
        for i in range(count)
    ]
    estimate, (low, high) = hodges_lehmann(positions, CONFIDENCE)
    outcome = "regressed" if low > HALFWAY else "unchanged" if high < HALFWAY else "inconclusive"
    return Position(outcome, estimate, (low, high), count)


def signed_rank_counts(n):
    """counts[s]: how many of the 2**n sign assignments of ranks 1..n give a positive rank sum s."""
    total = n * (n + 1) // 2
    counts = [1] + [0] * total
    for rank in range(1, n + 1):
        for s in range(total, rank - 1, -1):
            counts[s] += counts[s - rank]
    return counts


def signed_rank_p(differences):
    """Two-sided exact p-value of the Wilcoxon signed-rank test that `differences` center on 0."""
    differences = [d for d in differences if d != 0]
    n = len(differences)
    if n == 0:
        return 1.0
    order = sorted(range(n), key=lambda i: abs(differences[i]))
    positive = sum(rank for rank, i in enumerate(order, 1) if differences[i] > 0)
    counts = signed_rank_counts(n)
    tail = min(sum(counts[: positive + 1]), sum(counts[positive:]))
    return min(1.0, 2 * tail / 2**n)


def hodges_lehmann(differences, confidence):
    """The Hodges-Lehmann estimate of the center of `differences` and its exact confidence interval.

    The estimate is the median of the Walsh averages (d_i + d_j) / 2, i <= j; the
    interval runs from the k-th smallest to the k-th largest of them, k one more
    than the largest signed-rank sum whose lower tail is at most (1 - confidence) / 2.
    """
    n = len(differences)
    walsh = sorted((differences[i] + differences[j]) / 2 for i in range(n) for j in range(i, n))
    counts = signed_rank_counts(n)
    tail, k, allowed = 0, 0, (1 - confidence) / 2 * 2**n
    while k < len(counts) and tail + counts[k] <= allowed:
        tail += counts[k]
        k += 1
    if k == 0:  # too few pairs for this confidence: the interval is everything
        return statistics.median(walsh), (-math.inf, math.inf)
    return statistics.median(walsh), (walsh[k - 1], walsh[-k])


def process_values(samples, calls, statistic=min):
    """`statistic` of each process's `calls` consecutive samples (asv appends them in run order)."""
    if not samples or len(samples) % calls:
        raise ValueError(f"{len(samples or [])} samples do not split into processes of {calls} calls")
    return [statistic(samples[i : i + calls]) for i in range(0, len(samples), calls)]


def process_statistic(name):
    """How a process's samples make its value: the fastest of its times, as noise only adds time;
    the median of its relative times (bench_gate), a ratio of two times that noise moves both ways."""
    return statistics.median if name.startswith("bench_gate.") else min


def load_samples(results_dir, commit):
    """{benchmark name with parameters: samples or None} for `commit` in an asv results folder."""
    samples = {}
    for path in Path(results_dir).glob(f"*/{commit[:8]}-*.json"):
        results = Results.load(str(path))
        for key in results.get_all_result_keys():
            params = results.get_result_params(key)
            names = [f"{key}({', '.join(combination)})" for combination in itertools.product(*params)]
            for name, values in zip(names if params else [key], results.get_result_samples(key, params)):
                samples[name] = values
    return samples


def values_of(names, results_dir, commit, calls):
    """{name: per-process values} of `commit` for each of `names`; ValueError if one has none."""
    samples = load_samples(results_dir, commit)
    return {name: process_values(samples.get(name), calls, process_statistic(name)) for name in names}


def judge_all(names, results_dir, base, head, calls):
    """A verdict for each benchmark in `names`; "failed" where a commit has no samples for it."""
    base_samples = load_samples(results_dir, base)
    head_samples = load_samples(results_dir, head)
    verdicts = []
    for name in names:
        try:
            base_values = process_values(base_samples.get(name), calls, process_statistic(name))
            head_values = process_values(head_samples.get(name), calls, process_statistic(name))
        except ValueError as error:
            missing = [label for label, found in (("BASE", base_samples), ("HEAD", head_samples)) if not found.get(name)]
            reason = f"no result for {' and '.join(missing)}" if missing else str(error)
            verdicts.append(Verdict(name, "failed", reason=reason))
            continue
        verdicts.append(judge(name, base_values, head_values))
    return verdicts


def staged(measure, judge_measured, names, first, stage, budget, enough=lambda verdicts: False):
    """Verdicts on `names`, measured in stages until each is decided or has spent `budget` processes.

    `measure(names, rounds, append)` runs `rounds` more processes of each
    benchmark per commit; `judge_measured()` returns the verdicts on everything
    measured so far. A regression or a speed-up is final only once the stage
    after the one that first read it reads it too (or no budget is left): each
    stage is one more look at the data, and one more chance that a single look
    crosses ALPHA by chance. An inconclusive benchmark is measured again,
    `stage` processes a side at a time, rather than guessed. Staging also ends
    once `enough(verdicts)`.
    """
    measure(names, first, append=False)
    previous = {}
    while True:
        verdicts = judge_measured()
        for v in verdicts:
            v.confirmed = v.verdict in ("regressed", "faster") and (
                previous.get(v.name) == v.verdict or v.processes[0] >= budget
            )
        previous = {v.name: v.verdict for v in verdicts}
        again = [v for v in verdicts if _needs_more(v, budget)]
        if not again or enough(verdicts):
            return verdicts
        rounds = min(stage, budget - max(v.processes[0] for v in again))
        print(f"\n{len(again)} benchmarks are undecided or need their change confirmed: "
              f"{rounds} more processes of each.", flush=True)
        for v in again:
            if v.verdict != "inconclusive":  # each a look that a single stage may have misread
                print(f"  {v.verdict} after {v.processes[0]} pairs, to be confirmed: {v.name}, "
                      f"{v.ratio_with_interval}, p = {v.p:.2g}", flush=True)
        measure([v.name for v in again], rounds, append=True)


def _needs_more(v, budget):
    if v.processes[0] >= budget:
        return False
    # A speed-up is confirmed too: identical code has come out *faster* (docs/gate.md).
    return v.verdict == "inconclusive" or (v.verdict in ("regressed", "faster") and not v.confirmed)
