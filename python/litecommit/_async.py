"""The asyncio committer."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, TypeVar

from ._base import CheckpointResult, _Base, _fail_in_child, _runs_here
from ._errors import ForkedError, QueueFullError
from ._litecommit import Result, Unqueued
from ._row import Row
from ._types import Options, Params, PathLike, StatementSpec

if TYPE_CHECKING:
    from typing_extensions import Unpack

T = TypeVar("T")


class AsyncCommitter(_Base):
    """A group committer for asyncio. ``AsyncCommitter(path, **config)`` opens the database
    (a short blocking step); every other call is awaited and never blocks the event loop.

    Completions are delivered per batch: at most one ``call_soon_threadsafe`` per event
    loop per batch, whose callback resolves on the loop every future whose outcome has
    arrived (the writer never waits for the GIL); the tasks awaiting ``execute`` and
    ``transaction`` are woken right there. Several event loops (in several threads) may
    share one committer.

    When the queue is full, submissions wait for room in order, off the event loop.

    Cancelling a task that awaits ``execute``/``transaction`` does not withdraw the
    transaction: it may still commit.

    In a forked child every call raises ``ForkedError`` at once (see ``Committer``), and
    the pending futures of the event loop that ran in the forking thread fail with it; those
    of loops that ran in other threads stay pending (no thread runs those loops there).
    """

    def __init__(self, path: PathLike, **config: Unpack[Options]) -> None:
        super().__init__(path, **config)
        self._overflow: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Overflow] = (
            weakref.WeakKeyDictionary()
        )
        # The overflows whose worker is queueing submissions that waited for room. While it
        # is empty, a submission queues at once unless the queue is full.
        self._draining: set[_Overflow] = set()

    def submit(self, sql: str, params: Params = ()) -> asyncio.Future[Result]:
        """Queues one statement; returns an asyncio future (call from a running loop)."""
        if not self._draining:
            try:
                return self._native.submit_async(sql, params)
            except QueueFullError:
                pass
        return self._queue_execute(sql, params)

    def submit_transaction(
        self, statements: Sequence[StatementSpec]
    ) -> asyncio.Future[list[Result]]:
        """Queues a transaction; returns an asyncio future of one ``Result`` per statement."""
        if not self._draining:
            try:
                return self._native.submit_transaction_async(statements)
            except QueueFullError:
                pass
        return self._queue_transaction(statements)

    def submit_many(
        self, sql: str, seq_of_params: Iterable[Params]
    ) -> list[asyncio.Future[Result]]:
        """Queues ``sql`` once per parameter set, each its own transaction; returns one
        asyncio future per set, in order (call from a running loop). Each commits or fails
        on its own: ``await asyncio.gather(*futures)`` raises the first failure,
        ``return_exceptions=True`` gives every outcome.

        The fast path for bulk work: every set is converted first (a bad one raises
        ``TypeError`` and nothing is queued), then those that fit are queued in one call;
        in a full queue the rest wait for room off the loop, in order. Raises if none could
        be queued (``ClosedError``, a refused statement); if only some were, the futures of
        the others fail with that error. Cancelling one of the futures does not withdraw its
        transaction.
        """
        self._native.check_process()
        loop = asyncio.get_running_loop()
        overflow = self._overflow.get(loop)
        queue_now = overflow is None or not overflow.busy
        futures, rest = self._native.submit_many_async(sql, seq_of_params, queue_now)
        if rest is not None:
            if overflow is None:
                overflow = self._overflow.setdefault(loop, _Overflow(self._draining))
            try:
                overflow.add(loop, _queue_rest, (rest,))
            except BaseException:
                rest.forget()
                raise
        return futures

    def execute(self, sql: str, params: Params = ()) -> Coroutine[Any, Any, Result]:
        """Runs one statement as a transaction; resolves once it is durable. A coroutine,
        as from an ``async def``: the statement is queued when it is first awaited."""
        return self._native.execute_async(self, self._draining, sql, params)

    def transaction(self, statements: Sequence[StatementSpec]) -> Coroutine[Any, Any, list[Result]]:
        """Runs ``[(sql, params), ...]`` atomically; one ``Result`` per statement. A
        coroutine, as ``execute``."""
        return self._native.transaction_async(self, self._draining, statements)

    async def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> list[Result]:
        """Runs ``sql`` once per parameter set, all in one atomic transaction; one
        ``Result`` per set."""
        return await self.transaction([(sql, params) for params in seq_of_params])

    async def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Runs a read-only statement on the read pool (in a worker thread); rows as
        ``Row`` tuples, also readable by column name."""
        self._native.check_process()
        return await _in_thread(self._native.query, sql, params)

    async def flush(self) -> None:
        """Resolves once every transaction submitted before it is committed."""
        self._native.check_process()
        await self._queued()
        await _in_thread(self._native.flush)

    async def checkpoint(self, mode: str = "passive") -> CheckpointResult:
        """Runs a WAL checkpoint now: ``passive``, ``full``, ``restart`` or ``truncate``."""
        self._native.check_process()
        return CheckpointResult(**await _in_thread(self._native.checkpoint, mode))

    async def close(self) -> None:
        """Commits everything submitted, resolves every future, closes. Idempotent."""
        self._native.check_process()
        await self._queued()
        await _in_thread(self._native.close)

    async def __aenter__(self) -> AsyncCommitter:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    def _fail_inherited_futures(self) -> None:
        super()._fail_inherited_futures()
        # Submissions that waited for room: their worker thread is gone.
        for loop, overflow in list(self._overflow.items()):
            if not _runs_here(loop):
                continue
            for future in overflow.take_in_child():
                try:
                    self._native.check_process()
                except ForkedError as error:
                    _fail_in_child(future, error)

    def _queue_execute(self, sql: str, params: Params) -> asyncio.Future[Result]:
        """``execute`` first awaited when the queue is full or submissions wait for room."""
        return self._queue(self._native.submit_async, self._native.submit, sql, params)

    def _queue_transaction(
        self, statements: Sequence[StatementSpec]
    ) -> asyncio.Future[list[Result]]:
        """``transaction`` first awaited when the queue is full or submissions wait."""
        native = self._native
        return self._queue(native.submit_transaction_async, native.submit_transaction, statements)

    def _queue(
        self,
        try_submit: Callable[..., asyncio.Future[T]],
        submit: Callable[..., None],
        *args: Any,
    ) -> asyncio.Future[T]:
        """A submission that met a full queue, or a loop's submissions waiting for room:
        queues at once if this loop has none waiting and the queue has room, otherwise
        behind those of this loop, off the loop."""
        # In a forked child the overflow state (its lock, its worker) is the parent's.
        self._native.check_process()
        loop = asyncio.get_running_loop()
        overflow = self._overflow.get(loop)
        if overflow is None or not overflow.busy:
            try:
                return try_submit(*args)
            except QueueFullError:
                pass
        if overflow is None:
            overflow = self._overflow.setdefault(loop, _Overflow(self._draining))
        return overflow.add(loop, submit, args)

    async def _queued(self) -> None:
        """Returns once this loop's submissions that waited for room are in the queue."""
        loop = asyncio.get_running_loop()
        overflow = self._overflow.get(loop)
        if overflow is not None and overflow.busy:
            await overflow.add(loop, None, ())


class _Overflow:
    """The submissions of one event loop that met a full queue. One worker thread waits for
    room and queues them one by one, and later submissions of the loop line up behind them,
    so they keep their order and the loop's executor is not filled with waiting threads."""

    def __init__(self, draining: set[_Overflow]) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[
            tuple[Optional[Callable[..., None]], tuple[Any, ...], asyncio.Future[Any]]
        ] = deque()
        self.busy = False  # a worker is draining (set on the loop, cleared by the worker)
        self._draining = draining  # the committer's busy overflows: this one while busy

    def add(
        self,
        loop: asyncio.AbstractEventLoop,
        submit: Optional[Callable[..., None]],
        args: tuple[Any, ...],
    ) -> asyncio.Future[Any]:
        """``submit(*args, loop, future, True)`` in turn; ``submit=None`` is a barrier whose
        future resolves once everything added before it is queued."""
        future = loop.create_future()
        with self._lock:
            self._waiting.append((submit, args, future))
            if self.busy:
                return future
            self.busy = True
            self._draining.add(self)
        try:
            loop.run_in_executor(None, self._drain)
        except BaseException:
            with self._lock:
                self._waiting.clear()
                self.busy = False
                self._draining.discard(self)
            raise
        return future

    def take_in_child(self) -> list[asyncio.Future[Any]]:
        """In a forked child: takes the futures of the waiting submissions (none if a parent
        thread held the lock at the fork)."""
        if not self._lock.acquire(blocking=False):
            return []
        try:
            futures = [future for _, _, future in self._waiting]
            self._waiting.clear()
            return futures
        finally:
            self._lock.release()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self.busy = False
                    self._draining.discard(self)
                    return
                submit, args, future = self._waiting.popleft()
            if future.cancelled():  # never queued, so it is withdrawn
                continue
            loop = future.get_loop()
            try:
                if submit is None:
                    _settle(future, None)
                else:
                    submit(*args, loop, future, True)
            except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
                _settle(future, e)


def _queue_rest(
    rest: Unqueued, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], block: bool
) -> None:
    """An overflow entry: queues the rest of a ``submit_many`` call (their futures are
    resolved by the committer), then resolves the entry's own future, which nobody awaits."""
    rest.submit()
    _settle(future, None)


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _settle(future: asyncio.Future[Any], exc: Optional[BaseException]) -> None:
    """Resolves `future` (or fails it with `exc`) on its loop, from any thread."""
    try:
        future.get_loop().call_soon_threadsafe(_set, future, exc)
    except RuntimeError:  # the loop is closed: nobody awaits the future
        pass


def _set(future: asyncio.Future[Any], exc: Optional[BaseException]) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
