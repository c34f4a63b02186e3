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
            if task != process.pid:
                assert os.sched_getscheduler(task) == os.SCHED_IDLE
                helpers += 1
    if not helpers:
        pytest.skip("this BLAS started no helper threads in the workers")


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="needs Linux's SCHED_BATCH")
def test_a_woken_worker_lets_the_parent_send_every_block_first(start_method):
    with mpdot.Pool(2, start_method) as pool:
        pool.dot(np.ones((300, 300)), np.ones((300, 300)))
        assert [os.sched_getscheduler(p.pid) for p in pool._workers._processes] == [os.SCHED_BATCH] * 2


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
