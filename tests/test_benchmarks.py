"""The asv suite imports and runs: a broken benchmark fails the gate, not the next nightly run."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def asv(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "asv", *arguments, "--config", str(ROOT / "asv.conf.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_suite_passes_asv_check():
    completed = asv("check", "--python=same")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_every_benchmark_runs_once():
    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], check=True, capture_output=True)
    completed = asv("run", "--python=same", "--quick", "--dry-run", "--show-stderr")
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "failed" not in output, output
