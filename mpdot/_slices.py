"""Balanced contiguous partitions of a range of items."""


def slices(nitems, nslices):
    """Split ``range(nitems)`` into `nslices` contiguous slices whose sizes differ by at most one.

    >>> slices(10, 3)
    [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    if nitems < 0:
        raise ValueError(f"nitems must be >= 0, got {nitems}")
    if nslices < 1:
        raise ValueError(f"nslices must be >= 1, got {nslices}")
    size, remainder = divmod(nitems, nslices)
    bounds = [i * size + min(i, remainder) for i in range(nslices + 1)]
    return [slice(start, stop) for start, stop in zip(bounds, bounds[1:])]
