"""numpy arrays in anonymous shared memory, and how worker processes map them.

A segment is a file with no name: a memfd on Linux, elsewhere (or in the folder
that MPDOT_SHARED_MEMORY names) a temporary file unlinked as soon as it is
made. Workers receive its descriptor over their socket. Nothing can be left
behind, whatever kills the processes: the kernel frees the memory with the
last descriptor and mapping. Its pages are reserved when it is made, so a full
mount raises SharedMemoryError here instead of SIGBUS at the first write (a
memfd is not bounded by /dev/shm's size, which Docker sets to 64 MB).
"""

import itertools
import math
import mmap
import os
import tempfile
import weakref

import numpy as np

# A folder for segments instead of memfd (for example /dev/shm or a local disk).
LOCATION_VARIABLE = "MPDOT_SHARED_MEMORY"

# Called with a segment's key when it is freed, so pools can tell their workers
# to unmap it (their mappings would otherwise keep its memory).
release_listeners = weakref.WeakSet()

# Every segment this process maps, so a forked worker can unmap its copies of them.
_segments = weakref.WeakSet()
_keys = itertools.count()

# Plain arrays that workers forked during a call find in their copy-on-write
# image of the parent, by id: no copy into shared memory. Valid for that call.
inherited = {}


class SharedMemoryError(MemoryError):
    """Shared memory of the size asked for could not be reserved.

    Attributes: `nbytes` asked for, `location` (``"memfd"`` or a folder), and
    `available` bytes there as far as the system tells (None if unknown).
    """

    def __init__(self, nbytes, location, available, reason):
        self.nbytes, self.location, self.available = nbytes, location, available
        free = "unknown" if available is None else _megabytes(available)
        if location == "memfd":
            remedy = "free memory or raise the memory limit (docker run --memory)"
        else:
            remedy = (
                f"give {location} more room (docker run --shm-size=...), or unset "
                f"{LOCATION_VARIABLE} to use memory not bounded by that mount"
            )
        super().__init__(
            f"cannot reserve {_megabytes(nbytes)} of shared memory in {location} "
            f"({reason}; {free} available): {remedy}"
        )


class SharedSegment:
    """A shared-memory block that numpy can view; freed when the last view is collected.

    numpy keeps an object exposing ``__array_interface__`` as the ``base`` of
    every array made from it, which is what ties the segment's life to its views.
    """

    def __init__(self, nbytes):
        self.nbytes = nbytes
        self.key = f"{os.getpid()}-{next(_keys)}"
        location = os.environ.get(LOCATION_VARIABLE) or _default_location()
        self.fd = _reserved_file(max(nbytes, 1), location)
        self._memory = mmap.mmap(self.fd, max(nbytes, 1))
        self.address = _address(self._memory)
        self.__array_interface__ = {
            "version": 3,
            "shape": (nbytes,),
            "typestr": "|u1",
            "data": (self.address, False),
        }
        self.release = weakref.finalize(self, _release, self._memory, self.fd, self.key, os.getpid())
        _segments.add(self)

    def view(self, shape, dtype):
        """A C-contiguous array of `shape` and `dtype` over the start of the segment."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        return np.asarray(self)[:nbytes].view(dtype).reshape(shape)


def _default_location():
    return "memfd" if hasattr(os, "memfd_create") else tempfile.gettempdir()


def _reserved_file(nbytes, location):
    """A descriptor of an unnamed file of `nbytes`, its pages reserved; SharedMemoryError if they aren't there."""
    fd = os.memfd_create("mpdot", os.MFD_CLOEXEC) if location == "memfd" else _unlinked_file(location)
    available = None
    try:
        available = _available_memory() if location == "memfd" else _free_space(fd)
        if available is not None and nbytes > available:
            # Reserving would fill the mount, or wake the OOM killer, before failing.
            raise SharedMemoryError(nbytes, location, available, "more than is free")
        os.ftruncate(fd, nbytes)
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, nbytes)
    except OSError as error:
        os.close(fd)
        raise SharedMemoryError(nbytes, location, available, error.strerror) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlinked_file(folder):
    try:
        return os.open(folder, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
    except (AttributeError, OSError):  # no O_TMPFILE here or on this file system
        fd, path = tempfile.mkstemp(prefix="mpdot-", dir=folder)
        os.unlink(path)
        return fd


def _free_space(fd):
    status = os.fstatvfs(fd)
    return status.f_bavail * status.f_frsize


def _available_memory():
    """Bytes of memory this process may still take: MemAvailable, within its cgroup's limit."""
    try:
        with open("/proc/meminfo") as meminfo:
            available = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, open("/sys/fs/cgroup/memory.current") as usage:
            limit = limit.read().strip()
            if limit != "max":
                available = min(available, int(limit) - int(usage.read()))
    except (OSError, ValueError):  # no cgroup v2 limit readable here
        pass
    return available


def _address(memory):
    return np.frombuffer(memory, np.uint8).ctypes.data


def _megabytes(nbytes):
    return f"{nbytes / 2**20:.1f} MB"


def _release(memory, fd, key, creator_pid):
    memory.close()
    os.close(fd)
    # A forked child inherits this finalizer; only the creator's pools have workers mapping it.
    if os.getpid() == creator_pid:
        for listener in list(release_listeners):
            listener.segment_released(key)


def release_inherited_segments():
    """Unmap the segments a forked process inherited, so their memory is freed with the parent's views."""
    for segment in list(_segments):
        segment.release()


def empty(shape, dtype=float):
    """Like numpy.empty, but in shared memory that mpdot's workers read without copying.

    Raises SharedMemoryError if the memory cannot be reserved.
    """
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = np.dtype(dtype)
    return SharedSegment(math.prod(shape) * dtype.itemsize).view(shape, dtype)


def zeros(shape, dtype=float):
    """Like numpy.zeros, in shared memory (a new segment is already zero-filled)."""
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


def describe(array, segment):
    """What a worker needs to find `array` (in `segment`, or inherited if None): a small picklable tuple.

    A worker that has not mapped the segment yet also needs its descriptor, sent beside the request.
    """
    if segment is None:
        if id(array) not in inherited:
            raise ValueError("a worker can only read arrays in shared memory or inherited by fork")
        return "inherited", id(array)
    offset = array.__array_interface__["data"][0] - segment.address
    return "shared", segment.key, offset, array.shape, array.strides, array.dtype.str


class AttachedSegments:
    """A worker's mapped segments, so repeated calls don't map and fault pages again."""

    def __init__(self):
        self._memories = {}

    def attach(self, segments, fds):
        """Map each new segment, a ``(key, nbytes)``, from its descriptor; the descriptors are then closed."""
        try:
            for (key, nbytes), fd in zip(segments, fds):
                self._memories[key] = mmap.mmap(fd, max(nbytes, 1))
        finally:
            for fd in fds:
                os.close(fd)

    def view(self, description):
        if description[0] == "inherited":
            return inherited[description[1]]
        _, key, offset, shape, strides, dtype = description
        return np.ndarray(shape, dtype, buffer=self._memories[key], offset=offset, strides=strides)

    def forget(self, keys):
        """Unmap segments the parent has freed; no view of them may be alive."""
        for key in keys:
            memory = self._memories.pop(key, None)
            if memory is not None:
                memory.close()

    def close(self):
        self.forget(list(self._memories))
