"""Large copies on several threads of the calling process: numpy releases the GIL while it copies.

Plain operands must be copied into shared memory, and a result out of it, by
the caller: no worker can read the caller's memory. One thread copies at one
core's share of the memory bandwidth while the workers wait.
"""

import concurrent.futures
import os

from ._slices import slices

# Smaller copies run on the calling thread alone, so that waking a helper
# thread is never a large part of one.
MIN_PARALLEL_BYTES = 2**22


class Copier:
    """Copies 2-D arrays by row blocks on up to `nthreads` threads, the calling one included."""

    def __init__(self, nthreads):
        self._nthreads = nthreads
        self._helpers = None
        self._owner = os.getpid()

    def copy(self, target, source):
        """``target[...] = source``."""
        nthreads = min(self._nthreads, len(target))
        # A forked copy of this process has none of the helper threads.
        if nthreads < 2 or target.nbytes < MIN_PARALLEL_BYTES or os.getpid() != self._owner:
            target[...] = source
            return
        if self._helpers is None:
            self._helpers = concurrent.futures.ThreadPoolExecutor(
                self._nthreads - 1, thread_name_prefix="mpdot-copy"
            )
        first, *others = slices(len(target), nthreads)
        pending = [self._helpers.submit(target.__setitem__, part, source[part]) for part in others]
        try:
            target[first] = source[first]
        finally:
            # Interrupted or not, no helper writes into `target` once this returns.
            concurrent.futures.wait(pending)
        for done in pending:
            done.result()

    def close(self):
        if self._helpers is not None and os.getpid() == self._owner:
            self._helpers.shutdown()
        self._helpers = None
