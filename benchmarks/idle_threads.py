"""Waiting for this process's other threads to sleep: OpenBLAS's helpers spin ~0.1 s after a call.

`make` shortens that spin to ~10 ms (OPENBLAS_THREAD_TIMEOUT, Makefile).

Imports nothing from the suite, so a helper process run as a script can use it too.
"""

import os
import threading
import time
import timeit


def wait_for_other_threads_to_sleep(timeout=0.5, poll=0.005):
    """Wait until no other thread of this process is running (Linux; elsewhere, return)."""
    deadline = timeit.default_timer() + timeout
    while _other_threads_running() and timeit.default_timer() < deadline:
        time.sleep(poll)


def _other_threads_running():
    this_thread = threading.get_native_id()
    try:
        tasks = [int(task) for task in os.listdir("/proc/self/task")]
    except FileNotFoundError:
        return False
    for task in tasks:
        if task == this_thread:
            continue
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] == "R":
                    return True
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended before open, or before read
            pass
    return False
