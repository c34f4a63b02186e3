"""Workers reading the caller's plain arrays where they are, with Linux's process_vm_readv.

Each worker reads its own part of plain operands a cache-sized piece at a time
(slices of the inner dimension, or row blocks of a against a small b read
once) and multiplies each piece while it is still in cache. Otherwise the
caller first copies every operand into shared memory, and the workers then
read them from memory again: on the original answer's shape, copying its 88 MB
took 13 ms on one thread, numpy.dot's whole product 19 ms.

Reading another process's memory needs the permission ptrace needs: same user,
and under Yama's ``ptrace_scope = 1`` (Ubuntu's default) a worker descended
from the caller, which forkserver's are not. A read refused raises
RemoteReadError, and the pool copies instead from then on.
"""

import copy
import ctypes
import functools
import os
import sys

import numpy as np

# The piece of a and b (columns of a, rows of b) read at a time: small enough
# to stay in cache while it is multiplied, large enough that Python's work per
# piece is small. On the original shape, float64, 2 workers: 0.69× numpy.dot
# against 0.54 copying first; 2**20 bytes 0.58-0.61, 2**22 0.79 once, with
# other rounds disturbed (docs/mpdot.md).
PIECE_BYTES = 2**21
_IOV_MAX = 1024  # iovecs per call, Linux's limit


class RemoteReadError(OSError):
    """A worker could not read the caller's memory (not permitted, or no process_vm_readv here)."""


@functools.cache
def _process_vm_readv():
    """libc's process_vm_readv, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "process_vm_readv", None)
    if function is not None:
        pid, iovecs, count, flags = ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong
        function.argtypes = [pid, iovecs, count, iovecs, count, flags]
        function.restype = ctypes.c_ssize_t
    return function


def remote_reads_available():
    """Whether this system has process_vm_readv (Linux), whatever it permits."""
    return _process_vm_readv() is not None


def pays_to_read(m, k, n, dtype, along_inner):
    """Whether reading plain operands a piece at a time beats copying them first.

    Not for operands smaller than a piece, which the caller copies in
    microseconds: reading cost a 64³ round trip 417-432 µs against 178-216
    copied (`make compare`, Zen 3). Then along the inner dimension always, and
    by rows only if `b` (k × n) fits in a piece, since each worker reads all of it.
    """
    if (m * k + k * n) * dtype.itemsize < PIECE_BYTES:
        return False
    return along_inner or k * n * dtype.itemsize <= PIECE_BYTES


class RemoteArray:
    """A 2-D contiguous array in another process's memory: its shape, and how to read blocks of it.

    Picklable, and holds no reference to `array`, which must outlive every read.
    Made in the process that owns `array`; basic slicing in a worker gives the
    block's RemoteArray, and `read` copies it into this process.
    """

    def __init__(self, array, pid=None):
        self.pid = os.getpid() if pid is None else pid
        self.address = array.__array_interface__["data"][0]
        self.shape = array.shape
        # numpy lets an axis of length 1 have any stride, even a negative one.
        self.strides = tuple(stride if length > 1 else 0 for stride, length in zip(array.strides, array.shape))
        self.dtype = array.dtype
        # The order whose runs of adjacent elements are longest (a vector has both).
        flags = array.flags
        self.order = "C" if flags.c_contiguous and (array.shape[1] > 1 or not flags.f_contiguous) else "F"

    def __getitem__(self, index):
        rows, columns = index if isinstance(index, tuple) else (index, slice(None))
        block = copy.copy(self)
        starts, shape = [], []
        for axis, part in enumerate((rows, columns)):
            start, stop, step = part.indices(self.shape[axis])
            if step != 1:
                raise ValueError("a RemoteArray slices by contiguous ranges only")
            starts.append(start)
            shape.append(max(stop - start, 0))
        block.address = self.address + starts[0] * self.strides[0] + starts[1] * self.strides[1]
        block.shape = tuple(shape)
        return block

    @property
    def nbytes(self):
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def read(self, buffer):
        """The block copied into the start of `buffer`, a large enough 1-D uint8 array, in the same order."""
        out = buffer[: self.nbytes].view(self.dtype)
        out = out.reshape(self.shape, order=self.order)
        # Runs of adjacent elements: rows if C-ordered, columns if F-ordered.
        runs, run_length = self.shape if self.order == "C" else self.shape[::-1]
        stride = self.strides[0] if self.order == "C" else self.strides[1]
        run_bytes = run_length * self.dtype.itemsize
        if run_bytes == 0:
            return out
        if stride == run_bytes:  # the runs are adjacent too: one run
            runs, run_bytes = 1, runs * run_bytes
        for first in range(0, runs, _IOV_MAX):
            count = min(_IOV_MAX, runs - first)
            # struct iovec {void *base; size_t length;}, for these runs and for where they go.
            remote = np.empty((count, 2), np.uintp)
            remote[:, 0] = self.address + stride * np.arange(first, first + count, dtype=np.uintp)
            remote[:, 1] = run_bytes
            local = np.array([out.ctypes.data + first * run_bytes, count * run_bytes], np.uintp)
            self._read(local, remote, count * run_bytes)
        return out

    def _read(self, local, remote, nbytes):
        read = _process_vm_readv()
        if read is None:
            raise RemoteReadError(f"process_vm_readv is not available on {sys.platform}")
        done = read(self.pid, local.ctypes.data, 1, remote.ctypes.data, len(remote), 0)
        if done < 0:
            errno = ctypes.get_errno()
            raise RemoteReadError(errno, f"reading process {self.pid}'s memory: {os.strerror(errno)}")
        if done != nbytes:
            raise RemoteReadError(f"read {done} of {nbytes} bytes of process {self.pid}'s memory")


class Reader:
    """A worker's buffers for pieces of remote operands, kept across products."""

    def __init__(self):
        self._buffers = [np.empty(0, np.uint8), np.empty(0, np.uint8)]

    def product(self, kernel, a, b, out, along_inner):
        """``kernel(a, b, out)``, `a` or `b` (or both) a RemoteArray, a piece at a time.

        Pieces are slices of the inner dimension `along_inner`, otherwise row
        blocks of `a` and `out` against the whole of `b`, read once.
        """
        if not along_inner:
            b = self._fetch(1, b)
            step = max(1, PIECE_BYTES // max(a.shape[1] * a.dtype.itemsize, 1))
            for start in range(0, a.shape[0], step):
                part = slice(start, start + step)
                kernel(self._fetch(0, a[part]), b, out[part])
            return
        step = max(1, PIECE_BYTES // max((a.shape[0] + b.shape[1]) * out.itemsize, 1))
        partial = None
        for start in range(0, max(a.shape[1], 1), step):
            part = slice(start, start + step)
            a_piece, b_piece = (self._fetch(i, operand) for i, operand in enumerate((a[:, part], b[part])))
            if start == 0:
                kernel(a_piece, b_piece, out)
            else:
                if partial is None:
                    partial = np.empty_like(out)
                kernel(a_piece, b_piece, partial)
                out += partial

    def _fetch(self, index, operand):
        if not isinstance(operand, RemoteArray):
            return operand
        if self._buffers[index].nbytes < operand.nbytes:
            self._buffers[index] = np.empty(operand.nbytes, np.uint8)
        return operand.read(self._buffers[index])
