"""tools/round_trip.py, the direct check of mpdot's round trip, runs and prints a median pair per run."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_round_trip_tool_prints_both_medians_for_each_pool():
    completed = subprocess.run(
        [sys.executable, "tools/round_trip.py", "--workers", "1", "2", "--inputs", "shared", "copied",
         "--runs", "2", "--calls", "5", "--idle-calls", "2", "--idle", "0.001"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    rows = re.findall(r"^  (\d) workers, (\w+): (\d+)\|(\d+) (\d+)\|(\d+)$", completed.stdout, re.MULTILINE)
    assert [row[:2] for row in rows] == [("1", "shared"), ("1", "copied"), ("2", "shared"), ("2", "copied")]


def test_round_trip_tool_refuses_counts_below_one():
    completed = subprocess.run(
        [sys.executable, "tools/round_trip.py", "--calls", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert "--calls must be at least 1, got 0" in completed.stderr
