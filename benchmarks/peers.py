"""The peers: what a user already knows for splitting a product, each set up the idiomatic fast way.

Each peer computes a @ b on `workers` threads or processes with BLAS on one
thread in each, so none oversubscribes the cores. Pools start in the
constructor, outside the timed region, and one call warms them; `close()` stops
them and removes every segment, file and process they made. A peer whose
package is missing raises SkipNotImplemented saying so; the packages are the
`peers` extra (pip install '.[peers]'). They are imported by the peer that
uses them, so no other benchmark process loads them.
"""

import concurrent.futures
import ctypes
import functools
import importlib
import math
import os
import shutil
import tempfile
import warnings
from multiprocessing import shared_memory

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits

from .common import Contender, SkipNotImplemented, safe_import


def package(name):
    """The module `name`, or SkipNotImplemented if it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise SkipNotImplemented(f"{name} is not installed (pip install '.[peers]')") from None


def row_blocks(nrows, count):
    """`count` contiguous, balanced slices covering range(nrows).

    What mpdot.slices does, written apart so that no peer changes with the code under test.
    """
    bounds = [nrows * i // count for i in range(count + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]


def chunks_for(shape, workers):
    """dask chunks of a and b: along rows, or along k for a small output and a long k (as mpdot splits)."""
    m, k, n = shape
    if k >= 4 * max(m, n):
        return (m, math.ceil(k / workers)), (math.ceil(k / workers), n)
    return (math.ceil(m / workers), k), (k, n)


def dev_shm_free():
    """Bytes free in /dev/shm, where POSIX shared memory lives on Linux (Docker's default: 64 MB); None without one."""
    try:
        status = os.statvfs("/dev/shm")
    except OSError:
        return None
    return status.f_bavail * status.f_frsize


@functools.cache
def blas():
    """threadpoolctl's handle on this process's BLAS, found once."""
    return ThreadpoolController()


class RowBlocksOnThreads(Contender):
    """`block(rows)` for each row block, on a pool of `workers` threads writing into one output."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        self.out = np.empty((self.a.shape[0], self.b.shape[1]), dtype)
        self.blocks = row_blocks(self.a.shape[0], workers)
        self.executor = concurrent.futures.ThreadPoolExecutor(workers)
        self()

    def __call__(self):
        list(self.executor.map(self.block, self.blocks))
        return self.out

    def close(self):
        self.executor.shutdown()


class ThreadsNumpy(RowBlocksOnThreads):
    """numpy.dot on row blocks in a pool of `workers` threads, BLAS on one thread: no copy, GIL released."""

    def __call__(self):
        with blas().limit(limits=1, user_api="blas"):
            return super().__call__()

    def block(self, rows):
        np.dot(self.a[rows], self.b, out=self.out[rows])


class ThreadsNaive(ThreadsNumpy):
    """The original answer's per-column multiply-and-sum on row blocks in a thread pool: mpdot_naive's twin.

    numpy releases the GIL inside each multiply and each sum, not between them.
    """

    def __init__(self, shape, workers, dtype):
        kernels = safe_import("mpdot._kernels")
        if kernels is None:
            raise SkipNotImplemented("mpdot's kernels are not in this commit")
        self.naive_kernel = kernels.naive_kernel
        super().__init__(shape, workers, dtype)

    def block(self, rows):
        self.naive_kernel(self.a[rows], self.b, self.out[rows])


class SharedMemoryPool(Contender):
    """multiprocessing.shared_memory with a ProcessPoolExecutor: mpdot by hand, as a careful user writes it.

    The inputs are copied into shared memory once; a call sends each worker its rows.
    """

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        specs = [("a", self.a.shape), ("b", self.b.shape), ("out", (self.a.shape[0], self.b.shape[1]))]
        itemsize = np.dtype(dtype).itemsize
        needed, free = sum(math.prod(shape) for _, shape in specs) * itemsize, dev_shm_free()
        if free is not None and needed > free:
            # Its pages are only promised: the first write past the mount's size is a SIGBUS.
            raise SkipNotImplemented(
                f"needs {needed / 2**20:.0f} MB of /dev/shm, which has {free / 2**20:.0f} MB free "
                "(docker run --shm-size)"
            )
        self.segments = [
            shared_memory.SharedMemory(create=True, size=max(1, math.prod(shape) * itemsize))
            for _, shape in specs
        ]
        layout = [(segment.name, role, shape, dtype) for segment, (role, shape) in zip(self.segments, specs)]
        self.arrays = _views(self.segments, layout)
        self.arrays["a"][...], self.arrays["b"][...] = self.a, self.b
        self.blocks = row_blocks(self.a.shape[0], workers)
        self.executor = concurrent.futures.ProcessPoolExecutor(
            workers, initializer=_start_worker, initargs=(layout,)
        )
        self()

    def __call__(self):
        list(self.executor.map(_shared_block, self.blocks))
        return self.arrays["out"]

    def close(self):
        """Stop the workers and free the segments; no view of a result may still be alive."""
        self.executor.shutdown()
        self.arrays.clear()
        for segment in self.segments:
            segment.close()
            segment.unlink()


def _views(segments, layout):
    return {
        role: np.ndarray(shape, dtype, buffer=segment.buf)
        for segment, (_, role, shape, dtype) in zip(segments, layout)
    }


# A SharedMemoryPool worker's segments and its views of them, set by its initializer.
_worker_segments = []
_worker_arrays = {}


def _start_worker(layout):
    threadpool_limits(1, user_api="blas")
    _worker_segments.extend(shared_memory.SharedMemory(name) for name, *_ in layout)
    _worker_arrays.update(_views(_worker_segments, layout))


def _shared_block(rows):
    np.dot(_worker_arrays["a"][rows], _worker_arrays["b"], out=_worker_arrays["out"][rows])


class JoblibLoky(Contender):
    """joblib's loky backend: inputs and output memory-mapped once, row blocks written into the output.

    joblib would memory-map large inputs by itself, but hashes them on every
    call to name the dump; memory maps made in setup are passed by file name.
    The Parallel context stays open, so its workers stay warm across calls.
    """

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        self.joblib = joblib = package("joblib")
        # joblib's own rule for its folder: /dev/shm if it has 2 GB free, else the temporary folder.
        in_memory = (dev_shm_free() or 0) >= 2 * 2**30
        self.folder = tempfile.mkdtemp(prefix="peers-joblib-", dir="/dev/shm" if in_memory else None)
        self.a, self.b = (self._memmapped(name, array) for name, array in (("a", self.a), ("b", self.b)))
        self.out = np.lib.format.open_memmap(
            os.path.join(self.folder, "out.npy"), mode="w+", dtype=dtype, shape=(self.a.shape[0], self.b.shape[1])
        )
        self.blocks = row_blocks(self.a.shape[0], workers)
        self.config = joblib.parallel_config(
            backend="loky", n_jobs=workers, inner_max_num_threads=1, temp_folder=self.folder
        )
        self.config.__enter__()
        self.parallel = joblib.Parallel().__enter__()
        self()
        self.executor = self.parallel._backend._workers  # joblib's, to clean up in close()

    def _memmapped(self, name, array):
        path = os.path.join(self.folder, f"{name}.npy")
        np.save(path, array)
        return np.load(path, mmap_mode="r")

    def __call__(self):
        # Slices of memory maps travel as file name and offset. numpy's own
        # function is the task: loky's workers cannot import this suite.
        matmul = self.joblib.delayed(np.matmul)
        self.parallel(matmul(self.a[rows], self.b, out=self.out[rows]) for rows in self.blocks)
        return self.out

    def close(self):
        self.parallel.__exit__(None, None, None)
        self.config.__exit__(None, None, None)
        # joblib registers a memory-mapping folder per context with loky's
        # resource tracker, but stops tracking it only when it deletes it, and
        # it never made them: the memory maps travel by name. Made now, empty,
        # they are deleted and forgotten; else the tracker warns of leaked
        # folders when this process ends.
        for folder in self.executor._temp_folder_manager._cached_temp_folders.values():
            os.makedirs(folder, exist_ok=True)
        self.executor.terminate()
        del self.a, self.b, self.out
        shutil.rmtree(self.folder)


class DaskThreads(Contender):
    """dask.array's matmul on the threaded scheduler with `workers` threads, BLAS on one thread each."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        dask_array = package("dask.array")
        a_chunks, b_chunks = chunks_for(self.a.shape + self.b.shape[1:], workers)
        self.product = dask_array.from_array(self.a, a_chunks) @ dask_array.from_array(self.b, b_chunks)
        self.executor = concurrent.futures.ThreadPoolExecutor(workers)
        self()

    def __call__(self):
        with blas().limit(limits=1, user_api="blas"):
            return self.product.compute(scheduler="threads", pool=self.executor)

    def close(self):
        self.executor.shutdown()


class DaskDistributed(Contender):
    """dask.distributed: a LocalCluster of `workers` one-thread processes, or the cluster at DASK_SCHEDULER_ADDRESS.

    Inputs are scattered once and replicated to every worker in setup, so a
    call sends only the task graph and gathers the product back.
    """

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        dask, dask_array, distributed = package("dask"), package("dask.array"), package("distributed")
        address = os.environ.get("DASK_SCHEDULER_ADDRESS")
        self.folder = None if address else tempfile.mkdtemp(prefix="peers-dask-")
        settings = {
            # Otherwise the scheduler drops the replicas again within seconds.
            "distributed.scheduler.active-memory-manager.start": False,
            "temporary-directory": self.folder,
        }
        with dask.config.set(settings):
            self.cluster = None if address else distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None,
            )
        self.client = distributed.Client(address or self.cluster, set_as_default=False)
        a_chunks, b_chunks = chunks_for(self.a.shape + self.b.shape[1:], workers)
        inputs = [dask_array.from_array(self.a, a_chunks), dask_array.from_array(self.b, b_chunks)]
        with warnings.catch_warnings():  # sending the inputs once, here, is the point
            warnings.filterwarnings("ignore", "Sending large graph")
            a, b = self.client.persist(inputs)
        chunks = distributed.futures_of([a, b])
        with self.client.as_current():
            distributed.wait(chunks)
        self.client.replicate(chunks)
        self.product = a @ b
        self()

    def __call__(self):
        return self.client.compute(self.product).result()

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
            shutil.rmtree(self.folder)


class Blis(RowBlocksOnThreads):
    """cython-blis's gemm on row blocks, one thread per worker (the library is single-threaded, releases the GIL)."""

    def __init__(self, shape, workers, dtype):
        self.gemm = package("blis.py").gemm
        super().__init__(shape, workers, dtype)

    def block(self, rows):
        self.gemm(self.a[rows], self.b, out=self.out[rows], beta=0.0)


def blis_configuration():
    """The BLIS sub-configuration (kernel set) cython-blis selected on this CPU, e.g. "haswell"."""
    library = ctypes.CDLL(package("blis.cy").__file__)
    library.bli_arch_string.restype = ctypes.c_char_p
    return library.bli_arch_string(library.bli_arch_query_id()).decode()


class NumbaPrange(Contender):
    """numba's @njit(parallel=True): an i-k-j triple loop, rows split by prange over `workers` threads."""

    def __init__(self, shape, workers, dtype):
        super().__init__(shape, workers, dtype)
        self.numba = package("numba")
        self.kernel = _numba_kernel(self.numba)
        self.out = np.empty((self.a.shape[0], self.b.shape[1]), dtype)
        self.workers = workers
        self()  # compiles for this dtype, or loads the kernel numba cached on disk

    def __call__(self):
        self.numba.set_num_threads(self.workers)
        self.kernel(self.a, self.b, self.out)
        return self.out

    def close(self):
        pass


@functools.cache
def _numba_kernel(numba):
    @numba.njit(parallel=True, cache=True)
    def triple_loop(a, b, out):
        for i in numba.prange(a.shape[0]):
            for j in range(b.shape[1]):
                out[i, j] = 0
            for p in range(a.shape[1]):
                a_ip = a[i, p]
                for j in range(b.shape[1]):  # contiguous in b and out: vectorised
                    out[i, j] += a_ip * b[p, j]

    return triple_loop


PEERS = {
    "threads_numpy": ThreadsNumpy,
    "threads_naive": ThreadsNaive,
    "shared_memory_pool": SharedMemoryPool,
    "joblib_loky": JoblibLoky,
    "dask_threads": DaskThreads,
    "dask_distributed": DaskDistributed,
    "blis": Blis,
    "numba_prange": NumbaPrange,
}
# Run the original answer's kernel, which takes seconds on large products.
NAIVE_PEERS = {"threads_naive"}
