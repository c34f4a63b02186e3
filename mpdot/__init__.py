"""Matrix products split by row blocks across persistent worker processes, in shared memory."""

from ._default import dot
from ._pool import MIN_WORKER_FLOPS, MIN_WORKER_FLOPS_WITHOUT_BLAS, Pool
from ._shared import SharedMemoryError, asarray, empty, zeros
from ._slices import slices
from ._workers import BrokenPoolError

__all__ = [
    "BrokenPoolError",
    "MIN_WORKER_FLOPS",
    "MIN_WORKER_FLOPS_WITHOUT_BLAS",
    "Pool",
    "SharedMemoryError",
    "asarray",
    "dot",
    "empty",
    "slices",
    "zeros",
]
