"""Per-benchmark verdicts of the regression gate, read from asv result files.

The process is the unit of replication: on this machine a benchmark process is
fast or slow for its whole life, so the samples of one process are not
independent of each other. Each process times `calls` calls and contributes the
fastest (noise only adds time). asv runs BASE and HEAD alternately, one process
of each benchmark per commit and round, so the i-th processes of the two commits
ran a few seconds apart: the gate compares them in pairs, which cancels the
machine's drift over minutes, with a Wilcoxon signed-rank test on the logarithm
of each pair's ratio.
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
# Looks slower, but p is between ALPHA and this: measure more before deciding.
SUSPECT_P = 0.05


@dataclass
class Verdict:
    name: str
    verdict: str  # "regressed", "unchanged", "faster", "inconclusive" or "failed"
    ratio: float = float("nan")  # median over pairs of HEAD's process / BASE's
    p: float = float("nan")
    processes: tuple = (0, 0)  # (BASE, HEAD)
    reason: str = ""

    @property
    def suspect(self):
        """Worth measuring again before the gate decides."""
        return self.verdict in ("regressed", "inconclusive")


def judge(name, base, head):
    """The verdict on one benchmark from the per-process values of BASE and HEAD, in run order."""
    processes = (len(base), len(head))
    if min(processes) < MIN_PROCESSES or len(base) != len(head):
        return Verdict(
            name, "inconclusive", processes=processes,
            reason=f"needs at least {MIN_PROCESSES} processes a side, in pairs",
        )
    ratios = [after / before for before, after in zip(base, head)]
    ratio = statistics.median(ratios)
    p = signed_rank_p([math.log(r) for r in ratios])
    if p < ALPHA and ratio >= MIN_SLOWDOWN:
        verdict = "regressed"
    elif p < ALPHA and ratio <= 1 / MIN_SLOWDOWN:
        verdict = "faster"
    elif p < SUSPECT_P and ratio >= MIN_SLOWDOWN:
        verdict = "inconclusive"
    else:
        verdict = "unchanged"
    return Verdict(name, verdict, ratio, p, processes)


def signed_rank_p(differences):
    """Two-sided exact p-value of the Wilcoxon signed-rank test that `differences` center on 0."""
    differences = [d for d in differences if d != 0]
    n = len(differences)
    if n == 0:
        return 1.0
    order = sorted(range(n), key=lambda i: abs(differences[i]))
    positive = sum(rank for rank, i in enumerate(order, 1) if differences[i] > 0)
    # counts[s]: how many of the 2**n sign assignments give a positive rank sum s.
    total = n * (n + 1) // 2
    counts = [1] + [0] * total
    for rank in range(1, n + 1):
        for s in range(total, rank - 1, -1):
            counts[s] += counts[s - rank]
    tail = min(sum(counts[: positive + 1]), sum(counts[positive:]))
    return min(1.0, 2 * tail / 2**n)


def process_values(samples, calls):
    """The fastest of each process's `calls` consecutive samples (asv appends them in run order)."""
    if not samples or len(samples) % calls:
        raise ValueError(f"{len(samples or [])} samples do not split into processes of {calls} calls")
    return [min(samples[i : i + calls]) for i in range(0, len(samples), calls)]


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


def judge_all(names, results_dir, base, head, calls):
    """A verdict for each benchmark in `names`; "failed" where a commit has no samples for it."""
    base_samples = load_samples(results_dir, base)
    head_samples = load_samples(results_dir, head)
    verdicts = []
    for name in names:
        try:
            base_values = process_values(base_samples.get(name), calls)
            head_values = process_values(head_samples.get(name), calls)
        except ValueError as error:
            missing = [label for label, found in (("BASE", base_samples), ("HEAD", head_samples)) if not found.get(name)]
            reason = f"no result for {' and '.join(missing)}" if missing else str(error)
            verdicts.append(Verdict(name, "failed", reason=reason))
            continue
        verdicts.append(judge(name, base_values, head_values))
    return verdicts
