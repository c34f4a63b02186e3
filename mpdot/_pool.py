"""The Pool: persistent workers computing a matrix product by blocks in shared memory."""

import math
import multiprocessing
import os
import threading
import warnings
import weakref

import numpy as np

from ._copy import Copier
from ._kernels import KERNELS
from ._operands import check_count, check_operands, overlaps
from ._remote import RemoteArray, RemoteReadError, pays_to_read, remote_reads_available
from ._shared import SharedMemoryError, SharedSegment, segment_of
from ._workers import Workers

# Smaller products (2·m·k·n operations) run in the caller. numpy.dot computes
# float and complex products with BLAS on every CPU, which the workers only
# come near from about 512³ (0.93-0.99× it up to 800³ on 2 CPUs, 0.5× at 200³);
# other dtypes (integers, float16, bool), and the naive kernel, on one thread,
# which two workers beat by 1.7-1.9× from 128³ (docs/mpdot.md).
MIN_WORKER_FLOPS = 2 * 512**3
MIN_WORKER_FLOPS_WITHOUT_BLAS = 2 * 128**3
_BLAS_DTYPES = "fdFD"  # what numpy.dot computes with BLAS

# Splitting along k is for a small output and a long inner dimension (the
# original answer's 50×100000 @ 100000×60): row blocks would each read all of b.
# Per-worker partial products are then summed, which only float and complex
# results tolerate, and only BLAS's dtypes of them (integer sums would be
# exact, but gain nothing from BLAS).
_K_SPLIT_MAX_OUTPUT = 2**16


# fork would copy a process whose BLAS threads are running (importing numpy
# starts one here), which Python 3.12+ warns may deadlock; Python 3.14 makes
# forkserver Linux's default too. A forkserver pool starts in about 0.2 s
# against 12 ms for fork (2 workers, 256³ first product), and a round trip to
# its workers takes about 10 µs longer (docs/mpdot.md); products cost the same.
DEFAULT_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else None


def available_cpus():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Pool:
    """Persistent worker processes for matrix products, started on first use.

    `start_method` is multiprocessing's: ``"fork"``, ``"forkserver"`` (the
    default where it exists) or ``"spawn"``.

    Inputs that live in shared memory (`mpdot.empty`, `mpdot.asarray`, and views
    of them) reach the workers without a copy. So, on Linux, do plain inputs of
    2 MB or more whose product has a small output or a small `b`: the workers
    read them in this process's memory, a piece at a time. Other inputs are
    copied once into shared buffers the pool reuses across calls. Use as a
    context manager or call `close`.
    """

    def __init__(self, nprocesses=None, start_method=None):
        self.nprocesses = (
            available_cpus() if nprocesses is None else check_count("nprocesses", nprocesses)
        )
        context = multiprocessing.get_context(start_method or DEFAULT_START_METHOD)
        self.start_method = context.get_start_method()
        self._workers = Workers(context, self.nprocesses)
        self._close_workers = weakref.finalize(self, self._workers.close)
        self._copier = Copier(min(self.nprocesses, available_cpus()))
        self._staging = {}  # role ("a", "b", "out", "partials") -> its last view
        self._reads_remotely = True  # until a worker is refused the caller's memory
        self._lock = threading.Lock()

    def __repr__(self):
        state = "closed" if self.closed else "broken" if self.broken else "open"
        return f"<mpdot.Pool nprocesses={self.nprocesses} start_method={self.start_method!r} {state}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def closed(self):
        return not self._close_workers.alive

    @property
    def broken(self):
        """Whether a worker died or a call was interrupted: the next call would raise BrokenPoolError."""
        return self._workers.broken or self._workers.lost_worker

    def close(self):
        """Stop the workers and free the pool's shared buffers; safe to call twice."""
        with self._lock:
            self._close_workers()
            self._copier.close()
            self._staging.clear()

    def dot(self, a, b, out=None, kernel="blas"):
        """Matrix product of 2-D `a` and `b`, exactly as numpy.dot computes it.

        kernel: ``"blas"`` (numpy.dot per block) or ``"naive"`` (the original
        per-column multiply-and-sum). `out`, if given, must be C-contiguous with
        the result's shape and dtype; it may overlap `a` or `b`. Products under
        `MIN_WORKER_FLOPS` (`MIN_WORKER_FLOPS_WITHOUT_BLAS` for those computed
        without BLAS: integers, float16, the naive kernel) are computed in this
        process, where they are faster. So are those whose shared buffers for
        plain operands cannot be reserved, with a RuntimeWarning saying why.
        """
        a, b, dtype = check_operands(a, b, out, kernel, KERNELS)
        (m, k), n = a.shape, b.shape[1]
        flops = 2 * m * k * n
        # A closed pool refuses every product, even one it would compute in the caller.
        self._check_open()
        if flops == 0 or flops < _min_worker_flops(dtype, kernel):
            return dot_in_caller(a, b, out, dtype, kernel)
        with self._lock:
            self._check_open()
            try:
                return self._dot_on_workers(a, b, out, dtype, kernel)
            except SharedMemoryError as error:  # raised before any worker starts on the product
                message = f"{error}. Computing this product in the calling process."
                warnings.warn(message, RuntimeWarning, stacklevel=2)
        return dot_in_caller(a, b, out, dtype, kernel)

    def _check_open(self):
        if self.closed:
            raise ValueError("the pool is closed: create a new mpdot.Pool")

    def _dot_on_workers(self, a, b, out, dtype, kernel):
        (m, k), n = a.shape, b.shape[1]
        split_along_k = _splits_along_k(m, k, n, dtype, self.nprocesses)
        operands = {"a": a, "b": b}
        remotely = (
            self._reads_remotely and remote_reads_available() and pays_to_read(m, k, n, dtype, split_along_k)
        )
        ways = {role: self._way_to_reach(operand, dtype, remotely) for role, operand in operands.items()}
        # Every buffer is reserved before anything is copied into one: a
        # reservation that fails (SharedMemoryError) then wastes no copy.
        staged = {
            role: self._staging_array(role, operand.shape, dtype)
            for role, operand in operands.items()
            if ways[role] == "copied"
        }
        if split_along_k:
            target = self._staging_array("partials", (self.nprocesses, m, n), dtype)
        # Without a usable `out`, the workers write into a reused buffer whose
        # pages are already mapped: faulting in a new segment costs more than
        # copying the result out of it (17 ms against 1.4 ms at 2000²).
        elif out is not None and segment_of(out) is not None and not overlaps(out, a, b):
            target = out
        else:
            target = self._staging_array("out", (m, n), dtype)
        reached = [self._reached(operand, ways[role], staged.get(role), dtype) for role, operand in operands.items()]
        try:
            self._workers.run(kernel, *reached, target, along_inner=split_along_k)
        except RemoteReadError:  # nothing written yet: copy the operands instead, from now on
            self._reads_remotely = False
            return self._dot_on_workers(a, b, out, dtype, kernel)
        if split_along_k:
            # The operands are no longer read: `out` may overlap them.
            return np.sum(target, axis=0, out=out)
        if target is out:
            return out
        result = np.empty(target.shape, dtype) if out is None else out
        self._copier.copy(result, target)
        return result

    def _way_to_reach(self, operand, dtype, remotely):
        """How the workers will read `operand`: ``"in place"``, ``"remotely"`` (if allowed) or ``"copied"``."""
        # Workers that fork now inherit the operands copy-on-write.
        if self._workers.fork_on_next_run:
            return "in place"
        # Otherwise they read only an operand of `dtype`, contiguous, where it is.
        if operand.dtype != dtype or not (operand.flags.c_contiguous or operand.flags.f_contiguous):
            return "copied"
        if segment_of(operand) is not None:
            return "in place"
        return "remotely" if remotely else "copied"

    def _reached(self, operand, way, buffer, dtype):
        """`operand` as the workers receive it: itself as `dtype`, a RemoteArray, or copied into `buffer`."""
        if way == "remotely":
            return RemoteArray(operand)
        if way == "copied":
            self._copier.copy(buffer, operand)
            return buffer
        return operand.astype(dtype, copy=False)

    def _staging_array(self, role, shape, dtype):
        """The pool's shared buffer for `role` viewed with `shape` and `dtype`, grown if too small.

        The last view is kept: calls with the same shapes reuse it as it is.
        """
        staged = self._staging.get(role)
        if staged is not None and staged.shape == shape and staged.dtype == dtype:
            return staged
        nbytes = math.prod(shape) * dtype.itemsize
        segment = None if staged is None else segment_of(staged)
        if segment is None or segment.nbytes < nbytes:
            segment = SharedSegment(nbytes)
        staged = self._staging[role] = segment.view(shape, dtype)
        return staged


def dot_in_caller(a, b, out, dtype, kernel):
    """Compute the whole product in this process (small products, or no workers)."""
    shape = (a.shape[0], b.shape[1])
    target = np.empty(shape, dtype) if out is None or overlaps(out, a, b) else out
    KERNELS[kernel](a.astype(dtype, copy=False), b.astype(dtype, copy=False), target)
    if out is None:
        return target
    if target is not out:
        out[...] = target
    return out


def _min_worker_flops(dtype, kernel):
    """The smallest product worth sending to the workers: later for what BLAS threads compute."""
    if kernel == "blas" and dtype.char in _BLAS_DTYPES:
        return MIN_WORKER_FLOPS
    return MIN_WORKER_FLOPS_WITHOUT_BLAS


def _splits_along_k(m, k, n, dtype, nprocesses):
    if nprocesses == 1 or dtype.char not in _BLAS_DTYPES:
        return False
    return m < nprocesses or (m * n <= _K_SPLIT_MAX_OUTPUT and k >= 4 * max(m, n))
