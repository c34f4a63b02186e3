"""The peers table docs/peers.md shows, read from asv's results of one commit: speed-up over numpy.dot, all CPUs.

Usage: python tools/peers_table.py [COMMIT]   (default HEAD; `make bench COMMITS=HEAD^!` first)

mpdot and cydot come from SpeedupOverNumpy, the peers from PeersSpeedup, all
measured in the same run. The header names the kernels that ran: OpenBLAS's as
threadpoolctl reports it and BLIS's sub-configuration, asked of the benchmark
environment's Python with this process's environment variables, so run this
with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as they were for the run.
"""

import itertools
import json
import subprocess
import sys
from pathlib import Path

from asv.results import Results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.bench_peers import PEER_SHAPES  # noqa: E402
from benchmarks.peers import PEERS  # noqa: E402

OURS = ["mpdot_shared", "mpdot_copied", "cydot_blocked", "mpdot_naive", "cydot_naive"]
SHAPE_LABELS = {
    "original_50x100000x60": "50×100000 @ 100000×60",
    "tall_skinny_20000x256x32": "20000×256 @ 256×32",
    "square_64": "64³",
    "square_256": "256³",
    "square_1000": "1000³",
    "square_2000": "2000³",
}
KERNELS = """
import json, numpy, threadpoolctl
kernels = {"blas": [f"{i['internal_api']} {i['version']} {i['architecture']}"
                    for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]}
try:
    from benchmarks.peers import blis_configuration
    kernels["blis"] = blis_configuration()
except Exception:
    kernels["blis"] = "not installed"
print(json.dumps(kernels))
"""


def main(argv=None):
    commit = rev_parse((argv or sys.argv[1:] or ["HEAD"])[0])
    results = load_results(commit)
    if results is None:
        sys.exit(f"no asv results for {commit[:8]}: run `make bench COMMITS={commit[:8]}^!` first")
    measured = speedups(results)
    workers = most_workers(measured)
    print(f"Speed-up over numpy.dot on {workers} workers (numpy.dot time / contender time, > 1: faster), "
          f"commit {commit[:8]}; {describe_kernels()}.\n")
    for dtype in ("float64", "float32"):
        print(table(measured, dtype, workers))
        print()


def rev_parse(name):
    """The full hash of commit `name`; exits saying so if there is none."""
    completed = subprocess.run(["git", "rev-parse", "--verify", f"{name}^{{commit}}"],
                               cwd=ROOT, capture_output=True, text=True)
    if completed.returncode:
        sys.exit(f"{name!r} is not a commit of this repository")
    return completed.stdout.strip()


def load_results(commit, results_dir=ROOT / ".asv" / "results"):
    """The latest asv results of `commit` in `results_dir`, or None."""
    paths = sorted(Path(results_dir).glob(f"*/{commit[:8]}-*.json"), key=lambda path: path.stat().st_mtime)
    return Results.load(str(paths[-1])) if paths else None


def speedups(results):
    """{(shape, workers, dtype, contender): speed-up over numpy.dot on as many threads}, ours and the peers."""
    ours = values(results, "bench_dot.SpeedupOverNumpy.track_speedup", lambda *key: key)
    return {**ours, **values(results, "bench_peers.PeersSpeedup.track_speedup", lambda *key: key)}


def most_workers(speedups):
    """The largest worker count measured (all CPUs): the tables and bars show that one."""
    return max((int(key[1]) for key in speedups), default=2)


def values(results, name, key):
    """{key(*parameters): value} for every measured parameter combination of benchmark `name`."""
    if name not in results.get_all_result_keys():
        return {}
    params = results.get_result_params(name)
    found = {}
    for combination, value in zip(itertools.product(*params), results.get_result_value(name, params)):
        label = key(*(parameter.strip("'") for parameter in combination))
        if label is not None and value is not None and value == value:  # NaN: skipped
            found[label] = value
    return found


def describe_kernels():
    pythons = sorted((ROOT / ".asv" / "env").glob("*/bin/python"), key=lambda path: path.parent.stat().st_mtime)
    if not pythons:
        return "kernels unknown (no benchmark environment)"
    python = pythons[-1]  # the environment asv set up last
    completed = subprocess.run([str(python), "-c", KERNELS], cwd=ROOT, capture_output=True, text=True)
    if completed.returncode:
        return f"kernels unknown ({python} failed: {completed.stderr.strip().splitlines()[-1:]})"
    kernels = json.loads(completed.stdout)
    return f"numpy.dot on {', '.join(kernels['blas'])} (threadpoolctl); BLIS sub-configuration {kernels['blis']}"


def table(speedups, dtype, workers):
    workers = str(workers)
    columns = [name for name in OURS + list(PEERS) if any(key[1:] == (workers, dtype, name) for key in speedups)]
    lines = [f"| {dtype} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for shape in PEER_SHAPES:
        cells = [speedups.get((shape, workers, dtype, name)) for name in columns]
        lines.append(f"| {SHAPE_LABELS[shape]} | " + " | ".join("" if v is None else f"{v:.2f}" for v in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
