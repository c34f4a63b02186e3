"""numpy arrays backed by POSIX shared memory, and how worker processes find them."""

import math
import os
import sys
import weakref
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory

import numpy as np

# Called with a segment's name when it is unlinked, so pools can tell their
# workers to unmap it (an unlinked segment lives while any process maps it).
release_listeners = weakref.WeakSet()

# Plain arrays that workers forked during a call find in their copy-on-write
# image of the parent, by id: no copy into shared memory. Valid for that call.
inherited = {}


class SharedSegment:
    """A shared-memory block that numpy can view; unlinked when the last view is collected.

    numpy keeps an object exposing ``__array_interface__`` as the ``base`` of
    every array made from it, which is what ties the segment's life to its views.
    """

    def __init__(self, nbytes):
        memory = SharedMemory(create=True, size=max(nbytes, 1))
        self.name = memory.name
        self.nbytes = nbytes
        self.address = np.frombuffer(memory.buf, np.uint8).ctypes.data
        self.__array_interface__ = {
            "version": 3,
            "shape": (nbytes,),
            "typestr": "|u1",
            "data": (self.address, False),
        }
        weakref.finalize(self, _release, memory, os.getpid())

    def view(self, shape, dtype):
        """A C-contiguous array of `shape` and `dtype` over the start of the segment."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        return np.asarray(self)[:nbytes].view(dtype).reshape(shape)


def _release(memory, creator_pid):
    memory.close()
    # A forked child inherits this finalizer; only the creator may unlink.
    if os.getpid() == creator_pid:
        memory.unlink()
        for listener in list(release_listeners):
            listener.segment_released(memory.name)


def empty(shape, dtype=float):
    """Like numpy.empty, but backed by shared memory that mpdot's workers read without copying."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = np.dtype(dtype)
    return SharedSegment(math.prod(shape) * dtype.itemsize).view(shape, dtype)


def zeros(shape, dtype=float):
    """Like numpy.zeros, backed by shared memory (a new segment is already zero-filled)."""
    return empty(shape, dtype)


def asarray(a, dtype=None):
    """Return `a` if it already lives in shared memory, else a C-contiguous shared copy."""
    a = np.asarray(a, dtype=dtype)
    if segment_of(a) is not None:
        return a
    shared = empty(a.shape, a.dtype)
    shared[...] = a
    return shared


def segment_of(array):
    """The SharedSegment under `array`, or None if it is not in shared memory."""
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    return base if isinstance(base, SharedSegment) else None


def describe(array):
    """What a worker needs to find `array` (shared or inherited): a small picklable tuple."""
    segment = segment_of(array)
    if segment is None:
        if id(array) not in inherited:
            raise ValueError("a worker can only read arrays in shared memory or inherited by fork")
        return "inherited", id(array)
    offset = array.__array_interface__["data"][0] - segment.address
    return "shared", segment.name, offset, array.shape, array.strides, array.dtype.str


class AttachedSegments:
    """A worker's cache of mapped segments, so repeated calls don't map and fault pages again."""

    def __init__(self):
        self._memories = {}

    def view(self, description):
        if description[0] == "inherited":
            return inherited[description[1]]
        _, name, offset, shape, strides, dtype = description
        memory = self._memories.get(name)
        if memory is None:
            memory = self._memories[name] = _attach(name)
        return np.ndarray(shape, dtype, buffer=memory.buf, offset=offset, strides=strides)

    def forget(self, names):
        """Unmap segments the parent has unlinked; no view of them may be alive."""
        for name in names:
            memory = self._memories.pop(name, None)
            if memory is not None:
                memory.close()

    def close(self):
        self.forget(list(self._memories))

    def unlink(self):
        """Unlink and unmap every segment, for a parent that died without unlinking them.

        The worker that unlinks a segment first also takes it off the resource
        tracker's list, so the tracker has no leak to warn about when it exits.
        """
        for memory in self._memories.values():
            try:
                memory.unlink()
            except FileNotFoundError:  # another worker was first
                continue
            if sys.version_info >= (3, 13):  # attached untracked: unlink() left the entry
                resource_tracker.unregister(f"/{memory.name}", "shared_memory")
        self.close()


def _attach(name):
    # Before Python 3.13 attaching registers the segment with the resource
    # tracker again; the tracker is the parent's (shared by fork, forkserver and
    # spawn) and keeps a set of names, so the parent's unlink still clears it.
    if sys.version_info >= (3, 13):
        return SharedMemory(name, track=False)
    return SharedMemory(name)
