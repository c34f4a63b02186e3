"""Which commit between GOOD and BAD made the gated benchmarks slower?

Usage: python tools/bisect_regression.py GOOD BAD [--bench REGEX] [--rounds N] [--stage-rounds M] [--max-processes B]

First GOOD and BAD are compared with the gate's paired-process statistics
(tools/gate.py, tools/verdict.py) on the gated benchmarks matching REGEX, until
TRACKED regressions are confirmed or all are decided. If none regressed, there
is nothing to find. Otherwise the regressed benchmarks that show the slowdown
most surely are followed along the first-parent chain GOOD..BAD by binary search:
each step compares a middle commit with the last one known good and asks which
it is like, the good one or the slowdown just confirmed (verdict.position), in
stages until it is decided. A step still undecided when its budget is spent is
decided from the other side instead (the middle against the first one known
bad); asv's `asv find`, which takes one value per commit, is defeated by this
machine's noise. Builds stay in asv's cache (asv.conf.json's build_cache_size),
so a second bisect over the same commits builds nothing.

Exit status: 0 when a culprit or no regression was found, 1 when the search
stayed undecided, 2 when something could not be measured.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gate  # noqa: E402
import verdict  # noqa: E402

# Benchmarks followed through the search: of those regressed between GOOD and BAD,
# the TRACKED that show it most surely (verdict.shifts_and_weights). The
# confirmation goes on until as many regressions are confirmed: one confirmed
# early is one whose shift happened to read large, and a step then finds only
# part of it (docs/gate.md).
TRACKED = 3


class NotMeasured(Exception):
    """A benchmark has no result for a commit: a build or benchmark failure."""

    def __init__(self, names):
        super().__init__(", ".join(names))
        self.names = names


class Undecided(Exception):
    """Neither side of a step could be decided within its budget."""

    def __init__(self, good, bad):
        super().__init__(f"undecided between {good[:8]} and {bad[:8]}")
        self.good, self.bad = good, bad


def first_bad(chain, step):
    """The first commit of `chain` that is slower than its predecessors; `chain[0]` good, `chain[-1]` bad.

    `step(before, after)` compares two commits and returns "regressed" (`after`
    is like BAD), "unchanged" (like `before`) or "inconclusive" (already measured
    as far as its budget allows).
    """
    good, bad = 0, len(chain) - 1
    while bad - good > 1:
        middle = (good + bad) // 2
        outcome = step(chain[good], chain[middle])
        if outcome == "inconclusive":
            # The other side: a regression after the middle shows between it and the bad commit.
            outcome = {"regressed": "unchanged", "unchanged": "regressed"}.get(
                step(chain[middle], chain[bad]), "inconclusive"
            )
        if outcome == "regressed":
            bad = middle
        elif outcome == "unchanged":
            good = middle
        else:
            raise Undecided(chain[good], chain[bad])
    return chain[bad]


def locate(measure, values, follow, first, stage, budget):
    """A step's verdict.position, measured in stages until it is decided or has `budget` rounds.

    `measure(rounds, append)` runs `rounds` more processes of each followed
    benchmark per commit; `values()` returns the per-process values of the two
    commits measured so far.
    """
    measure(first, append=False)
    while True:
        where = verdict.position(*values(), follow)
        if where.outcome != "inconclusive" or where.rounds >= budget:
            return where
        more = min(stage, budget - where.rounds)
        print(f"\n{position_line(where)}: {more} more processes of each.", flush=True)
        measure(more, append=True)


def to_follow(measured):
    """Of {name: (shift, weight)}, the TRACKED heaviest."""
    ranked = sorted(measured, key=lambda name: -measured[name][1])
    return {name: measured[name] for name in ranked[:TRACKED]}


def confirmed(verdicts):
    """The regressions the next stage confirmed, or that had no budget left for one (verdict.staged)."""
    return [v for v in verdicts if v.verdict == "regressed" and v.confirmed]


def require_measured(verdicts):
    """Raise NotMeasured if a benchmark has no result for a commit: a failure is not "no regression"."""
    failed = [v.name for v in verdicts if v.verdict == "failed"]
    if failed:
        raise NotMeasured(failed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("good")
    parser.add_argument("bad")
    parser.add_argument("--bench", default="", help="only gated benchmarks matching this regular expression")
    gate.add_stage_options(parser)
    args = parser.parse_args(argv)
    good, bad = gate.rev_parse(args.good), gate.rev_parse(args.bad)
    names = [name for name in gate.GATED if re.search(args.bench, name)]
    if not names:
        print(f"bisect: no gated benchmark matches {args.bench!r}", file=sys.stderr)
        return 2
    chain = [good, *git("rev-list", "--first-parent", "--reverse", f"{good}..{bad}").split()]
    if chain[-1] != bad:
        print(f"bisect: {args.bad} is not a descendant of {args.good} along first parents", file=sys.stderr)
        return 2
    config = gate.write_config()
    results = gate.GATE_DIR / "results"
    measured = {}  # (before, after) -> (verdicts, position; None for the confirmation)

    def confirm():
        """GOOD against BAD, until all are decided or TRACKED regressions are confirmed."""
        print(f"\nComparing {describe(good)} with {describe(bad)}", flush=True)
        verdicts = gate.compare(
            config, good, bad, names, args, enough=lambda verdicts: len(confirmed(verdicts)) >= TRACKED
        )
        measured[good, bad] = verdicts, None
        print(gate.report(verdicts), flush=True)
        require_measured(verdicts)
        return verdicts

    def step(before, after):
        print(f"\nComparing {describe(before)} with {describe(after)}", flush=True)

        def values():
            require_measured(verdict.judge_all(tracked, results, before, after, gate.CALLS))
            return tuple(verdict.values_of(tracked, results, commit, gate.CALLS) for commit in (before, after))

        where = locate(
            lambda rounds, append: gate.run(config, [before, after], tracked, rounds, append),
            values, follow, args.rounds, args.stage_rounds, args.max_processes,
        )
        verdicts = verdict.judge_all(tracked, results, before, after, gate.CALLS)
        measured[before, after] = verdicts, where
        print(gate.report(verdicts))
        print(position_line(where), flush=True)
        return where.outcome

    try:
        verdicts = confirm()
        regressed = confirmed(verdicts)
        if not regressed:
            print(no_regression(good, bad, verdicts))
            return 0
        follow = to_follow(verdict.shifts_and_weights(
            regressed, *(verdict.values_of([v.name for v in regressed], results, commit, gate.CALLS)
                         for commit in (good, bad)),
        ))
        tracked = list(follow)
        heaviest = max(weight for _, weight in follow.values())
        print(f"\nFollowing {len(tracked)} of {len(regressed)} regressed benchmarks, weighted by how surely they show it:",
              *(f"  {weight / heaviest:.2f} {name}" for name, (_, weight) in follow.items()), sep="\n", flush=True)
        culprit = first_bad(chain, step)
    except Undecided as undecided:
        print(f"\nUNDECIDED: the slowdown lies between {describe(undecided.good)} and {describe(undecided.bad)}; "
              "a larger --max-processes may decide it.")
        return 1
    except NotMeasured as failure:
        print(f"\nNOT MEASURED: {', '.join(failure.names)} (a build or benchmark failure; asv's output says which)")
        return 2
    print(summary(culprit, measured, tracked))
    return 0


def position_line(where):
    """A step's position between GOOD (0) and BAD (1) with its interval, and what it makes the step."""
    like = {"regressed": "like BAD", "unchanged": "like GOOD"}.get(where.outcome, "undecided")
    low, high = where.interval
    return (f"Position {where.estimate:.2f} [{low:.2f}, {high:.2f}] between GOOD (0) and BAD (1) "
            f"over {where.rounds} rounds: {like}")


def no_regression(good, bad, verdicts):
    """What bisect says when no benchmark regressed between GOOD and BAD, undecided ones counted."""
    undecided = sum(v.verdict == "inconclusive" for v in verdicts)
    caveat = f" ({undecided} undecided at the budget: not shown slower, not ruled out)" if undecided else ""
    return f"\nNo regression between {good[:8]} and {bad[:8]} on {len(verdicts)} gated benchmarks{caveat}."


def summary(culprit, measured, tracked):
    """The culprit, its position and its ratio with its interval on each followed benchmark, and the cost."""
    # The last comparison with the culprit as the later commit: the one closest to it.
    before = [before for before, after in measured if after == culprit][-1]
    verdicts, where = measured[before, culprit]
    lines = [f"\nCULPRIT: {describe(culprit)}"]
    if where is not None:
        lines.append(f"  {position_line(where)}")
    for v in verdicts:
        if v.name in tracked:
            lines.append(f"  {v.ratio_with_interval} against {before[:8]}: {v.name}")
    builds = {commit for pair in measured for commit in pair}
    processes = sum(sum(v.processes) for verdicts, _ in measured.values() for v in verdicts)
    lines.append(f"  {len(measured)} comparisons, {len(builds)} commits built, {processes} benchmark processes.")
    return "\n".join(lines)


def describe(commit):
    return git("log", "-1", "--format=%h %s", commit)


def git(*arguments):
    return subprocess.run(["git", *arguments], cwd=gate.ROOT, check=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
