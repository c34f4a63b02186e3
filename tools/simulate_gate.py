"""How often the gate's staging calls a change, under the signed-rank test's own assumptions.

Usage: python tools/simulate_gate.py [--runs 400] [--slowdown 1.10] [--gate-dir .asv/gate] [--seed 0]

Reads the last gate run (`make compare`): its verdicts and the per-process
values of BASE and HEAD. Each simulated run then stages every benchmark as
tools/gate.py does (tools/verdict.py's `staged` and `judge`), drawing each
pair's log-ratio as a random sign times one of that benchmark's measured
log-ratios, centred on their median, plus the logarithm of `--slowdown`. With
no slowdown, every *regressed* is a false alarm; with one, every verdict that
is not *regressed* is a change missed. A run of identical code gives the
spreads to draw from.
"""

import argparse
import contextlib
import io
import json
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gate  # noqa: E402
import verdict  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--slowdown", type=float, default=1.0, help="HEAD/BASE of every benchmark, 1 for none")
    parser.add_argument("--gate-dir", type=Path, default=gate.GATE_DIR)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    spreads = measured_spreads(args.gate_dir)
    runs = simulate(spreads, args.runs, args.slowdown, args.seed)
    flagged = [sum(v.verdict == "regressed" for v in verdicts) for verdicts in runs]
    processes = statistics.mean(sum(2 * v.processes[0] for v in verdicts) for verdicts in runs)
    print(f"{args.runs} simulated gate runs of {len(spreads)} benchmarks, each {args.slowdown}x slower:")
    print(f"  runs with a benchmark regressed: {sum(k > 0 for k in flagged)} of {args.runs}")
    print(f"  verdicts regressed: {sum(flagged)} of {args.runs * len(spreads)}")
    print(f"  processes a run: {processes:.0f}")


def measured_spreads(gate_dir):
    """{benchmark: its pairs' absolute log-ratios about their median} in the gate run kept in `gate_dir`."""
    records = json.loads((gate_dir / "verdicts.json").read_text())
    base, head = records[0]["base"], records[0]["head"]
    names = [record["name"] for record in records]
    values = [verdict.values_of(names, gate_dir / "results", commit, gate.CALLS) for commit in (base, head)]
    spreads = {}
    for name in names:
        logs = verdict.log_ratios(values[0][name], values[1][name])
        center = statistics.median(logs)
        spreads[name] = [abs(log - center) for log in logs]
    return spreads


def simulate(spreads, runs, slowdown, seed):
    """The final verdicts of `runs` staged gate runs on pairs drawn from `spreads` ({name: magnitudes})."""
    rng = random.Random(seed)
    shift = math.log(slowdown)
    results = []
    for _ in range(runs):
        values = {}

        def measure(names, rounds, append):
            for name in names:
                if not append:
                    values[name] = ([], [])
                base, head = values[name]
                for _ in range(rounds):
                    base.append(1.0)
                    head.append(math.exp(shift + rng.choice((-1, 1)) * rng.choice(spreads[name])))

        def judge():
            return [verdict.judge(name, *values[name]) for name in spreads]

        with contextlib.redirect_stdout(io.StringIO()):  # staged's progress lines
            results.append(verdict.staged(
                measure, judge, list(spreads), gate.ROUNDS, gate.STAGE_ROUNDS, gate.MAX_PROCESSES
            ))
    return results


if __name__ == "__main__":
    main()
