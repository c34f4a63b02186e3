"""Faults: dead workers, Ctrl-C, threads, and nothing left behind afterwards."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import mpdot

SLOW_CALL = dict(kernel="naive")  # with the operands below: seconds, not milliseconds


def slow_operands():
    rng = np.random.default_rng(0)
    return rng.random((600, 6000)), rng.random((6000, 600))


def shm_segments():
    return set(os.listdir("/dev/shm"))


def kill_soon(pid, delay=0.3):
    timer = threading.Timer(delay, os.kill, (pid, signal.SIGKILL))
    timer.start()
    return timer


def test_worker_killed_mid_call_raises_broken_pool_quickly():
    a, b = slow_operands()
    with mpdot.Pool(2) as pool:
        pool.dot(a[:4], b)  # start the workers
        kill_soon(pool._workers._processes[0].pid)
        started = time.monotonic()
        with pytest.raises(mpdot.BrokenPoolError, match="died"):
            pool.dot(a, b, **SLOW_CALL)
        assert time.monotonic() - started < 5
        assert pool.broken
        with pytest.raises(mpdot.BrokenPoolError):
            pool.dot(a, b)
        assert pool._workers._processes == []


def kill_idle_worker(pool, index=1):
    process = pool._workers._processes[index]
    os.kill(process.pid, signal.SIGKILL)
    process.join(5)


def test_default_pool_is_rebuilt_transparently_after_an_idle_worker_dies():
    a, b = np.ones((10, 20)), np.ones((20, 30))
    mpdot.dot(a, b, nprocesses=2)
    kill_idle_worker(mpdot._default._pool)
    np.testing.assert_array_equal(mpdot.dot(a, b, nprocesses=2), np.dot(a, b))


def test_default_pool_raises_when_a_worker_dies_mid_call_then_is_rebuilt():
    a, b = slow_operands()
    mpdot.dot(a[:4], b, nprocesses=2)
    kill_soon(mpdot._default._pool._workers._processes[0].pid)
    with pytest.raises(mpdot.BrokenPoolError, match="died"):
        mpdot.dot(a, b, nprocesses=2, **SLOW_CALL)
    np.testing.assert_allclose(mpdot.dot(a[:4], b[:, :5], nprocesses=2), np.dot(a[:4], b[:, :5]))


def test_an_explicit_pool_whose_idle_worker_died_raises():
    a, b = np.ones((10, 20)), np.ones((20, 30))
    with mpdot.Pool(2) as pool:
        pool.dot(a, b)
        kill_idle_worker(pool)
        assert pool.broken
        with pytest.raises(mpdot.BrokenPoolError):
            pool.dot(a, b)


def test_default_pool_is_resized_on_demand():
    a, b = np.ones((10, 20)), np.ones((20, 30))
    for nprocesses in (1, 3, 2):
        np.testing.assert_array_equal(mpdot.dot(a, b, nprocesses=nprocesses), np.dot(a, b))
        assert len(mpdot._default._pool._workers._processes) == nprocesses


def test_calls_from_several_threads_get_their_own_results(pool):
    rng = np.random.default_rng(3)
    cases = [(rng.random((60, 50)), rng.random((50, 40))) for _ in range(8)]
    results = [None] * len(cases)

    def work(index):
        for _ in range(20):
            a, b = cases[index]
            results[index] = pool.dot(a, b)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (a, b), result in zip(cases, results):
        np.testing.assert_allclose(result, np.dot(a, b))


def test_many_calls_do_not_accumulate_segments(pool):
    before = shm_segments()
    a, b = np.ones((20, 30)), np.ones((30, 10))
    for _ in range(300):
        pool.dot(a, b)
        pool.dot(mpdot.asarray(a), b, out=mpdot.empty((20, 10)))
    assert len(shm_segments() - before) <= 4  # the pool's reused buffers


def run_script(body, **kwargs):
    script = textwrap.dedent(
        """
        import os, sys, numpy as np, mpdot
        import mpdot._pool
        mpdot._pool.MIN_WORKER_FLOPS = mpdot._pool.MIN_WORKER_FLOPS_WITHOUT_BLAS = 0
        """
    ) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def assert_gone(pids):
    deadline = time.monotonic() + 5
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _is_running(pid)}
        time.sleep(0.05)
    assert not alive, f"orphan worker processes: {alive}"


def _is_running(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_nothing_left_after_many_calls_close_and_exit(start_method):
    before = shm_segments()
    process = run_script(
        f"""
        rng = np.random.default_rng(0)
        a, b = rng.random((30, 40)), rng.random((40, 20))
        shared_a = mpdot.asarray(a)
        pool = mpdot.Pool(2, start_method={start_method!r})
        for i in range(1000):
            out = None if i % 3 else mpdot.empty((30, 20))
            result = pool.dot(shared_a if i % 2 else a, b, out=out)
            assert np.allclose(result, a @ b)
        pids = [p.pid for p in pool._workers._processes]
        pool.close()
        mpdot.dot(a, b, nprocesses=2)  # the default pool is left for exit to close
        pids += [p.pid for p in mpdot._default._pool._workers._processes]
        print(*pids)
        """
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "leaked" not in stderr and "Warning" not in stderr, stderr
    assert_gone(int(pid) for pid in stdout.split())
    assert shm_segments() - before == set()


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
@pytest.mark.parametrize("exit_call", ["os._exit(0)", "os.kill(os.getpid(), 9)"])
def test_workers_clean_up_when_the_parent_dies_without_doing_so(start_method, exit_call):
    # asv's benchmark processes end with os._exit: no finalizer closes their pools.
    before = shm_segments()
    process = run_script(
        f"""
        pool = mpdot.Pool(2, start_method={start_method!r})
        pool.dot(mpdot.asarray(np.ones((40, 30))), np.ones((30, 20)))
        print(*[p.pid for p in pool._workers._processes], flush=True)
        {exit_call}
        """
    )
    # stderr closes once the resource tracker, which would warn of leaks, has exited.
    stdout, stderr = process.communicate(timeout=60)
    assert_gone(int(pid) for pid in stdout.split())
    assert "leaked" not in stderr, stderr
    assert shm_segments() - before == set()


def test_ctrl_c_mid_call_leaves_no_worker_and_no_segment():
    before = shm_segments()
    process = run_script(
        """
        import signal
        # As from a terminal: a test run started in the background ignores SIGINT, and so would this.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        a, b = np.random.rand(600, 6000), np.random.rand(6000, 600)
        pool = mpdot.Pool(2)
        pool.dot(a[:4], b)
        print(*[p.pid for p in pool._workers._processes], flush=True)
        pool.dot(a, b, kernel="naive")
        """,
        start_new_session=True,
    )
    pids = [int(pid) for pid in process.stdout.readline().split()]
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    stdout, stderr = process.communicate(timeout=30)
    ended = f"exit code {process.returncode}, stdout {stdout!r}, stderr {stderr!r}"
    assert "KeyboardInterrupt" in stderr, ended
    assert "leaked" not in stderr, stderr
    assert_gone(pids)
    assert shm_segments() - before == set()
