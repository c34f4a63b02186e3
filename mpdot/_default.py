"""mpdot.dot: a matrix product on a lazily created, reusable default pool."""

import os
import threading

from ._operands import check_count
from ._pool import Pool, available_cpus

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
    """
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
