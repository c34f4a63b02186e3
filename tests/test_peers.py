"""The peers compute numpy.dot's product, and leave no process, segment or folder behind."""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from benchmarks import bench_peers, common, peers

DASK = Path(sys.executable).parent / "dask"


def peer(name, shape="square_256", dtype="float64"):
    try:
        return peers.PEERS[name](shape, 2, dtype)
    except common.SkipNotImplemented as skip:
        pytest.skip(str(skip))


def children():
    """This process's descendants, but for multiprocessing's and loky's long-lived resource trackers."""
    found = set()
    for pid in common._children(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"resource_tracker" not in cmdline.read():
                    found.add(pid)
        except FileNotFoundError:  # it just exited
            pass
    return found


def leftovers():
    return children(), set(os.listdir("/dev/shm")), set(os.listdir(tempfile.gettempdir()))


def assert_nothing_left(before):
    deadline = time.monotonic() + 10
    while leftovers() != before and time.monotonic() < deadline:
        time.sleep(0.1)
    processes, segments, folders = (now - then for now, then in zip(leftovers(), before))
    assert not processes, f"processes left running: {processes}"
    assert not segments, f"shared-memory segments left: {segments}"
    assert not folders, f"temporary files left: {folders}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", ["square_256", common.ORIGINAL_SHAPE])
@pytest.mark.parametrize("name", [name for name in peers.PEERS if name not in peers.NAIVE_PEERS])
def test_every_peer_computes_the_product_and_cleans_up(name, shape, dtype):
    before = leftovers()
    with threadpool_limits(limits=None):  # the thread peers limit BLAS only during their calls
        compute = peer(name, shape, dtype)
        result = np.array(compute())
        expected = np.dot(compute.a, compute.b)
    compute.close()
    del compute
    np.testing.assert_allclose(result, expected, rtol=1e-4 if dtype == "float32" else 1e-10)
    assert_nothing_left(before)


def test_the_naive_peer_computes_the_product():
    compute = peer("threads_naive", "square_64")
    np.testing.assert_allclose(compute(), np.dot(compute.a, compute.b))
    compute.close()


def test_thread_peers_leave_blas_threads_as_they_were():
    compute = peer("threads_numpy")
    with threadpool_limits(limits=2, user_api="blas"):
        compute()
        assert {info["num_threads"] for info in peers.blas().select(user_api="blas").info()} == {2}
    compute.close()


def test_blis_reports_the_kernels_it_selected():
    try:
        configuration = peers.blis_configuration()
    except common.SkipNotImplemented as skip:
        pytest.skip(str(skip))
    assert configuration and configuration.isprintable()


def test_the_naive_peer_skips_what_the_other_naive_kernels_skip():
    benchmark = bench_peers.PeersSpeedup()
    with pytest.raises(common.SkipNotImplemented, match="naive"):
        benchmark.setup("square_2000", 2, "float64", "threads_naive")


@pytest.mark.skipif(not DASK.exists(), reason="dask's command-line programs are not installed")
def test_dask_distributed_uses_the_cluster_at_dask_scheduler_address(monkeypatch, tmp_path):
    """A real cluster: the `dask scheduler` and two `dask worker` programs, each its own process."""
    scheduler_file = tmp_path / "scheduler.json"
    common_options = ["--no-dashboard"]
    environment = dict(os.environ, DASK_TEMPORARY_DIRECTORY=str(tmp_path))  # their scratch space
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", scheduler_file, *common_options],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
    )
    programs = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        programs += [
            subprocess.Popen(
                [DASK, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", *common_options],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment,
            )
            for _ in range(2)
        ]
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
        distributed = pytest.importorskip("distributed")
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        compute = peer("dask_distributed")
        assert compute.cluster is None  # no LocalCluster of its own
        np.testing.assert_allclose(compute(), np.dot(compute.a, compute.b))
        compute.close()
    finally:
        for program in programs:
            program.terminate()
        for program in programs:
            try:
                program.wait(timeout=30)
            except subprocess.TimeoutExpired:
                program.kill()
                program.wait()
    assert all(program.returncode is not None for program in programs)
