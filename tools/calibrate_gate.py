"""Measure the regression gate's false alarms and detection rate on this machine.

Usage: python tools/calibrate_gate.py [--identical-runs 5] [--slowdowns 0.10 0.25] [GATE OPTIONS]

In a temporary clone of the committed HEAD (your checkout is only read), this
makes throwaway commits: one with identical code, and one per slowdown that
makes mpdot's block kernel and cydot's blocked kernel that much slower, exactly
(each call busy-waits for that fraction of its own wall time). It runs
tools/gate.py on each against HEAD and prints the table README shows.
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
'''
# (file, the kernel call as it is, the same call slowed down by SLOWDOWN of its time)
INJECTIONS = [
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
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identical-runs", type=int, default=5)
    parser.add_argument("--slowdowns", type=float, nargs="*", default=[0.10, 0.25])
    parser.add_argument("--rounds", type=int, default=gate.ROUNDS)
    parser.add_argument("--confirm-rounds", type=int, default=gate.CONFIRM_ROUNDS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="calibrate-gate-") as folder:
        clone = Path(folder) / "repo"
        git(ROOT, "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone))
        git(clone, "config", "user.name", "calibration")
        git(clone, "config", "user.email", "calibration@localhost")
        base = git(clone, "rev-parse", "HEAD")
        git(clone, "commit", "--quiet", "--allow-empty", "-m", "calibration: identical code")
        identical = git(clone, "rev-parse", "HEAD")
        slowed = {slowdown: slow_commit(clone, base, slowdown) for slowdown in args.slowdowns}

        runs = [(f"identical code, run {run + 1}", identical) for run in range(args.identical_runs)]
        runs += [(f"{slowdown:.0%} slower kernels", commit) for slowdown, commit in slowed.items()]
        rows = []
        for label, commit in runs:
            rows.append((label, gate_run(clone, base, commit, args)))
            print(f"\nCalibration so far:\n{table(rows)}\n", flush=True)


def git(folder, *arguments):
    return subprocess.run(["git", *arguments], cwd=folder, check=True, capture_output=True,
                          text=True).stdout.strip()


def slow_commit(clone, base, slowdown):
    """A commit on `base` whose mpdot and cydot kernels take `slowdown` more time."""
    git(clone, "checkout", "--quiet", base)
    for path, call, slowed in INJECTIONS:
        source = (clone / path).read_text()
        if call not in source:
            sys.exit(f"calibrate_gate: {path} no longer contains {call.strip()!r}; update INJECTIONS")
        source = source.replace(call, slowed.format(slowdown=slowdown), 1)
        (clone / path).write_text("import time\n" + source + BUSY_WAIT)
    git(clone, "commit", "--quiet", "-am", f"calibration: kernels {slowdown:.0%} slower")
    return git(clone, "rev-parse", "HEAD")


def gate_run(clone, base, head, args):
    """The gate's verdicts and wall time, comparing `head` with `base` in the clone."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "tools/gate.py", base, head,
         "--rounds", str(args.rounds), "--confirm-rounds", str(args.confirm_rounds)],
        cwd=clone,
    )
    verdicts = json.loads((clone / ".asv" / "gate" / "verdicts.json").read_text())
    return verdicts, time.perf_counter() - started


def affected_by(name):
    """Which injected slowdown a gated benchmark measures directly, if any."""
    if "time_dot" in name:
        return "cydot" if "cydot" in name else "mpdot"
    return None


def table(rows):
    lines = [
        "| gate run | flagged, not slowed | mpdot flagged | cydot flagged | inconclusive | minutes |",
        "|---|---|---|---|---|---|",
    ]
    for label, (verdicts, seconds) in rows:
        slowed = "slower" in label
        counts = {"false": 0, "mpdot": [0, 0], "cydot": [0, 0], "inconclusive": 0}
        for v in verdicts:
            family = affected_by(v["name"]) if slowed else None
            flagged = v["verdict"] == "regressed"
            counts["inconclusive"] += v["verdict"] == "inconclusive"
            if family:
                counts[family][0] += flagged
                counts[family][1] += 1
            else:
                counts["false"] += flagged
        unaffected = len(verdicts) - counts["mpdot"][1] - counts["cydot"][1]
        flagged = [f"{found} of {total}" if total else "–" for found, total in (counts["mpdot"], counts["cydot"])]
        lines.append(
            f"| {label} | {counts['false']} of {unaffected} | {flagged[0]} | {flagged[1]} | "
            f"{counts['inconclusive']} | {seconds / 60:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
