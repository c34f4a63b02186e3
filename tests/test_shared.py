"""Shared arrays: ordinary ndarrays whose segment lives exactly as long as its views."""

import gc
import os

import numpy as np
import pytest

import mpdot
from mpdot._shared import segment_of


def is_mapped(address):
    with open("/proc/self/maps") as maps:
        return any(int(line.split("-")[0], 16) == address for line in maps)


@pytest.mark.parametrize("make", [mpdot.empty, mpdot.zeros])
def test_empty_and_zeros_are_plain_ndarrays_in_shared_memory(make):
    array = make((4, 3), np.float32)
    assert type(array) is np.ndarray
    assert array.shape == (4, 3) and array.dtype == np.float32
    assert array.flags.c_contiguous and array.flags.writeable
    assert segment_of(array) is not None


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


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads /proc/self/maps")
def test_segment_is_freed_when_the_last_view_is_collected():
    array = mpdot.empty((10, 10))
    view = array[3:]
    address = segment_of(array).address
    del array
    gc.collect()
    assert is_mapped(address)
    del view
    gc.collect()
    assert not is_mapped(address)


def test_segments_have_no_name_to_leave_behind(tmp_path, monkeypatch):
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    kept = [mpdot.empty(1000), mpdot.asarray(np.ones(10))]
    monkeypatch.setenv("MPDOT_SHARED_MEMORY", str(tmp_path))
    kept.append(mpdot.zeros((100, 100)))
    kept[-1][...] = 1
    assert list(tmp_path.iterdir()) == []
    if os.path.isdir("/dev/shm"):
        assert set(os.listdir("/dev/shm")) == before


def test_memory_that_is_not_there_raises_shared_memory_error():
    with pytest.raises(mpdot.SharedMemoryError, match=r"cannot reserve 1048576\.0 MB .* available") as raised:
        mpdot.empty(2**40, np.uint8)
    assert isinstance(raised.value, MemoryError)
    assert raised.value.nbytes == 2**40 and raised.value.available < 2**40


def test_a_folder_that_does_not_exist_is_an_error_naming_it(monkeypatch):
    monkeypatch.setenv("MPDOT_SHARED_MEMORY", "/nonexistent-mpdot-folder")
    with pytest.raises(FileNotFoundError, match="nonexistent-mpdot-folder"):
        mpdot.empty(10)
