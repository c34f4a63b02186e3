"""tools/speedups.py, the direct check beside make bench, prints a ratio per run, or why the suite skips a cell."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_speedups_tool_prints_each_runs_ratio_and_says_which_cells_are_skipped():
    completed = subprocess.run(
        [sys.executable, "tools/speedups.py", "--shapes", "square_256", "--dtypes", "float64", "--runs", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "square_256 float64 mpdot_shared: skipped, mpdot computes this product in the caller" in completed.stdout
    for name in ("mpdot_copied", "cydot_blocked"):
        assert re.search(rf"^  square_256 float64 {name}: \d+\.\d\d \d+\.\d\d$", completed.stdout, re.MULTILINE)
