"""How worker processes share the CPUs: one per CPU when they can, BLAS helpers only when idle."""

import os

import numpy as np
import pytest
from conftest import START_METHODS

import mpdot


@pytest.fixture(params=START_METHODS)
def start_method(request):
    return request.param


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs Linux's SCHED_IDLE")
def test_only_the_main_thread_of_a_worker_competes_for_cpus(pool):
    pool.dot(np.ones((50, 40)), np.ones((40, 30)))
    helpers = 0
    for process in pool._workers._processes:
        for task in map(int, os.listdir(f"/proc/{process.pid}/task")):
            expected = os.SCHED_OTHER if task == process.pid else os.SCHED_IDLE
            assert os.sched_getscheduler(task) == expected
            helpers += task != process.pid
    if not helpers:
        pytest.skip("this BLAS started no helper threads in the workers")


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity")
def test_one_worker_per_cpu_runs_on_its_own(start_method):
    cpus = sorted(os.sched_getaffinity(0))
    with mpdot.Pool(len(cpus), start_method) as pool:
        pool.dot(np.ones((50, 40)), np.ones((40, 30)))
        assert [os.sched_getaffinity(p.pid) for p in pool._workers._processes] == [{c} for c in cpus]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity")
def test_other_worker_counts_are_left_to_the_scheduler():
    cpus = os.sched_getaffinity(0)
    with mpdot.Pool(len(cpus) + 1) as pool:
        pool.dot(np.ones((50, 40)), np.ones((40, 30)))
        assert all(os.sched_getaffinity(p.pid) == cpus for p in pool._workers._processes)
