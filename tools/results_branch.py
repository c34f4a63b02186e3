"""Keep asv's results on a branch of their own, so a CI machine's history outlives its checkout.

Usage: python tools/results_branch.py restore|save [--branch asv-results] [--remote origin]

restore: fetch the branch and unpack its files into .asv/results (nothing to do
         if it does not exist yet: the first run starts the history).
save:    commit .asv/results as the branch's whole tree, on top of its last
         commit, and push it. Only that branch changes; the work tree, the
         index and the checked-out branch are left alone.
"""

import argparse
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".asv" / "results"


def git(*arguments, env=None, check=True):
    completed = subprocess.run(
        ["git", *arguments], cwd=ROOT, capture_output=True, env=env, check=False
    )
    if check and completed.returncode:
        sys.exit(f"git {' '.join(arguments)} failed: {completed.stderr.decode().strip()}")
    return completed


def fetched(remote, branch):
    """The commit the remote branch points at, fetched; None if the branch does not exist."""
    if git("fetch", "--quiet", remote, f"refs/heads/{branch}", check=False).returncode:
        return None
    return git("rev-parse", "FETCH_HEAD").stdout.decode().strip()


def restore(remote, branch):
    commit = fetched(remote, branch)
    if commit is None:
        print(f"No branch {branch} on {remote} yet: the history starts with this run.")
        return
    archive = git("archive", "--format=tar", commit).stdout
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # Only plain files inside RESULTS, where tarfile can say so (3.10.12+, 3.11.4+).
        tar.extractall(RESULTS, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    print(f"Restored {branch} ({commit[:8]}) into {RESULTS}")


def save(remote, branch):
    if not RESULTS.is_dir():
        sys.exit(f"{RESULTS} does not exist: run make bench first")
    parent = fetched(remote, branch)
    with tempfile.TemporaryDirectory() as folder:
        # A private index: the repository's own stays as it is.
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(folder) / "index"))
        git(f"--work-tree={RESULTS}", "add", "--all", "--force", ".", env=env)
        tree = git("write-tree", env=env).stdout.decode().strip()
    if parent and git("rev-parse", f"{parent}^{{tree}}").stdout.decode().strip() == tree:
        print(f"{branch} already holds these results.")
        return
    message = f"asv results as of {git('rev-parse', '--short', 'HEAD').stdout.decode().strip()}"
    commit = git("commit-tree", tree, *(["-p", parent] if parent else []), "-m", message).stdout.decode().strip()
    git("push", "--quiet", remote, f"{commit}:refs/heads/{branch}")
    print(f"Saved {RESULTS} to {branch} ({commit[:8]}) on {remote}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["restore", "save"])
    parser.add_argument("--branch", default="asv-results")
    parser.add_argument("--remote", default="origin")
    args = parser.parse_args(argv)
    {"restore": restore, "save": save}[args.action](args.remote, args.branch)


if __name__ == "__main__":
    main()
