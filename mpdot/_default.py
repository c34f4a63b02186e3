"""mpdot.dot: a matrix product on a lazily created, reusable default pool."""

import os
import threading

from ._kernels import KERNELS
from ._operands import check_count, check_operands
from ._pool import Pool, available_cpus, dot_in_caller

_lock = threading.Lock()
_pool = None


def _forget_parents_pool():
    """In a forked child: the parent's workers are not ours, and its lock may have been held."""
    global _lock, _pool
    _lock, _pool = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents_pool)


def dot(a, b, nprocesses=None, out=None, kernel="blas"):
    """Matrix product of 2-D `a` and `b` on `nprocesses` worker processes, as numpy.dot computes it.

    The workers are kept between calls (and restarted if `nprocesses` changes or
    one died), so only the first call pays for starting them. See `Pool.dot`.
    On one CPU, unless `nprocesses` is given, the product is computed in this
    process: a worker would compute the same after a round trip, and a copy of
    plain inputs (0.90-0.95x numpy.dot at 600³-2000³ under ``taskset -c 0``).
    """
    if nprocesses is None and available_cpus() == 1:
        a, b, dtype = check_operands(a, b, out, kernel, KERNELS)
        return dot_in_caller(a, b, out, dtype, kernel)
    nprocesses = available_cpus() if nprocesses is None else check_count("nprocesses", nprocesses)
    return default_pool(nprocesses).dot(a, b, out=out, kernel=kernel)


def default_pool(nprocesses):
    """The shared pool with `nprocesses` workers, replacing one of another size or a broken one."""
    global _pool
    with _lock:
        if _pool is None or _pool.nprocesses != nprocesses or _pool.broken:
            if _pool is not None:
                _pool.close()
            _pool = Pool(nprocesses)
        return _pool
