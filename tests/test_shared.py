"""Shared arrays: ordinary ndarrays whose segment lives exactly as long as its views."""

import gc
import os

import numpy as np
import pytest

import mpdot
from mpdot._shared import segment_of


def segment_path(array):
    return os.path.join("/dev/shm", segment_of(array).name)


@pytest.mark.parametrize("make", [mpdot.empty, mpdot.zeros])
def test_empty_and_zeros_are_plain_ndarrays_in_shared_memory(make):
    array = make((4, 3), np.float32)
    assert type(array) is np.ndarray
    assert array.shape == (4, 3) and array.dtype == np.float32
    assert array.flags.c_contiguous and array.flags.writeable
    assert os.path.exists(segment_path(array))


def test_zeros_is_zero_filled():
    assert not mpdot.zeros((100, 100), np.int64).any()


def test_empty_accepts_an_int_shape_and_zero_size():
    assert mpdot.empty(5).shape == (5,)
    assert mpdot.empty((0, 3)).size == 0


def test_asarray_copies_plain_arrays_and_keeps_shared_ones():
    plain = np.arange(12.0).reshape(3, 4)
    shared = mpdot.asarray(plain)
    assert shared is not plain and segment_of(shared) is not None
    np.testing.assert_array_equal(shared, plain)
    assert mpdot.asarray(shared) is shared
    assert mpdot.asarray(shared, dtype=np.float32).dtype == np.float32


def test_views_are_recognised_as_shared():
    array = mpdot.empty((10, 10))
    assert segment_of(array[2:5, ::2].T) is segment_of(array)
    assert segment_of(np.ones(3)) is None


def test_segment_is_unlinked_when_the_last_view_is_collected():
    array = mpdot.empty((10, 10))
    view = array[3:]
    path = segment_path(array)
    del array
    gc.collect()
    assert os.path.exists(path)
    del view
    gc.collect()
    assert not os.path.exists(path)
