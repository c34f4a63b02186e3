"""Where users run mpdot: a container's 64 MB /dev/shm, kill -9 of everything, few CPUs, forks.

The small /dev/shm is made as Docker makes it: a private mount namespace
(`unshare -m`, which needs root) with a fresh 64 MB tmpfs on /dev/shm.
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from test_faults import assert_gone, shm_segments

# Every product goes to the workers, however small, as in the other tests (conftest.py).
PRELUDE = """
import gc, os, sys, threading, warnings
import numpy as np
import mpdot
import mpdot._pool
mpdot._pool.MIN_WORKER_FLOPS = mpdot._pool.MIN_WORKER_FLOPS_WITHOUT_BLAS = 0
rng = np.random.default_rng(0)

def check(result, expected):
    assert np.allclose(result, expected), "wrong product"
"""


def _can_make_a_small_dev_shm():
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64m tmpfs /dev/shm"], capture_output=True
    )
    return probe.returncode == 0


small_dev_shm = pytest.mark.skipif(
    not _can_make_a_small_dev_shm(),
    reason="needs Linux, root and unshare to mount a 64 MB /dev/shm in a private namespace",
)


def run(body, *, dev_shm=None, env=None, prefix=(), timeout=300):
    """Run `body` after PRELUDE in a new Python; in a private 64 MB /dev/shm if `dev_shm`.

    Returns (exit status, stdout, stderr). With `dev_shm`, the last line of
    stdout is how many bytes of that /dev/shm were in use once Python exited.
    """
    command = [*prefix, sys.executable, "-c", PRELUDE + textwrap.dedent(body)]
    if dev_shm:
        wrapper = (
            f"mount -t tmpfs -o size={dev_shm} tmpfs /dev/shm || exit 99; "
            '"$@"; status=$?; df --output=used -B1 /dev/shm | tail -n 1; exit $status'
        )
        command = ["unshare", "-m", "sh", "-c", wrapper, "sh", *command]
    process = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )
    return process.returncode, process.stdout, process.stderr


def assert_clean_run(status, stdout, stderr, dev_shm=True):
    assert status == 0, f"exit status {status}: {stderr}"
    assert "leaked" not in stderr, stderr
    if dev_shm:
        assert int(stdout.split()[-1]) == 0, "the small /dev/shm still holds memory after exit"


@small_dev_shm
def test_an_array_larger_than_dev_shm_is_made_elsewhere():
    result = run(
        """
        plain = rng.random((3000, 3000))  # 72 MB
        shared = mpdot.asarray(plain)
        assert np.array_equal(shared, plain)
        check(mpdot.dot(shared, shared[:, :100], nprocesses=2), plain @ plain[:, :100])
        """,
        dev_shm="64m",
    )
    assert_clean_run(*result)


@small_dev_shm
def test_a_full_dev_shm_folder_raises_a_clear_error_not_sigbus():
    status, stdout, stderr = run(
        """
        try:
            mpdot.asarray(rng.random((3000, 3000)))
        except mpdot.SharedMemoryError as error:
            assert isinstance(error, MemoryError) and error.nbytes == 72_000_000
            print(error)
        else:
            raise AssertionError("no error")
        small = mpdot.asarray(np.ones((1000, 1000)))  # 8 MB still fit
        check(mpdot.dot(small, small, nprocesses=2), np.full((1000, 1000), 1000.0))
        del small
        """,
        dev_shm="64m",
        env={"MPDOT_SHARED_MEMORY": "/dev/shm"},
    )
    assert_clean_run(status, stdout, stderr)
    assert "cannot reserve 68.7 MB of shared memory in /dev/shm" in stdout
    assert "--shm-size" in stdout and "MPDOT_SHARED_MEMORY" in stdout


@small_dev_shm
@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_plain_inputs_larger_than_dev_shm_give_the_product(start_method):
    result = run(
        f"""
        a, b = rng.random((3000, 3000)), rng.random((3000, 3000))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with mpdot.Pool(2, start_method={start_method!r}) as pool:
                check(pool.dot(a, b), a @ b)
        """,
        dev_shm="64m",
    )
    assert_clean_run(*result)


@small_dev_shm
def test_buffers_that_do_not_fit_the_chosen_folder_compute_in_the_caller_with_a_warning():
    status, stdout, stderr = run(
        """
        a = mpdot.asarray(rng.random((3000, 1000)))  # 24 MB each: both fit,
        b = mpdot.asarray(rng.random((1000, 3000)))  # but not the 72 MB output
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check(mpdot.dot(a, b, nprocesses=2), np.asarray(a) @ np.asarray(b))
            plain = rng.random((3000, 3000))
            check(mpdot.dot(plain, plain, nprocesses=2), plain @ plain)
        messages = [str(w.message) for w in caught if w.category is RuntimeWarning]
        assert len(messages) == 2, messages
        print(*messages, sep="\\n")
        del a, b
        """,
        dev_shm="64m",
        env={"MPDOT_SHARED_MEMORY": "/dev/shm"},
    )
    assert_clean_run(status, stdout, stderr)
    assert stdout.count("Computing this product in the calling process") == 2


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_kill_9_of_the_whole_process_group_leaves_nothing(start_method, tmp_path):
    before = shm_segments()
    script = PRELUDE + textwrap.dedent(
        f"""
        a = mpdot.asarray(rng.random((600, 6000)))
        b = rng.random((6000, 600))
        pool = mpdot.Pool(2, start_method={start_method!r})
        pool.dot(a[:4], b)
        print(*[p.pid for p in pool._workers._processes], flush=True)
        pool.dot(a, b, kernel="naive")  # seconds: killed mid-call
        """
    )
    env = {**os.environ, "MPDOT_SHARED_MEMORY": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True, env=env
    )
    pids = [int(pid) for pid in process.stdout.readline().split()]
    assert len(pids) == 2
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)  # the OOM killer, docker kill, a CI time-out
    process.wait(timeout=30)
    process.stdout.close()
    assert_gone(pids)
    assert shm_segments() == before
    assert list(tmp_path.iterdir()) == []


def test_a_forked_child_of_a_process_that_used_mpdot_gets_its_own_workers():
    status, stdout, stderr = run(
        """
        a = mpdot.asarray(rng.random((300, 300)))
        check(mpdot.dot(a, a, nprocesses=2), np.asarray(a) @ np.asarray(a))
        parents = [p.pid for p in mpdot._default._pool._workers._processes]
        assert len(parents) == 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
            child = os.fork()
        if child == 0:
            check(mpdot.dot(a, a, nprocesses=2), np.asarray(a) @ np.asarray(a))
            assert not {p.pid for p in mpdot._default._pool._workers._processes} & set(parents)
            sys.exit(0)  # runs the child's finalizers, which must leave the parent's pool alone
        assert os.waitpid(child, 0)[1] == 0
        check(mpdot.dot(a, a, nprocesses=2), np.asarray(a) @ np.asarray(a))
        assert [p.pid for p in mpdot._default._pool._workers._processes] == parents
        """
    )
    assert_clean_run(status, stdout, stderr, dev_shm=False)


def test_an_explicit_pool_used_in_a_forked_child_says_whose_it_is():
    status, stdout, stderr = run(
        """
        pool = mpdot.Pool(2)
        pool.dot(np.ones((300, 300)), np.ones((300, 300)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:
            try:
                pool.dot(np.ones((300, 300)), np.ones((300, 300)))
            except mpdot.BrokenPoolError as error:
                assert "belong to process" in str(error), error
                os._exit(0)
            os._exit(1)
        assert os.waitpid(child, 0)[1] == 0
        check(pool.dot(np.ones((300, 300)), np.ones((300, 300))), np.full((300, 300), 300.0))
        pool.close()
        """
    )
    assert_clean_run(status, stdout, stderr, dev_shm=False)


MANY_WORKERS_ON_FEW_CPUS = """
shapes = [(1, 7, 300), (300, 300, 300), (50, 20000, 60), (700, 500, 400)]
cases = [(rng.random((m, k)), rng.random((k, n))) for m, k, n in shapes]
for a, b in cases:
    check(mpdot.dot(a, b, nprocesses=8), a @ b)
with mpdot.Pool(4) as pool:
    def work(index):
        for _ in range(10):
            a, b = cases[index % len(cases)]
            check(pool.dot(a, b), a @ b)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_eight_workers_confined_to_one_cpu_and_used_from_threads_stay_correct():
    assert_clean_run(*run(MANY_WORKERS_ON_FEW_CPUS, prefix=["taskset", "-c", "0"], timeout=120), dev_shm=False)


@small_dev_shm
def test_eight_workers_on_every_cpu_in_a_small_dev_shm():
    assert_clean_run(*run(MANY_WORKERS_ON_FEW_CPUS, dev_shm="64m", timeout=120))
