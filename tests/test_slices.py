"""mpdot.slices: contiguous, balanced, covering every item once."""

from hypothesis import given
from hypothesis import strategies as st

import mpdot


def test_example_from_the_docstring():
    assert mpdot.slices(10, 3) == [slice(0, 4), slice(4, 7), slice(7, 10)]


def test_more_slices_than_items_gives_empty_tail_slices():
    assert mpdot.slices(1, 3) == [slice(0, 1), slice(1, 1), slice(1, 1)]


@given(st.integers(0, 10_000), st.integers(1, 200))
def test_contiguous_balanced_and_covering(nitems, nslices):
    parts = mpdot.slices(nitems, nslices)
    assert len(parts) == nslices
    assert parts[0].start == 0 and parts[-1].stop == nitems
    assert all(left.stop == right.start for left, right in zip(parts, parts[1:]))
    sizes = [part.stop - part.start for part in parts]
    assert min(sizes) >= 0 and max(sizes) - min(sizes) <= 1
    assert sum(sizes) == nitems
