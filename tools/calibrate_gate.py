"""Measure the regression gate's false alarms and detection rate on this machine.

Usage: python tools/calibrate_gate.py [--identical-runs 5] [--slowdowns 0.10 0.25] [--places PLACE ...] [GATE OPTIONS]

In a temporary clone of the committed HEAD (your checkout is only read), this
makes throwaway commits: one with identical code, and for each place and
slowdown one that makes that place that much slower, exactly (each call
busy-waits for that fraction of its own wall time). The places: the block
kernels (mpdot's and cydot's), and the public entry points (every call of
mpdot's Pool.dot, which mpdot.dot calls, and of cydot.dot: validation,
dispatch, copies and kernels together). It runs tools/gate.py on each against
HEAD and prints the table docs/gate.md shows.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

BUSY_WAIT = '''

def _busy_wait(seconds):
    """Calibration only: a sleep cannot wait a few microseconds."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        pass


def _slowed_by(slowdown):
    """Calibration only: a decorator adding `slowdown` of each call's own time to it."""
    def decorate(function):
        def slowed(*args, **kwargs):
            started = time.perf_counter()
            result = function(*args, **kwargs)
            _busy_wait(slowdown * (time.perf_counter() - started))
            return result
        return slowed
    return decorate

'''
# Per place: (file, code as it is, the same code slowed down by {slowdown} of its time).
INJECTIONS = {
    "kernels": [
        (
            "mpdot/_kernels.py",
            "    np.matmul(a, b, out=out)\n",
            "    started = time.perf_counter()\n"
            "    np.matmul(a, b, out=out)\n"
            "    _busy_wait({slowdown} * (time.perf_counter() - started))\n",
        ),
        (
            "cydot/_api.py",
            "            _blocked(a, b, result, nthreads)\n",
            "            started = time.perf_counter()\n"
            "            _blocked(a, b, result, nthreads)\n"
            "            _busy_wait({slowdown} * (time.perf_counter() - started))\n",
        ),
    ],
    "entry points": [
        ("mpdot/_pool.py", "    def dot(self, a, b,", "    @_slowed_by({slowdown})\n    def dot(self, a, b,"),
        ("cydot/_api.py", "\ndef dot(a, b,", "\n@_slowed_by({slowdown})\ndef dot(a, b,"),
    ],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identical-runs", type=int, default=5)
    parser.add_argument("--slowdowns", type=float, nargs="*", default=[0.10, 0.25])
    parser.add_argument("--places", nargs="*", default=list(INJECTIONS), choices=list(INJECTIONS))
    gate.add_stage_options(parser)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="calibrate-gate-") as folder:
        clone = throwaway_clone(Path(folder))
        base = git(clone, "rev-parse", "HEAD")
        git(clone, "commit", "--quiet", "--allow-empty", "-m", "calibration: identical code")
        identical = git(clone, "rev-parse", "HEAD")
        runs = [(f"identical code, run {run + 1}", None, identical) for run in range(args.identical_runs)]
        runs += [
            (f"{slowdown:.0%} slower {place}", place, slow_commit(clone, base, place, slowdown))
            for place in args.places
            for slowdown in args.slowdowns
        ]
        rows = []
        for label, place, commit in runs:
            rows.append((label, place, gate_run(clone, base, commit, args)))
            print(f"\nCalibration so far:\n{table(rows)}\n", flush=True)


def throwaway_clone(folder):
    """A clone of this repository's HEAD in `folder`, where calibration commits may be made."""
    clone = folder / "repo"
    git(ROOT, "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone))
    git(clone, "config", "user.name", "calibration")
    git(clone, "config", "user.email", "calibration@localhost")
    return clone


def git(folder, *arguments):
    return subprocess.run(["git", *arguments], cwd=folder, check=True, capture_output=True,
                          text=True).stdout.strip()


def slow_commit(clone, base, place, slowdown):
    """A commit on `base` whose `place` (a key of INJECTIONS) takes `slowdown` more time."""
    git(clone, "checkout", "--quiet", base)
    inject(clone, place, slowdown)
    git(clone, "commit", "--quiet", "-am", f"calibration: {place} {slowdown:.0%} slower")
    return git(clone, "rev-parse", "HEAD")


def inject(clone, place, slowdown):
    """Make `place` (a key of INJECTIONS) in the clone's work tree take `slowdown` more time."""
    for path, code, slowed in INJECTIONS[place]:
        source = (clone / path).read_text()
        if code not in source:
            sys.exit(f"calibration: {path} no longer contains {code.strip()!r}; update INJECTIONS")
        source = source.replace(code, slowed.format(slowdown=slowdown), 1)
        (clone / path).write_text("import time\n" + BUSY_WAIT + source)


def gate_run(clone, base, head, args):
    """The gate's verdicts and wall time, comparing `head` with `base` in the clone."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "tools/gate.py", base, head, *gate.stage_arguments(args)],
        cwd=clone,
    )
    verdicts = json.loads((clone / ".asv" / "gate" / "verdicts.json").read_text())
    return verdicts, time.perf_counter() - started


def affected_by(name, place):
    """Which package's slowdown at `place` a gated benchmark measures: "mpdot", "cydot", "partly" or None."""
    if place is None:
        return None
    if name in gate.PRODUCTS:
        return "cydot" if "cydot" in name else "mpdot"
    if place == "entry points":
        # A round trip is one Pool.dot; a pool start is mostly starting processes.
        return "mpdot" if "time_round_trip" in name else "partly"
    return None


def table(rows):
    lines = [
        "| gate run | flagged, not slowed | mpdot flagged | cydot flagged | inconclusive "
        "| highest unchanged | minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, place, (verdicts, seconds) in rows:
        counts = {"false": 0, "unaffected": 0, "mpdot": [0, 0], "cydot": [0, 0], "inconclusive": 0}
        for v in verdicts:
            family = affected_by(v["name"], place)
            flagged = v["verdict"] == "regressed"
            counts["inconclusive"] += v["verdict"] == "inconclusive"
            if family in ("mpdot", "cydot"):
                counts[family][0] += flagged
                counts[family][1] += 1
            elif family is None:
                counts["false"] += flagged
                counts["unaffected"] += 1
        flagged = [f"{found} of {total}" if total else "–" for found, total in (counts["mpdot"], counts["cydot"])]
        unchanged = [v["ratio"] for v in verdicts if v["verdict"] == "unchanged"]
        highest = f"{max(unchanged):.3f}" if unchanged else "–"
        lines.append(
            f"| {label} | {counts['false']} of {counts['unaffected']} | {flagged[0]} | {flagged[1]} | "
            f"{counts['inconclusive']} | {highest} | {seconds / 60:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
