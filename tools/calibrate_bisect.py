"""Measure `make bisect` on throwaway histories: does it name the commit that made things slower, and at what cost?

Usage: python tools/calibrate_bisect.py [--trials 3] [--commits 16] [--slowdown 0.10]
       [--place "entry points"] [--seed 0] [--bench REGEX] [GATE OPTIONS]

In a temporary clone of the committed HEAD (your checkout is only read), each
trial makes a chain of `commits` commits on HEAD that change only a note file,
except one at a random position that also makes `place` slower by `slowdown`
(tools/calibrate_gate.py's injections); one more chain has no slowdown. It runs
tools/bisect_regression.py from HEAD to each chain's end and prints, per chain,
where the slowdown was, what bisect named, its comparisons and its minutes: the
table docs/gate.md shows.
"""

import argparse
import math
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibrate_gate  # noqa: E402
import gate  # noqa: E402
from calibrate_gate import git  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--commits", type=int, default=16)
    parser.add_argument("--slowdown", type=float, default=0.10)
    parser.add_argument("--place", default="entry points", choices=list(calibrate_gate.INJECTIONS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench", default="", help="passed to bisect: only gated benchmarks matching it")
    gate.add_stage_options(parser)
    args = parser.parse_args(argv)
    positions = random.Random(args.seed).choices(range(1, args.commits + 1), k=args.trials)
    rows = []
    with tempfile.TemporaryDirectory(prefix="calibrate-bisect-") as folder:
        clone = calibrate_gate.throwaway_clone(Path(folder))
        base = git(clone, "rev-parse", "HEAD")
        for position in [*positions, None]:
            chain = make_chain(clone, base, args.commits, position, args.place, args.slowdown)
            rows.append((position, chain, bisect(clone, chain, args)))
            print(f"\nBisect calibration so far ({args.slowdown:.0%} slower {args.place}, "
                  f"{args.commits} commits a chain; at most {math.ceil(math.log2(args.commits)) + 2} "
                  f"measured steps):\n{table(rows)}\n", flush=True)


def make_chain(clone, base, commits, position, place, slowdown):
    """[base, commit 1, ..., commit `commits`]; commit `position` (None: none) makes `place` slower."""
    git(clone, "checkout", "--quiet", "--detach", base)
    chain = [base]
    for number in range(1, commits + 1):
        (clone / "calibration.txt").write_text(f"calibration step {number}\n")
        git(clone, "add", "calibration.txt")
        subject = f"calibration: step {number}"
        if number == position:
            calibrate_gate.inject(clone, place, slowdown)
            subject += f", {place} {slowdown:.0%} slower"
        git(clone, "commit", "--quiet", "-am", subject)
        chain.append(git(clone, "rev-parse", "HEAD"))
    return chain


def bisect(clone, chain, args):
    """What tools/bisect_regression.py named (a commit, "none" or "undecided"), its comparisons, its minutes."""
    started = time.perf_counter()
    command = [
        sys.executable, "tools/bisect_regression.py", chain[0], chain[-1], "--bench", args.bench,
        *gate.stage_arguments(args),
    ]
    completed = subprocess.run(command, cwd=clone, capture_output=True, text=True)
    print(completed.stdout, completed.stderr, sep="\n", flush=True)
    minutes = (time.perf_counter() - started) / 60
    culprit = re.search(r"^CULPRIT: (\w+)", completed.stdout, re.MULTILINE)
    comparisons = completed.stdout.count("\nComparing ")
    if culprit:
        named = git(clone, "rev-parse", culprit.group(1))
    elif "No regression between" in completed.stdout:
        named = "none"
    else:
        named = "undecided" if completed.returncode == 1 else f"failed (exit {completed.returncode})"
    return named, comparisons, minutes


def table(rows):
    lines = [
        "| chain | slowdown at | bisect named | right | comparisons | minutes |",
        "|---|---|---|---|---|---|",
    ]
    for number, (position, chain, (named, comparisons, minutes)) in enumerate(rows, 1):
        expected = "none" if position is None else chain[position]
        shown = named if named in ("none", "undecided") or named.startswith("failed") else (
            f"step {chain.index(named)}" if named in chain else named[:8]
        )
        lines.append(
            f"| {number} | {'–' if position is None else f'step {position}'} | {shown} | "
            f"{'yes' if named == expected else 'no'} | {comparisons} | "
            f"{minutes:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
