"""The regression gate: did HEAD make a gated benchmark slower than BASE?

Usage: python tools/gate.py BASE HEAD [--rounds N] [--stage-rounds M] [--max-processes B]

Each gated benchmark runs in N fresh processes per commit, BASE and HEAD
alternating round by round (asv run --interleave-rounds), each process timing
CALLS calls, or for the products CALLS rounds of the contender against
numpy.dot (benchmarks/bench_gate.py); tools/verdict.py compares the processes
of the two commits round by round. A regression is confirmed by M more
processes per commit, and a benchmark neither regressed nor shown unchanged is
measured M more at a time, up to B processes per commit. Exit status: 0 if no
gated benchmark regressed (inconclusive ones included), 1 if one did, 2 if one
could not be measured (a build or benchmark failure). The rest of the suite is
reported as advisory from `make bench`'s results and never fails the gate.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from asv.util import load_json

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verdict  # noqa: E402  (a sibling module; tools/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
GATE_DIR = ROOT / ".asv" / "gate"

GATED_SHAPES = ["original_50x100000x60", "square_1000", "square_2000", "tall_skinny_20000x256x32"]
GATED_IMPLEMENTATIONS = ["mpdot_shared", "mpdot_copied", "cydot_blocked"]
# The products as their time relative to numpy.dot's in the same process, where
# the host's swings of speed cancel.
PRODUCTS = [
    f"bench_gate.RelativeTime.time_relative({shape!r}, 2, {dtype!r}, {implementation!r})"
    for implementation in GATED_IMPLEMENTATIONS
    for shape in GATED_SHAPES
    for dtype in ("float32", "float64")
]
# The pool's own costs as times.
GATED = [
    *PRODUCTS,
    *(f"bench_pool.RoundTrip.time_round_trip({inputs!r})" for inputs in ("shared", "copied")),
    *(f"bench_pool.PoolStart.time_start_compute_close({method!r})" for method in ("fork", "forkserver", "spawn")),
]

# Processes per commit in the first stage, in each later one, and at most. 10
# is the fewest whose signed-rank test can reach p < 0.002; with relative times
# a gate process costs ~2 s here, and stages of 10 decided every bisect step and
# flagged a 10% slowdown on every product (docs/gate.md).
ROUNDS = 10
STAGE_ROUNDS = 10
MAX_PROCESSES = 64
CALLS = 5
# glibc adapts its mmap threshold to what a process has freed, so whether a
# large temporary is mapped and faulted in afresh on every call depends on the
# process's history. Fixed thresholds halved the spread between processes of
# cydot and of mpdot with shared inputs (docs/gate.md).
# Copying 20 MB of inputs into the pool's buffers, which the workers had just
# read on the other CPU, took 1.0 ms in some processes and up to 4.5 ms in
# others; with non-temporal stores for copies of 1 MB and more, 1.1 ms in all.
GLIBC_TUNABLES = (
    "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296"
    ":glibc.cpu.x86_non_temporal_threshold=1048576"
)
# OpenBLAS's own helper spin, 2²⁸ cycles, which the gate was calibrated with:
# `make` shortens it for the rest of the suite (Makefile), and a shorter spin
# widened the spread of some relative times (docs/gate.md).
OPENBLAS_THREAD_TIMEOUT = "28"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("head")
    add_stage_options(parser)
    args = parser.parse_args(argv)
    base, head = rev_parse(args.base), rev_parse(args.head)
    if base == head:
        print(f"BASE and HEAD are the same commit ({base[:8]}): nothing to compare.")
        return 0

    config = write_config()
    shutil.rmtree(GATE_DIR / "results", ignore_errors=True)
    print(f"Gate: {len(GATED)} benchmarks, BASE {base[:8]} against HEAD {head[:8]}, "
          f"{args.rounds} processes each, {CALLS} calls a process.", flush=True)
    verdicts = compare(config, base, head, GATED, args)
    write_verdicts(verdicts, base, head)
    print()
    print(report(verdicts))
    status = conclusion(verdicts)
    print()
    print(advisory(base, head))
    return status


def add_stage_options(parser):
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="processes per commit, first stage")
    parser.add_argument("--stage-rounds", type=int, default=STAGE_ROUNDS, help="processes per commit, later stages")
    parser.add_argument("--max-processes", type=int, default=MAX_PROCESSES, help="per commit and benchmark, at most")


def stage_arguments(args):
    """The options add_stage_options parsed, as a command line for gate.py or bisect_regression.py."""
    return ["--rounds", str(args.rounds), "--stage-rounds", str(args.stage_rounds),
            "--max-processes", str(args.max_processes)]


def compare(config, base, head, names, args, enough=lambda verdicts: False):
    """The verdicts on `names`, BASE against HEAD, measured in stages (tools/verdict.py) until `enough`."""
    return verdict.staged(
        lambda selected, rounds, append: run(config, [base, head], selected, rounds, append),
        lambda: verdict.judge_all(names, GATE_DIR / "results", base, head, CALLS),
        names, args.rounds, args.stage_rounds, args.max_processes, enough,
    )


def rev_parse(name):
    completed = subprocess.run(["git", "rev-parse", "--verify", f"{name}^{{commit}}"],
                               cwd=ROOT, capture_output=True, text=True)
    if completed.returncode:
        print(f"gate: {name!r} is not a commit of this repository", file=sys.stderr)
        sys.exit(2)  # 1 means a regression
    return completed.stdout.strip()


def write_config():
    """asv.conf.json with the gate's own results folder; environments and builds are shared."""
    config = load_json(str(ROOT / "asv.conf.json"), js_comments=True)
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / config["benchmark_dir"]),
        env_dir=str(ROOT / config["env_dir"]),
        results_dir=str(GATE_DIR / "results"),
        html_dir=str(GATE_DIR / "html"),
    )
    GATE_DIR.mkdir(parents=True, exist_ok=True)
    path = GATE_DIR / "asv.conf.json"
    path.write_text(json.dumps(config, indent=4))
    return path


def run(config, commits, names, rounds, append):
    """`rounds` processes per benchmark and commit, the commits alternating round by round."""
    hashes = GATE_DIR / "commits.txt"
    hashes.write_text("\n".join(commits) + "\n")
    command = [
        sys.executable, "-m", "asv", "run", "--config", str(config), "--show-stderr",
        "--interleave-rounds", "--record-samples", *(["--append-samples"] if append else []),
        "-a", f"rounds={rounds}", "-a", f"repeat={CALLS}", "-a", "number=1",
        *(argument for name in names for argument in ("--bench", f"^{re.escape(name)}$")),
        f"HASHFILE:{hashes}",
    ]
    # asv exits 2 when a benchmark fails; the verdicts say which.
    subprocess.run(command, cwd=ROOT, env=benchmark_environment())


def benchmark_environment():
    """This process's environment with the gate's allocator thresholds, copies and OpenBLAS spin."""
    tunables = ":".join(filter(None, [os.environ.get("GLIBC_TUNABLES"), GLIBC_TUNABLES]))
    return dict(os.environ, GLIBC_TUNABLES=tunables, OPENBLAS_THREAD_TIMEOUT=OPENBLAS_THREAD_TIMEOUT)


def report(verdicts):
    interval = f"{verdict.CONFIDENCE:.0%} interval"
    lines = [f"{'verdict':<13} {'HEAD/BASE':>9} {interval:>16} {'p':>8} {'processes':>9}  benchmark"]
    for v in verdicts:
        lines.append(
            f"{v.verdict:<13} {v.ratio:>9.3f} {'[%.3f, %.3f]' % v.interval:>16} {v.p:>8.2g} "
            f"{'%d/%d' % v.processes:>9}  {v.name}" + (f"  ({v.reason})" if v.reason else "")
        )
    return "\n".join(lines)


def conclusion(verdicts):
    """Print the gate's conclusion in words and return its exit status."""
    status, lines = judgement(verdicts)
    print()
    print("\n".join(lines))
    return status


def judgement(verdicts):
    """The gate's exit status and its conclusion, a sentence per kind of outcome."""
    regressed = [v for v in verdicts if v.verdict == "regressed"]
    failed = [v for v in verdicts if v.verdict == "failed"]
    undecided = [v for v in verdicts if v.verdict == "inconclusive"]
    lines = []
    if regressed:
        lines.append(f"REGRESSION: {len(regressed)} gated benchmarks are slower on HEAD "
                     f"(p < {verdict.ALPHA}, at least {verdict.MIN_SLOWDOWN:.2f}x).")
    if failed:
        lines.append(f"NOT MEASURED: {len(failed)} gated benchmarks have no result for a commit: "
                     "a build or benchmark failure, not a slowdown (asv's output says which).")
    if undecided:
        lines.append(f"Inconclusive (does not fail the gate): {len(undecided)} benchmarks neither regressed "
                     f"nor shown to be less than {verdict.EQUIVALENCE:.2f}x slower; a larger "
                     "--max-processes may decide them.")
    status = 1 if regressed else 2 if failed else 0
    if status == 0:
        lines.append("PASS: no gated benchmark is slower on HEAD.")
    return status, lines


def markdown(verdicts, base, head):
    """The verdicts as a pull request shows them: the conclusion, then one table row per benchmark."""
    _, lines = judgement(verdicts)
    interval = f"{verdict.CONFIDENCE:.0%} interval"
    rows = [
        f"### Regression gate: HEAD {head[:8]} against BASE {base[:8]}",
        "",
        *(f"- {line}" for line in lines),
        "",
        f"| verdict | HEAD/BASE | {interval} | p | processes | benchmark |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        low, high = v.interval
        rows.append(
            f"| {v.verdict} | {v.ratio:.3f} | [{low:.3f}, {high:.3f}] | {v.p:.2g} | "
            f"{v.processes[0]}/{v.processes[1]} | `{v.name}`{f' ({v.reason})' if v.reason else ''} |"
        )
    return "\n".join(rows) + "\n"


def _without_nan(value):
    """`value` with each NaN (not measured) as None, which JSON can carry."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_without_nan(item) for item in value]
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    return value


def write_verdicts(verdicts, base, head):
    """verdicts.json for machines and verdicts.md for reviewers in .asv/gate; the Markdown also
    to GitHub's job summary when the gate runs in GitHub Actions."""
    GATE_DIR.mkdir(parents=True, exist_ok=True)
    records = [{**vars(v), "base": base, "head": head} for v in verdicts]
    (GATE_DIR / "verdicts.json").write_text(json.dumps(_without_nan(records), indent=1, allow_nan=False))
    text = markdown(verdicts, base, head)
    (GATE_DIR / "verdicts.md").write_text(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as file:
            file.write(text)


def advisory(base, head):
    """The whole suite compared from `make bench`'s results, if both commits have them."""
    results = ROOT / ".asv" / "results"
    found = [commit for commit in (base, head) if list(results.glob(f"*/{commit[:8]}-*.json"))]
    heading = "Advisory, never fails the gate: the whole suite, one process per benchmark, from `make bench`."
    if len(found) < 2:
        return (f"{heading}\nNot available: run `make bench COMMITS={base[:8]}^!` and "
                f"`make bench COMMITS={head[:8]}^!` first to see it.")
    completed = subprocess.run(
        [sys.executable, "-m", "asv", "compare", "--split", "--only-changed", base, head],
        cwd=ROOT, capture_output=True, text=True,
    )
    return f"{heading}\n{completed.stdout}{completed.stderr}"


if __name__ == "__main__":
    sys.exit(main())
