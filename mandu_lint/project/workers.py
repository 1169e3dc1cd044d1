"""Worker processes.

Two kinds:

- :class:`worker_pool`, a ``ProcessPoolExecutor`` whose workers ignore Ctrl-C, for work that
  keeps nothing between calls;
- :class:`ShardPool`, the workers of a cold run. Indexing parses every file; checking parses
  the application files again. A ``ShardPool`` keeps its workers alive across both phases, and
  each worker keeps the trees it parsed while indexing (``keep_tree``), so the check phase sends
  a file back to the worker that already holds its tree (``kept_tree``) instead of parsing it a
  second time. A worker that runs out of its own files takes batches from the others (they are
  parsed again there), so no core idles while another has work. A kept tree is used only for the
  same bytes (its content digest is checked), and the trees kept are bounded: ``KEEP_TOTAL``
  bytes of source across all workers (an AST takes about 32 times its source in memory, so
  about 0.8 GB), split evenly between them, so that more cores never mean more memory.

Stdlib only: ``multiprocessing`` pipes, no third-party pool.
"""
from __future__ import annotations

import ast
import hashlib
import os
import traceback
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import connection, get_context
from typing import Callable, Deque, Dict, Iterator, List, Optional, Sequence, Set, Tuple

KEEP_TOTAL = 24 << 20  # bytes of source whose trees all the workers together keep between the phases

_KEPT: Dict[str, Tuple[str, ast.Module]] = {}
_KEPT_BYTES = [0]
_KEEP_LIMIT = [0]  # this worker's share of KEEP_TOTAL; 0 outside a ShardPool worker


def digest_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def keep_tree(rel: str, data: bytes, tree: ast.Module) -> None:
    """Keep the tree of ``rel`` (parsed from ``data``) for the check phase, in a shard worker
    and within the budget; elsewhere nothing is kept."""
    if not _KEEP_LIMIT[0] or _KEPT_BYTES[0] + len(data) > _KEEP_LIMIT[0]:
        return  # not a shard worker (nothing is kept, not even an empty file's tree), or over budget
    _KEPT[rel] = (digest_bytes(data), tree)
    _KEPT_BYTES[0] += len(data)


def kept_tree(rel: str, data: bytes) -> Optional[ast.Module]:
    """The tree this worker kept for ``rel`` when it indexed these same bytes, once."""
    hit = _KEPT.pop(rel, None)
    if hit is None or hit[0] != digest_bytes(data):
        return None
    return hit[1]


GC_THRESHOLD = (100_000, 50, 100)


def tune_gc() -> None:
    """Collect cyclic garbage less often. An analysis allocates millions of small objects that
    live until the end of a file or of the run (trees, refs, scopes, the index); with CPython's
    default thresholds (700, 10, 10) the collector walks them again and again, which took about
    a quarter of a cold run's time on netbox (6.4 s -> 4.6 s with these thresholds; see
    docs/performance.md). Called by the command line and in every worker process (a forked
    worker inherits it; a spawned one would not); never by the flake8 plugin, which runs inside
    flake8's process and leaves its settings alone."""
    import gc

    gc.set_threshold(*GC_THRESHOLD)


def _quiet_worker(init=None, *args) -> None:
    """Workers leave Ctrl-C to the main process (no traceback per worker)."""
    import signal

    tune_gc()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if init is not None:
        init(*args)


class worker_pool:
    """A ProcessPoolExecutor whose workers ignore SIGINT; on an exception in the ``with`` body
    (Ctrl-C) queued work is cancelled and the workers are stopped instead of awaited."""

    def __init__(self, jobs: int, initializer=None, initargs=()):
        self.pool = ProcessPoolExecutor(max_workers=jobs, initializer=_quiet_worker,
                                        initargs=(initializer, *initargs))

    def __enter__(self) -> ProcessPoolExecutor:
        return self.pool

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.pool.shutdown(wait=True)
            return
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            try:
                proc.terminate()
            except Exception:  # pragma: no cover - already gone
                pass


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class WorkerFailed(RuntimeError):
    """A shard worker raised (its traceback is the message) or died."""


def _shard_main(conn, keep_limit: int) -> None:
    _quiet_worker()
    _KEEP_LIMIT[0] = keep_limit
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, arg = msg
        try:
            reply = ("ok", fn(arg))
        except BaseException:  # sent to the main process, which raises it there
            reply = ("error", traceback.format_exc())
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class ShardPool:
    """``jobs`` worker processes, each holding what it parsed; see the module docstring."""

    def __init__(self, jobs: int):
        ctx = get_context()
        self.conns: List = []
        self.procs: List = []
        for _ in range(jobs):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_shard_main, args=(theirs, KEEP_TOTAL // jobs), daemon=True)
            proc.start()
            theirs.close()
            self.conns.append(mine)
            self.procs.append(proc)
        self.holder: Dict[str, int] = {}  # file -> the worker that parsed it while indexing

    @property
    def size(self) -> int:
        return len(self.conns)

    def run(self, fn: Callable, batches: Sequence[Tuple[Optional[int], object]]) -> Iterator[Tuple[int, object]]:
        """``fn(payload)`` for each ``(preferred worker or None, payload)``; yields ``(worker,
        result)`` as they finish. A worker with nothing of its own left takes the last batch
        of the longest queue (or a batch nobody prefers)."""
        queues: List[Deque] = [deque() for _ in self.conns]
        free: Deque = deque()
        for owner, payload in batches:
            if owner is None or not 0 <= owner < self.size:
                free.append(payload)
            else:
                queues[owner].append(payload)
        busy: Set[int] = set()

        def dispatch(w: int) -> None:
            """Give worker ``w`` its next batch: its own, else one nobody prefers, else the
            last of the longest queue; nothing when none is left."""
            if queues[w]:
                payload = queues[w].popleft()
            elif free:
                payload = free.popleft()
            else:
                longest = max(range(self.size), key=lambda k: len(queues[k]))
                if not queues[longest]:
                    return
                payload = queues[longest].pop()
            self._send(w, (fn, payload))
            busy.add(w)

        for w in range(self.size):
            dispatch(w)
        while busy:
            for conn in connection.wait([self.conns[w] for w in busy]):
                w = self.conns.index(conn)
                busy.discard(w)
                value = self._result(w)
                dispatch(w)
                yield w, value

    def broadcast(self, fn: Callable, arg) -> None:
        """``fn(arg)`` once in every worker (the check phase's project state)."""
        for w in range(self.size):
            self._send(w, (fn, arg))
        for w in range(self.size):
            self._result(w)

    def _send(self, w: int, msg) -> None:
        try:
            self.conns[w].send(msg)
        except (OSError, ValueError) as exc:
            raise WorkerFailed(f"a worker process died ({exc})") from None

    def _result(self, w: int):
        """Worker ``w``'s reply to its last message; its exception, or its death, raised here."""
        try:
            status, value = self.conns[w].recv()
        except (EOFError, OSError) as exc:
            code = self.procs[w].exitcode
            raise WorkerFailed(f"a worker process died (exit code {code}): {exc or 'no reply'}") from None
        if status != "ok":
            raise WorkerFailed(f"a worker process failed:\n{value}")
        return value

    def close(self, wait: bool = True) -> None:
        """Stop the workers: asked to exit (``wait``), or terminated (after an error or Ctrl-C,
        when they may be busy)."""
        for w, conn in enumerate(self.conns):
            if wait:
                try:
                    conn.send(None)
                except (OSError, ValueError):
                    pass
            conn.close()
        for proc in self.procs:
            if wait:
                proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        self.conns, self.procs = [], []
