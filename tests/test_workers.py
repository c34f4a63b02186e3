"""Worker processes leave their CPU to the computation: BLAS helper threads wait on idle CPUs."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="needs Linux's SCHED_IDLE")


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
