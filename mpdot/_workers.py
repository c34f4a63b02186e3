"""Worker processes and their pipes: start, send blocks, gather replies, notice deaths."""

import collections
import os
from multiprocessing import connection as mp_connection
from multiprocessing import resource_tracker

from ._shared import describe, inherited, release_listeners, segment_of
from ._worker import blas_controller, receive, send, serve

# How long close() lets a worker finish before terminating it.
_CLOSE_TIMEOUT = 2.0


class BrokenPoolError(RuntimeError):
    """A worker process died or a call was interrupted mid-way; the pool cannot be used again."""


class Workers:
    """A fixed number of worker processes, started on first use.

    Replies are awaited together with each process's sentinel, so a worker that
    dies makes the call fail at once instead of hanging.
    """

    def __init__(self, context, count):
        self._context = context
        self._forks = context.get_start_method() == "fork"
        # With one worker per CPU, each is pinned to its own: left to the
        # scheduler, two workers woken together sometimes shared a CPU for a
        # whole call (20000×256×32 on 2 workers: 0.55× numpy.dot instead of 1.1×).
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self._cpus = cpus if len(cpus) == count else [None] * count
        self._processes = []
        self._connections = []
        # Per worker: names of segments unlinked since its last request.
        self._unlinked = [collections.deque() for _ in range(count)]
        self.broken = False
        release_listeners.add(self)

    def segment_released(self, name):
        for names in self._unlinked:
            names.append(name)

    @property
    def started(self):
        return bool(self._processes)

    @property
    def lost_worker(self):
        """Whether a started worker has exited (its sentinel is ready), e.g. killed while idle."""
        return bool(self._processes) and bool(
            mp_connection.wait([process.sentinel for process in self._processes], timeout=0)
        )

    @property
    def fork_on_next_run(self):
        """Whether the next run forks the workers, which then inherit its plain arrays."""
        return self._forks and not self.started

    def run(self, kernel, blocks):
        """Compute ``out = a @ b`` for each ``(a, b, out)`` block, one per worker.

        The arrays live in shared memory, except that the call which forks the
        workers may pass plain arrays: the workers inherit them.
        """
        if self.broken:
            raise BrokenPoolError("a worker died or a call was interrupted; create a new Pool")
        try:
            if not self.started:
                if self._forks:
                    inherited.update((id(x), x) for block in blocks for x in block if segment_of(x) is None)
                self._start()
            for index, (a, b, out) in enumerate(blocks):
                forget = _drain(self._unlinked[index])
                request = (kernel, describe(a), describe(b), describe(out), forget)
                try:
                    send(self._connections[index], request)
                except OSError:
                    raise self._died(index) from None
            replies = self._gather(range(len(blocks)))
        except BaseException:
            # Replies may still be on their way: the pipes can't be trusted again.
            self.terminate()
            raise
        finally:
            inherited.clear()
        for error in replies:
            if error is not None:
                raise error

    def _start(self):
        # A worker attaching to a segment registers it with the resource tracker;
        # started now, the tracker is inherited by every worker instead of each
        # forked worker starting its own (which would unlink the parent's segments).
        resource_tracker.ensure_running()
        if self._forks:
            blas_controller()
        for cpu in self._cpus:
            parent_end, worker_end = self._context.Pipe()
            # A forked worker inherits the parent's end of every pipe; it must
            # close them, or no worker sees end-of-file when the parent dies.
            parent_fds = [c.fileno() for c in (*self._connections, parent_end)] if self._forks else []
            process = self._context.Process(
                target=serve, args=(worker_end, parent_fds, cpu), name="mpdot-worker", daemon=True
            )
            process.start()
            worker_end.close()
            self._processes.append(process)
            self._connections.append(parent_end)

    def _gather(self, indices):
        """One reply from each worker in `indices`; BrokenPoolError if one of them dies first."""
        replies = {}
        pending = {self._connections[i]: i for i in indices}
        sentinels = {self._processes[i].sentinel: i for i in indices}
        while pending:
            ready = mp_connection.wait([*pending, *sentinels])
            for handle in ready:
                index = pending.pop(handle, None)
                if index is not None:
                    try:
                        replies[index] = receive(handle)
                    except (EOFError, OSError):
                        raise self._died(index) from None
            for handle in ready:
                index = sentinels.pop(handle, None)
                if index is not None and self._connections[index] in pending:
                    raise self._died(index)
        return [replies[i] for i in indices]

    def _died(self, index):
        process = self._processes[index]
        process.join(_CLOSE_TIMEOUT)
        return BrokenPoolError(
            f"worker process {process.pid} died (exit code {process.exitcode})"
        )

    def terminate(self):
        """Stop every worker now and mark the pool broken."""
        self.broken = True
        for process in self._processes:
            process.terminate()
        self._join()

    def close(self):
        """Ask the workers to exit, terminating any that don't within a short time."""
        for connection in self._connections:
            try:
                send(connection, None)
            except OSError:  # that worker is already gone
                pass
        self._join()

    def _join(self):
        for process in self._processes:
            process.join(_CLOSE_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        for connection in self._connections:
            connection.close()
        self._processes.clear()
        self._connections.clear()


def _drain(queue):
    return [queue.popleft() for _ in range(len(queue))]
