"""Checking the operands of a matrix product against numpy.dot's rules."""

import numpy as np

# numpy.dot accepts booleans, integers, floats and complex numbers; object and
# string arrays are refused rather than computed slowly or wrongly.
_NUMERIC_KINDS = "biufc"


def check_operands(a, b, out, kernel, kernels):
    """Return `a` and `b` as 2-D arrays and numpy.dot's result dtype, or raise.

    `kernel` must be one of the names in `kernels`.
    """
    if kernel not in kernels:
        raise ValueError(f"kernel must be one of {sorted(kernels)}, got {kernel!r}")
    a = np.asarray(a)
    b = np.asarray(b)
    for name, array in (("a", a), ("b", b)):
        if array.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {array.ndim}-D with shape {array.shape}")
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"{name} must have a numeric dtype (bool, integer, floating or complex), "
                f"got {array.dtype}"
            )
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"shapes {a.shape} and {b.shape} not aligned: "
            f"a has {a.shape[1]} columns but b has {b.shape[0]} rows"
        )
    dtype = np.promote_types(a.dtype, b.dtype)
    if out is not None:
        check_out(out, (a.shape[0], b.shape[1]), dtype)
    return a, b, dtype


def check_out(out, shape, dtype):
    """Raise ValueError unless `out` is a C-contiguous array of exactly `shape` and `dtype`."""
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(
            f"out must have shape {shape} and dtype {dtype}, "
            f"got shape {out.shape} and dtype {out.dtype}"
        )
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous, got an array that is not")
    if not out.flags.writeable:
        raise ValueError("out must be writeable, got a read-only array")


def check_count(name, count):
    """Return `count` as an int if it is a positive integer, else raise ValueError."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"{name} must be a positive integer, got {count!r}")
    return int(count)


def overlaps(out, *arrays):
    """Whether `out` may share memory with any of `arrays` (then results go through a copy)."""
    return any(np.may_share_memory(out, array) for array in arrays)
