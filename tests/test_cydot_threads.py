"""cydot's own threads (cydot/_team.h): reused, shared safely, reborn after fork, free of races."""

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import cydot
from cydot._api import _Workspaces

rng = np.random.default_rng(5)
A, B = rng.random((300, 200)), rng.random((200, 250))


def thread_count():
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_helpers_are_started_once_and_reused():
    cydot.dot(A, B, nthreads=3)
    before = thread_count()
    for _ in range(20):
        cydot.dot(A, B, nthreads=3)
    assert thread_count() <= before  # other tests' threads may end meanwhile, none may start


def test_products_from_several_python_threads_at_once_are_each_right():
    operands = [(rng.random((200, 150 + i)), rng.random((150 + i, 90))) for i in range(6)]
    results = [None] * len(operands)

    def multiply(i):
        a, b = operands[i]
        for _ in range(10):
            results[i] = cydot.dot(a, b, nthreads=2)

    threads = [threading.Thread(target=multiply, args=(i,)) for i in range(len(operands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for (a, b), result in zip(operands, results):
        np.testing.assert_allclose(result, a @ b, rtol=1e-12)


def test_a_workspace_is_lent_to_one_call_at_a_time_and_the_largest_are_kept():
    workspaces = _Workspaces(keep=2)
    first = workspaces.take(2, 100)
    second = workspaces.take(2, 100)
    assert second is not first
    workspaces.give_back(first)
    assert workspaces.take(1, 50) is first  # large enough: reused
    sizes = [(1, 10), (2, 300), (3, 20)]
    for lent in [first, second, *(workspaces.take(*size) for size in sizes)]:
        workspaces.give_back(lent)
    kept = [workspaces.take(1, 1) for _ in range(2)]
    assert [workspace.shape for workspace in kept] == [(2, 300), (2, 100)]
    assert workspaces.take(1, 1).shape == (1, 1)  # none left: a new one


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_a_forked_child_computes_on_a_helper_of_its_own():
    cydot.dot(A, B, nthreads=2)  # the parent's helper exists; fork copies only the calling thread
    pid = os.fork()
    if pid == 0:
        result = cydot.dot(A, B, nthreads=2)
        helper_started = thread_count() == 2
        right = np.allclose(result, A @ B, rtol=1e-12)
        os._exit(0 if helper_started and right else 1)
    deadline = time.monotonic() + 60
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    if waited == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's product hung")
    assert os.waitstatus_to_exitcode(waited[1]) == 0


class Interrupted(Exception):
    pass


def interrupt(signum, frame):
    raise Interrupted


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_a_signal_during_a_product_reaches_python_and_the_threads_still_work():
    a = rng.random((1500, 1500))
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        with pytest.raises(Interrupted):
            for _ in range(100):
                cydot.dot(a, a, nthreads=2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    np.testing.assert_allclose(cydot.dot(A, B, nthreads=2), A @ B, rtol=1e-12)


@pytest.mark.parametrize("callers", [1, 3])
@pytest.mark.parametrize("stress", ["team_stress", "shared_b_stress"])
def test_the_team_has_no_data_race_under_thread_sanitizer(stress, callers, tmp_path):
    # team_stress: products' blocks; shared_b_stress: B's panels packed once for all threads.
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler")
    flags = ["-std=c11", "-g", "-O1", "-fsanitize=thread", "-pthread", f"-I{Path(cydot.__file__).parent}"]
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    command = [compiler, *flags, str(probe), "-o", str(tmp_path / "probe")]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"{compiler} cannot build with ThreadSanitizer: {built.stderr[-300:]}")
    # It can: a stress program that does not build is a failure, not a skip.
    source = Path(__file__).parent / "c" / f"{stress}.c"
    program = tmp_path / stress
    built = subprocess.run([compiler, *flags, str(source), "-o", str(program)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    completed = subprocess.run([str(program), str(callers)], capture_output=True, text=True, timeout=300)
    if "FATAL: ThreadSanitizer" in completed.stderr:  # e.g. a kernel's address layout it cannot run in
        pytest.skip(completed.stderr[-300:])
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    assert "WARNING: ThreadSanitizer" not in completed.stderr
