"""The loop each worker process runs: compute the blocks the parent asks for, in shared memory."""

import contextlib
import functools
import os
import pickle
import signal
import socket
import threading

from threadpoolctl import ThreadpoolController

from ._kernels import KERNELS
from ._remote import Reader, RemoteArray
from ._shared import AttachedSegments, inherited, release_inherited_segments
from ._slices import slices


def serve(connection, index, count, cpu, inherited_fds):
    """Answer requests on `connection` until a ``None`` request arrives or it closes.

    A request is ``(kernel, along_inner, a, b, target, forget, new)``: every
    worker gets the same one and computes its own share of ``target = a @ b``
    (see `own_block`; it is worker `index` of `count`). `a`, `b` and `target`
    are shared-array descriptions (`a` and `b` may be RemoteArrays), `forget`
    the keys of segments the parent has freed, and `new` the ``(key, nbytes)``
    of segments this worker has not mapped yet, whose descriptors follow the
    request. The reply is ``None`` on success or the exception raised. `cpu`,
    unless None, is the one CPU this worker runs on; `inherited_fds` are the
    parent's pipe ends a forked worker must close so that the parent's death
    reaches it.
    """
    for fd in inherited_fds:
        os.close(fd)
    release_inherited_segments()
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    _no_wakeup_preemption()
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Each worker gets one core's share; BLAS threads on top would oversubscribe.
    blas_controller().limit(limits=1, user_api="blas")
    _idle_other_threads()
    segments = AttachedSegments()
    reader = Reader()
    # A request repeated byte for byte (the same operands, nothing to map or
    # unmap) reuses the blocks viewed for the last one.
    last_request = work = None
    while True:
        try:
            request = connection.recv_bytes()
        except EOFError:  # the parent died without closing the pool
            break
        if request != last_request:
            last_request = work = None  # no view may outlive its segment's unmapping
            message = pickle.loads(request)
            if message is None:
                break
            kernel, along_inner, a, b, target, forget, new = message
            segments.forget(forget)
            fds = receive_fds(connection, len(new)) if new else []
        try:
            if work is None:
                segments.attach(new, fds)
                arrays = [x if isinstance(x, RemoteArray) else segments.view(x) for x in (a, b, target)]
                block = own_block(*arrays, along_inner, index, count)
                if any(isinstance(x, RemoteArray) for x in arrays):
                    work = functools.partial(reader.product, KERNELS[kernel], *block, along_inner)
                else:
                    work = functools.partial(KERNELS[kernel], *block)
                if not new and not inherited:
                    last_request = request
            work()
        except Exception as error:  # the parent re-raises it
            send(connection, error)
        else:
            connection.send_bytes(_DONE)
        inherited.clear()  # only the call that forked this worker used them
    work = None
    segments.close()


def own_block(a, b, target, along_inner, index, count):
    """Worker `index`'s share of ``target = a @ b`` among `count`: ``(a, b, out)`` of its block.

    A block of rows of `a` and `target`; or, `along_inner`, a slice of the inner
    dimension whose partial product goes to ``target[index]``.
    """
    if along_inner:
        part = slices(a.shape[1], count)[index]
        return a[:, part], b[part], target[index]
    part = slices(a.shape[0], count)[index]
    return a[part], b, target[part]


# Requests and replies hold only names, shapes and exceptions: plain pickle
# suffices, and spares the 2 µs per message that Connection.send's pickler
# (which can also pass file descriptors) costs.
def send(connection, message):
    connection.send_bytes(encode(message))


def encode(message):
    return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)


_DONE = encode(None)


def receive(connection):
    return pickle.loads(connection.recv_bytes())


def send_fds(connection, fds):
    """Pass open file descriptors over `connection`, a Unix socket, after the message they belong to."""
    with socket.fromfd(connection.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        socket.send_fds(sock, [b"f"], fds)


def receive_fds(connection, count):
    with socket.fromfd(connection.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        _, fds, _, _ = socket.recv_fds(sock, 1, count)
    if len(fds) != count:
        raise EOFError(f"expected {count} shared-memory descriptors, got {len(fds)}")
    return fds


@functools.cache
def blas_controller():
    """threadpoolctl's handle on the loaded BLAS libraries.

    Finding them takes about 2 ms; a parent that calls this before forking
    spares each forked worker that search.
    """
    return ThreadpoolController()


def _no_wakeup_preemption():
    """Let a request wait for the parent to block instead of taking its CPU at once.

    Woken on the parent's CPU, a worker used to preempt the parent before it had
    sent the other workers their blocks, which then waited for that worker's
    whole block: the two halves ran one after the other (20000×256×32 float32
    with copied inputs: 7.7 ms a call instead of 4.8, in 9 of 25 processes).
    Linux's SCHED_BATCH tasks do not preempt on wake-up.
    """
    if hasattr(os, "SCHED_BATCH"):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _idle_other_threads():
    """Let this process's other threads run only on an otherwise idle CPU.

    The worker computes on its main thread. In a forked child, setting the BLAS
    thread count restarts OpenBLAS's thread pool, whose helper spins for about
    0.1 s before sleeping: two workers computing beside two spinning helpers ran
    at half speed (17 ms against 8.5 ms per block of the original shape).
    """
    if not hasattr(os, "SCHED_IDLE"):
        return
    main_thread = threading.get_native_id()
    for task in os.listdir("/proc/self/task"):
        if int(task) != main_thread:
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.sched_setscheduler(int(task), os.SCHED_IDLE, os.sched_param(0))
