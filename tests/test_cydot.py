"""cydot specifics: instruction-set levels, info(), threads without the GIL."""

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import cydot
import cydot._levels
import mpdot
from conftest import assert_matches_numpy


def test_info_reports_level_and_threads():
    info = cydot.info()
    assert info["level"] == info["runnable_levels"][0]
    assert set(info["runnable_levels"]) <= set(info["built_levels"])
    assert info["nthreads"] >= 1
    assert info["tiles"]["float64"][0] >= 1


def test_every_level_is_built_for_x86_64():
    if os.uname().machine != "x86_64":
        pytest.skip("the x86-64 levels are built only on x86-64")
    assert cydot.info()["built_levels"] == list(cydot._levels.LEVELS)


def run_with_level(level):
    return subprocess.run(
        [sys.executable, "-c", "import cydot; print(cydot.info()['level'])"],
        env={**os.environ, "CYDOT_LEVEL": level},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("level", cydot._levels.runnable_levels())
def test_environment_variable_forces_a_level(level):
    completed = run_with_level(level)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == level


def test_environment_variable_rejects_an_unknown_level():
    completed = run_with_level("x86-64-v9")
    assert completed.returncode != 0
    assert "CYDOT_LEVEL must be one of" in completed.stderr


def test_a_source_tree_without_compiled_kernels_says_how_to_build_them(tmp_path):
    for package in (cydot, mpdot):
        source = Path(package.__file__).parent
        shutil.copytree(source, tmp_path / source.name, ignore=shutil.ignore_patterns("*.so"))
    # -S: no site hooks, so nothing but this tree provides cydot (numpy still imports).
    completed = subprocess.run(
        [sys.executable, "-S", "-c", "import cydot"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(Path(np.__file__).parent.parent)),
        capture_output=True,
        text=True,
    )
    assert "ImportError: cydot: no compiled kernels found" in completed.stderr
    assert "make test" in completed.stderr


def test_kernels_release_the_gil():
    a = np.random.default_rng(0).random((700, 700))
    computing = threading.Thread(target=cydot.dot, args=(a, a), kwargs=dict(nthreads=1, kernel="naive"))
    steps_while_computing = 0
    computing.start()
    while computing.is_alive():
        steps_while_computing += 1
    computing.join()
    # Had the kernel held the GIL, this loop could only have run before or after it.
    assert steps_while_computing > 1000


def test_misaligned_operands_reach_the_kernels_aligned():
    raw = np.zeros(8 * 30 + 1, np.uint8)
    misaligned = np.frombuffer(raw.data, np.float64, count=30, offset=1).reshape(5, 6)
    assert not misaligned.flags.aligned
    assert cydot._api._operand(misaligned, np.dtype(np.float64)).flags.aligned


@pytest.mark.parametrize("nthreads", [1, 2, 3, 64])
def test_any_thread_count_gives_numpys_result(nthreads):
    rng = np.random.default_rng(1)
    a, b = rng.random((37, 300)), rng.random((300, 29))
    np.testing.assert_allclose(cydot.dot(a, b, nthreads=nthreads), a @ b, rtol=1e-12)


@pytest.mark.parametrize("level", cydot._levels.runnable_levels())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_many_columns_take_the_wide_tile(level, dtype):
    # The narrow tile once served every product it padded less: 1000 float64
    # columns on x86-64-v3 (the wide tile pads them to 1008), at 0.78x numpy.dot
    # on 2 threads instead of 0.89x with the wide one.
    kernels = cydot._levels.load(level)
    for n in (1000, 2000):
        assert kernels.tile(np.dtype(dtype), n) == kernels.TILES[np.dtype(dtype)]


@pytest.mark.parametrize("level", cydot._levels.runnable_levels())
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
@pytest.mark.parametrize("tile", ["wide", "narrow"])
def test_blocked_kernel_across_cache_blocks_and_partial_tiles(level, dtype, tile, monkeypatch):
    monkeypatch.setattr(cydot._api, "kernels", cydot._levels.load(level))
    kernels = cydot._api.kernels
    if tile == "narrow" and np.dtype(dtype) not in kernels.NARROW_TILES:
        pytest.skip(f"{np.dtype(dtype)} has one tile")
    # Columns that end in a partial tile of that width: two wide tiles pad as
    # many columns as narrow ones would, and one narrow tile fewer than a wide one.
    tiles = kernels.TILES if tile == "wide" else kernels.NARROW_TILES
    n = 2 * tiles[np.dtype(dtype)][1] - 1 if tile == "wide" else tiles[np.dtype(dtype)][1] - 1
    assert kernels.tile(np.dtype(dtype), n) == tiles[np.dtype(dtype)]
    m, k = kernels.BLOCKS["MC"] + 5, kernels.BLOCKS["KC"] + 7  # a second, partial block of A and of k
    rng = np.random.default_rng(2)

    def random(shape):
        values = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            values = values + 1j * rng.standard_normal(shape)
        return values.astype(dtype)

    a, b = random((m, k)), random((n, k)).T  # b in Fortran order
    assert_matches_numpy(cydot.dot(a, b, nthreads=1), a, b)
    assert_matches_numpy(cydot.dot(a[::-1, ::2], b[::2, ::-1], nthreads=2), a[::-1, ::2], b[::2, ::-1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int32])
@pytest.mark.parametrize("nthreads", [2, 3])
@pytest.mark.parametrize("shared", [True, False])
def test_rows_on_several_threads_give_one_threads_bits(dtype, nthreads, shared, monkeypatch):
    # Split by rows, every element sums its terms in the same order on any number
    # of threads, whether B is packed once for all of them or by each.
    kernels = cydot._api.kernels
    monkeypatch.setattr(cydot._api, "_SHARED_B_MIN_BYTES", 0 if shared else 2**62)
    calls = []

    def spy(*args):
        calls.append(len(args) == 6)  # the last argument is the shared buffer
        return blocked_rows(*args)

    blocked_rows = kernels.blocked_rows
    monkeypatch.setattr(kernels, "blocked_rows", spy)
    # A partial last row tile, three panels of k, a partial last column strip;
    # b read backwards, so that packing follows its strides.
    m, k, n = 3 * kernels.BLOCKS["MC"] + 1, 2 * kernels.BLOCKS["KC"] + 5, 77
    rng = np.random.default_rng(3)
    values = rng.standard_normal((m + n, k)) * 100
    if np.dtype(dtype).kind == "c":
        values = values + 1j * rng.standard_normal((m + n, k))
    values = values.astype(dtype)
    a, b = values[:m], values[m:].T[::-1]
    alone = cydot.dot(a, b, nthreads=1)
    np.testing.assert_array_equal(cydot.dot(a, b, nthreads=nthreads), alone)
    assert calls == [False, shared]
    assert_matches_numpy(alone, a, b)


@pytest.mark.parametrize("level", cydot._levels.runnable_levels())
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int32])
def test_b_packed_once_stays_inside_the_buffer_it_is_lent(level, dtype):
    # shared_b_bytes once counted a panel of k too few where KC does not divide k
    # (C's division), and the panels' state bytes ran past the buffer's end.
    kernels = cydot._levels.load(level)
    m, k, n = 50, 2 * kernels.BLOCKS["KC"] + 5, 77
    a, b, c = np.ones((m, k), dtype), np.ones((k, n), dtype), np.empty((m, n), dtype)
    nbytes = kernels.shared_b_bytes(np.dtype(dtype), n, k)
    guarded = np.full(64 + nbytes + 4096, 0xAB, np.uint8)
    start = (1 - guarded.ctypes.data) % 64  # one byte past a cache line: the most alignment padding
    workspace = np.empty((2, kernels.workspace_bytes(np.dtype(dtype), n)), np.uint8)
    kernels.blocked_rows(a, b, c, workspace, 2, guarded[start : start + nbytes])
    assert (guarded[start + nbytes :] == 0xAB).all()
    np.testing.assert_array_equal(c, np.full((m, n), k, dtype))


@pytest.mark.parametrize("level", cydot._levels.runnable_levels())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tile", ["wide", "narrow"])
def test_a_read_where_it_lies_gives_the_packed_kernels_bits(level, dtype, tile, monkeypatch):
    # Where b is one micro-panel wide, a's contiguous rows are read where they lie
    # instead of packed; a in Fortran order is still packed. Same sums, same bits:
    # partial row tiles, a second panel of k, b packed once for all threads or not.
    monkeypatch.setattr(cydot._api, "kernels", cydot._levels.load(level))
    kernels = cydot._api.kernels
    tiles = kernels.TILES if tile == "wide" else kernels.NARROW_TILES
    nr = tiles[np.dtype(dtype)][1]
    n = nr if tile == "wide" else nr - 1
    assert kernels.tile(np.dtype(dtype), n) == tiles[np.dtype(dtype)]
    m, k = 2 * kernels.BLOCKS["MC"] + 5, kernels.BLOCKS["KC"] + 7
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    packed = cydot.dot(np.asfortranarray(a), b, nthreads=1)
    assert_matches_numpy(packed, a, b)
    for nthreads in (1, 2):
        np.testing.assert_array_equal(cydot.dot(a, b, nthreads=nthreads), packed)
    monkeypatch.setattr(cydot._api, "_SHARED_B_MIN_BYTES", 0)
    np.testing.assert_array_equal(cydot.dot(a, b, nthreads=2), packed)
