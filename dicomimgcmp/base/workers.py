"""Running batches of work on any ``concurrent.futures.Executor``, surviving workers that die.

A process pool whose worker is killed (a decoder that crashes the process, the OOM killer) is broken for good:
:class:`Workers` replaces it. :func:`map_batches` then retries the work that was lost one item at a time, so the
item that kills a worker is found; an item that fails a second time gets the caller's failure record (a status
and a reason) and the run goes on."""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import islice
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from dicomimgcmp.base.progress import StageProgress

#: What a failed task may raise besides Exception: a Rust decoder's panic is a BaseException.
_NOT_FAILURES = (KeyboardInterrupt, SystemExit)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class InlineExecutor(Executor):
    """An executor that runs each task at once in the calling process (for the single-process script)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except _NOT_FAILURES:
            raise
        except BaseException as exc:  # noqa: BLE001 - delivered through the future, as a pool would
            future.set_exception(exc)
        return future


class Workers:
    """The executor work is submitted to, replaced by a fresh one when a worker process has died."""

    def __init__(self, make: Callable[[], Executor], close: Callable[[], None] | None = None, *,
                 isolated: bool = True) -> None:
        self._make = make
        self._close = close
        self.executor = make()
        #: Whether tasks run in other processes, so that one that crashes its process cannot end the run.
        self.isolated = isolated

    def replace_if_broken(self, exc: BaseException) -> None:
        if isinstance(exc, BrokenProcessPool):
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = self._make()

    def terminate(self) -> None:
        """Stop at once (Ctrl-C, SIGTERM): cancel what is queued and end the worker processes. A process pool is
        waited for once its processes are ended (at once: it finds them gone): a pool left to shut down on its own
        can race the interpreter's exit and print a traceback (its wake-up pipe closed under it, Python 3.11)."""
        pool = isinstance(self.executor, ProcessPoolExecutor)
        if not pool:
            self.executor.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():
            child.terminate()
        if pool:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.executor.shutdown(wait=True)
        else:
            self.terminate()
        if self._close is not None:
            self._close()


def local_workers(count: int) -> Workers:
    """``count`` worker processes, or the calling process itself when ``count`` is 1."""
    if count > 1:
        return _processes(count)
    return Workers(InlineExecutor, isolated=False)


def _processes(count: int) -> Workers:
    return Workers(lambda: ProcessPoolExecutor(max_workers=count, initializer=_leave_interrupts_to_main))


@contextmanager
def isolated(workers: Workers) -> Iterator[Workers]:
    """``workers`` when their tasks run in other processes, else one worker process for the block: work that
    may crash its process (a library's native reader on a damaged file) runs there, never in the caller."""
    if workers.isolated:
        yield workers
        return
    with _processes(1) as process:
        yield process


def _leave_interrupts_to_main() -> None:
    """Workers ignore Ctrl-C and end quietly on SIGTERM, whatever handler they were forked with (the command
    line's turns SIGTERM into an interrupt): the main process stops them, so no worker prints a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


WINDOW = 16  # batches in flight at once: enough to keep workers busy, few enough to keep memory flat


def iter_batches(workers: Workers, fn: Callable, items: Iterable, size: int, *args: Any, progress: StageProgress,
                 on_failure: Callable[[Any, str], Any] | None = None, retry_args: tuple | None = None,
                 count: Callable[[list], int] = len) -> Iterator[tuple[list, list]]:
    """``fn(batch, *args)`` over batches of ``items``, pulled lazily: yields (batch, results) in input order,
    with at most :data:`WINDOW` batches in flight, so the caller can produce items and consume results while
    the workers run, in flat memory.

    A batch whose task fails (its worker died, or it raised) is retried one item at a time, with ``retry_args``
    when given (a slower, safer way); an item that fails again is given ``on_failure(item, reason)`` (without
    ``on_failure``, the error is raised). ``count(batch)``: what a batch adds to the progress.
    """
    source = iter(items)
    pending: deque[tuple[list, Future]] = deque()

    def submit_next() -> None:
        batch = list(islice(source, size))
        if batch:
            pending.append((batch, workers.executor.submit(fn, batch, *args)))

    for _ in range(WINDOW):
        submit_next()
    while pending:
        batch, future = pending.popleft()
        try:
            results = future.result()
        except _NOT_FAILURES:
            raise
        except BaseException as exc:  # noqa: BLE001 - a broken pool or a task that failed: retried one by one
            workers.replace_if_broken(exc)
            results = run_one_by_one(workers, fn, batch, args if retry_args is None else retry_args, on_failure)
        submit_next()
        progress.update(count(batch))
        yield batch, results


def map_batches(workers: Workers, fn: Callable, items: Sequence, size: int, label: str, *args: Any,
                on_failure: Callable[[Any, str], Any] | None = None, retry_args: tuple | None = None) -> list:
    """:func:`iter_batches` over a list, with its own progress; the results flattened, in input order."""
    with StageProgress(label, len(items)) as progress:
        return [result for _, results in iter_batches(workers, fn, items, size, *args, progress=progress,
                                                      on_failure=on_failure, retry_args=retry_args)
                for result in results]


def run_one_by_one(workers: Workers, fn: Callable, batch: Sequence, args: tuple,
                   on_failure: Callable[[Any, str], Any] | None) -> list:
    """``fn([item], *args)`` for each item in turn, each in a task of its own; an item that fails gets
    ``on_failure(item, reason)`` (raised without it)."""
    out = []
    for item in batch:
        try:
            out.extend(workers.executor.submit(fn, [item], *args).result())
        except _NOT_FAILURES:
            raise
        except BaseException as exc:
            workers.replace_if_broken(exc)
            if on_failure is None:
                raise
            out.append(on_failure(item, _describe(exc)))
    return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BrokenProcessPool):
        return "a worker process died while reading this file (twice): a decoder crash or out of memory"
    return f"failed twice: {type(exc).__name__}: {exc}"


def chunks(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` items (the last one shorter), pulled lazily."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
