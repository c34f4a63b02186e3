"""Worker processes and their pipes: start, send each product to all, gather replies, notice deaths."""

import collections
import multiprocessing.process
import os
import selectors

from ._remote import RemoteArray
from ._shared import describe, inherited, release_listeners, segment_of
from ._worker import blas_controller, encode, receive, send, send_fds, serve

# How long close() lets a worker finish before terminating it.
_CLOSE_TIMEOUT = 2.0


def _disown_parents_processes():
    """In a forked process: the parent's workers and forkserver are not its children.

    Left in multiprocessing's list of children, the workers would be terminated
    by its exit handler when this process exits normally, breaking the parent's
    pool. Left as the forkserver, the parent's would make every forkserver start
    here fail (ChildProcessError from waitpid, Python 3.10-3.13): a pool here
    starts a forkserver of its own.
    """
    for process in list(multiprocessing.process._children):
        if process.name == _WORKER_NAME:
            multiprocessing.process._children.discard(process)
    server = multiprocessing.forkserver._forkserver
    if server._forkserver_pid is not None:
        os.close(server._forkserver_alive_fd)  # the parent's copy keeps its server alive
        server._forkserver_pid = server._forkserver_alive_fd = server._forkserver_address = None


_WORKER_NAME = "mpdot-worker"
if hasattr(os, "register_at_fork"):
    import multiprocessing.forkserver

    os.register_at_fork(after_in_child=_disown_parents_processes)


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
        # Every worker's pipe and sentinel, registered once: a wait took 8-15 µs
        # with a selector built for it (multiprocessing.connection.wait), 2.6 µs so.
        self._selector = None
        # The segments the workers have mapped (every worker gets every
        # request), and those freed since the last request.
        self._mapped = set()
        self._freed = collections.deque()
        self._interrupted = False
        self._served = False  # whether the workers have answered a request
        # A process forked from the owner (os.fork, a fork pool) inherits these
        # objects, but the workers and their pipes are not its own.
        self._owner = os.getpid()
        release_listeners.add(self)

    def segment_released(self, key):
        if key in self._mapped:
            self._mapped.discard(key)
            self._freed.append(key)

    @property
    def broken(self):
        """Whether a call was interrupted, or this is a forked copy of another process's workers."""
        return self._interrupted or os.getpid() != self._owner

    @property
    def started(self):
        return bool(self._processes)

    @property
    def lost_worker(self):
        """Whether a started worker has exited, e.g. killed while idle.

        Asked of each process rather than of the sentinels: on Python 3.13 a
        forkserver worker killed and joined left its sentinel unready in 1 of 3
        runs of the idle-death test.
        """
        return any(process.exitcode is not None for process in self._processes)

    @property
    def fork_on_next_run(self):
        """Whether the next run forks the workers, which then inherit its plain arrays."""
        return self._forks and not self.started

    def run(self, kernel, a, b, target, along_inner=False):
        """Compute ``target = a @ b``, each worker its own block (see `own_block`).

        Split by rows of `a` and `target`, or `along_inner`: worker i then writes
        its slice of the inner dimension's partial product into ``target[i]``.
        The arrays live in shared memory, or `a` and `b` are RemoteArrays (plain
        operands the workers read in this process's memory), except that the
        call which forks the workers may pass plain arrays: they inherit them.
        """
        if os.getpid() != self._owner:
            raise BrokenPoolError(
                f"this pool's workers belong to process {self._owner}, not to this forked "
                "process; create a new Pool here"
            )
        if self._interrupted:
            raise BrokenPoolError("a worker died or a call was interrupted; create a new Pool")
        try:
            arrays = (a, b, target)
            if not self.started:
                if self._forks:
                    inherited.update((id(x), x) for x in arrays if segment_of(x) is None)
                self._start()
            self._send(kernel, along_inner, arrays)
            replies = self._gather()
            self._served = True
        except BaseException:
            # Replies may still be on their way: the pipes can't be trusted again.
            self.terminate()
            raise
        finally:
            inherited.clear()
        for error in replies:
            if error is not None:
                raise error

    def _send(self, kernel, along_inner, arrays):
        """Send every worker the request, then the descriptors of segments they have not mapped yet.

        The request is pickled once: each worker finds its own block in it.
        """
        segments = [segment_of(array) for array in arrays]
        new = {s.key: s for s in segments if s is not None and s.key not in self._mapped}
        described = [
            array if isinstance(array, RemoteArray) else describe(array, segment)
            for array, segment in zip(arrays, segments)
        ]
        forget = _drain(self._freed)
        request = encode((kernel, along_inner, *described, forget, [(s.key, s.nbytes) for s in new.values()]))
        for index, connection in enumerate(self._connections):
            try:
                connection.send_bytes(request)
                if new:
                    send_fds(connection, [segment.fd for segment in new.values()])
            except OSError:
                raise self._died(index) from None
        self._mapped.update(new)

    def _start(self):
        if self._forks:
            blas_controller()
        for index, cpu in enumerate(self._cpus):
            parent_end, worker_end = self._context.Pipe()
            # A forked worker inherits the parent's end of every pipe; it must
            # close them, or no worker sees end-of-file when the parent dies.
            parent_fds = [c.fileno() for c in (*self._connections, parent_end)] if self._forks else []
            process = self._context.Process(
                target=serve,
                args=(worker_end, index, len(self._cpus), cpu, parent_fds),
                name=_WORKER_NAME,
                daemon=True,
            )
            process.start()
            worker_end.close()
            self._processes.append(process)
            self._connections.append(parent_end)
        self._selector = selectors.DefaultSelector()
        for index, (process, connection) in enumerate(zip(self._processes, self._connections)):
            self._selector.register(connection, selectors.EVENT_READ, (index, connection))
            self._selector.register(process.sentinel, selectors.EVENT_READ, (index, None))

    def _gather(self):
        """One reply from each worker; BrokenPoolError if any worker dies first."""
        replies = {}
        while len(replies) < len(self._connections):
            ready = [key.data for key, _ in self._selector.select()]
            for index, connection in ready:
                if connection is not None:
                    try:
                        replies[index] = receive(connection)
                    except (EOFError, OSError):
                        raise self._died(index) from None
            for index, connection in ready:
                if connection is None:  # a sentinel: that worker has exited
                    raise self._died(index)
        return list(replies.values())

    def _died(self, index):
        process = self._processes[index]
        process.join(_CLOSE_TIMEOUT)
        message = f"worker process {process.pid} died (exit code {process.exitcode})"
        if not self._served and not self._forks:
            message += (
                " before its first product: under forkserver or spawn, a worker imports the main "
                "module, whose code must then be guarded by `if __name__ == '__main__':`"
            )
        return BrokenPoolError(message)

    def terminate(self):
        """Stop every worker now and mark the pool broken."""
        self._interrupted = True
        if os.getpid() == self._owner:
            for process in self._processes:
                process.terminate()
        self._join()

    def close(self):
        """Ask the workers to exit, terminating any that don't within a short time."""
        if os.getpid() == self._owner:
            for connection in self._connections:
                try:
                    send(connection, None)
                except OSError:  # that worker is already gone
                    pass
        self._join()

    def _join(self):
        """Wait for the workers to exit and close the pipes; in a forked copy, only close its ends."""
        for process in self._processes if os.getpid() == self._owner else []:
            process.join(_CLOSE_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for connection in self._connections:
            connection.close()
        self._processes.clear()
        self._connections.clear()


def _drain(queue):
    return [queue.popleft() for _ in range(len(queue))]
