"""Matrix products computed by GIL-free Cython kernels on several threads."""

from ._api import dot, info

__all__ = ["dot", "info"]
