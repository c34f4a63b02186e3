"""numpy.dot on OpenBLAS's kernels for one instruction set, in a helper process of its own.

OpenBLAS reads OPENBLAS_CORETYPE once, when numpy loads it, and asv's benchmark
processes have numpy loaded already: the helper is started with the variable
set, receives the operands once, and times numpy.dot where it runs. This file
is also the helper's script, so it imports nothing from the suite but
idle_threads, found beside it.
"""

import os
import pickle
import statistics
import subprocess
import sys
import timeit

import numpy as np
from threadpoolctl import threadpool_info

# OpenBLAS's kernel set for each cydot level. SSE2 alone has none for doubles
# (Katmai's is SSE1); Nehalem's, SSE up to 4.2 without AVX, is the nearest.
CORETYPES = {"x86-64-v4": "SkylakeX", "x86-64-v3": "Haswell", "baseline": "Nehalem"}


class NumpyDotOnCoretype:
    """numpy.dot of `a` and `b` on `threads` BLAS threads, OpenBLAS forced to `coretype`'s kernels.

    Timed with ``median_seconds(calls)``; `architecture` is what threadpoolctl
    reports there, so the caller can check that OpenBLAS obeyed.
    """

    def __init__(self, a, b, threads, coretype):
        environment = dict(os.environ, OPENBLAS_CORETYPE=coretype, OPENBLAS_NUM_THREADS=str(threads))
        self.process = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment
        )
        self._send((a, b))
        self.architecture = self._receive()

    def median_seconds(self, calls):
        self._send(calls)
        return self._receive()

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.process.stdout.close()

    def _send(self, message):
        pickle.dump(message, self.process.stdin)
        self.process.stdin.flush()

    def _receive(self):
        return pickle.load(self.process.stdout)


def serve(requests, replies, wait_for_other_threads_to_sleep):
    """The helper: load the operands, report OpenBLAS's kernel set, then time calls until EOF."""
    a, b = pickle.load(requests)
    out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    architectures = [info.get("architecture") for info in threadpool_info() if info["internal_api"] == "openblas"]
    _reply(replies, architectures[0] if architectures else None)
    while True:
        try:
            calls = pickle.load(requests)
        except EOFError:
            return
        times = []
        for _ in range(calls):
            start = timeit.default_timer()
            np.dot(a, b, out=out)
            times.append(timeit.default_timer() - start)
        wait_for_other_threads_to_sleep()  # so that they take no core from the caller's side
        _reply(replies, statistics.median(times))


def _reply(replies, message):
    pickle.dump(message, replies)
    replies.flush()


if __name__ == "__main__":
    from idle_threads import wait_for_other_threads_to_sleep  # beside this script, on sys.path

    serve(sys.stdin.buffer, sys.stdout.buffer, wait_for_other_threads_to_sleep)
