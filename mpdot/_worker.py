"""The loop each worker process runs: compute the blocks the parent asks for, in shared memory."""

import os
import signal

from threadpoolctl import threadpool_limits

from ._kernels import KERNELS
from ._shared import AttachedSegments, inherited


def serve(connection, inherited_fds):
    """Answer block requests on `connection` until it closes or a ``None`` request arrives.

    A request is ``(kernel, a, b, out, forget)``: three shared-array descriptions
    and the names of segments the parent has unlinked. The reply is ``None`` on
    success or the exception the kernel raised. `inherited_fds` are the parent's
    pipe ends a forked worker must close so that the parent's death reaches it.
    """
    for fd in inherited_fds:
        os.close(fd)
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Each worker gets one core's share; BLAS threads on top would oversubscribe.
    threadpool_limits(1, user_api="blas")
    segments = AttachedSegments()
    connection.send("ready")
    while True:
        try:
            request = connection.recv()
        except EOFError:
            break
        if request is None:
            break
        kernel, a, b, out, forget = request
        segments.forget(forget)
        try:
            KERNELS[kernel](segments.view(a), segments.view(b), segments.view(out))
        except Exception as error:  # the parent re-raises it
            connection.send(error)
        else:
            connection.send(None)
        inherited.clear()  # only the call that forked this worker used them
    segments.close()
