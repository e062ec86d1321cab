"""The shared, bounded executor in which every blocking model call runs (never on the event loop)."""

from __future__ import annotations

import asyncio
import enum
import itertools
import queue
import threading
from collections.abc import Callable
import functools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Priority(enum.IntEnum):
    """Lower runs first. Short, latency-critical work must not queue behind long decodes."""

    UNDERSTAND = 0  # intent/emotion embeddings: ~10 ms, on the reply's critical path
    SPEAK = 1  # the next TTS sentence: the caller is waiting for it
    RECOGNIZE = 2  # ASR decodes: the longest jobs


class InferencePool:
    """A fixed number of worker threads shared by all calls, serving queued work by priority.

    ASR, TTS and embeddings release the GIL, so two workers keep two cores busy; more only adds
    contention. Work beyond the workers waits its turn; within a priority, first come first served.
    Understanding (a few ms of embeddings) has its own lane: it never waits behind a running decode.
    """

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any] | None, Future | None]] = \
            queue.PriorityQueue()
        self._order = itertools.count()
        self._understand = ThreadPoolExecutor(max_workers=1, thread_name_prefix="understand")
        self._threads = [threading.Thread(target=self._work, name=f"inference-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    async def run(self, fn: Callable[P, R], *args: P.args, priority: Priority = Priority.RECOGNIZE,
                  **kwargs: P.kwargs) -> R:
        if priority == Priority.UNDERSTAND:
            return await asyncio.get_running_loop().run_in_executor(
                self._understand, functools.partial(fn, *args, **kwargs))
        future: Future[R] = Future()
        self._queue.put((int(priority), next(self._order), lambda: fn(*args, **kwargs), future))
        return await asyncio.wrap_future(future)

    async def on_every_thread(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once on each worker thread and once in the understanding lane: a start-up warm-up,
        so per-thread buffers and caches exist before the first caller needs them."""
        barrier = threading.Barrier(self.workers)

        def once_here() -> None:
            barrier.wait(timeout=120)  # holds each worker until all have a job: one job per worker
            fn()

        await asyncio.gather(*(self.run(once_here, priority=Priority.SPEAK) for _ in range(self.workers)))
        await self.run(fn, priority=Priority.UNDERSTAND)

    @property
    def queued(self) -> int:
        """Jobs waiting for a worker (a load figure for metrics)."""
        return self._queue.qsize()

    def _work(self) -> None:
        while True:
            _, _, job, future = self._queue.get()
            if job is None or future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue  # the caller gave up (hung up) before the job started
            try:
                future.set_result(job())
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting caller
                future.set_exception(error)

    def shutdown(self) -> None:
        """Stop the workers after the jobs already running; queued jobs are cancelled."""
        while True:
            try:
                _, _, _, future = self._queue.get_nowait()
            except queue.Empty:
                break
            if future is not None:
                future.cancel()
        for _ in self._threads:
            self._queue.put((-1, next(self._order), None, None))
        self._understand.shutdown(wait=False, cancel_futures=True)


def return_large_buffers_to_the_os(threshold_bytes: int = 16 << 20) -> bool:
    """Serve allocations of ``threshold_bytes`` or more with their own mmap (glibc), so the large
    temporary buffers of a synthesis or a decode go back to the system when freed.

    glibc raises its mmap threshold after the first such buffer is freed; from then on they come from
    the worker thread's heap and stay there, and each worker's first synthesis keeps ≈ 90 MB. Below
    16 MB, the extra page faults slow decodes down. Call it at start-up, before models load. Returns
    False where the C library is not glibc (nothing changes).
    """
    import ctypes
    import ctypes.util

    m_mmap_threshold = -3
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(m_mmap_threshold, threshold_bytes))
    except (OSError, AttributeError):
        return False
