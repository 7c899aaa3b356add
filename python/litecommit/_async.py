"""The asyncio committer."""

from __future__ import annotations

import asyncio
from functools import partial
from types import TracebackType
from typing import Any, Callable, Optional

from ._base import CheckpointResult, _Base
from ._errors import QueueFullError
from ._litecommit import Result

Params = Any


class AsyncCommitter(_Base):
    """A group committer for asyncio. ``AsyncCommitter(path, **config)`` opens the database
    (a short blocking step); every other call is awaited and never blocks the event loop.

    Completions are delivered per batch: one ``call_soon_threadsafe`` per event loop per
    batch. Several event loops (in several threads) may share one committer.

    Cancelling a task that awaits ``execute``/``transaction`` does not withdraw the
    transaction: it may still commit.
    """

    def submit(self, sql: str, params: Params = ()) -> asyncio.Future[Result]:
        """Queues one statement; returns an asyncio future (call from a running loop)."""
        try:
            return self._native.submit_async(sql, params)
        except QueueFullError:
            return _when_room(self._native.submit, sql, params)

    def submit_transaction(
        self, statements: list[tuple[str, Params]]
    ) -> asyncio.Future[list[Result]]:
        """Queues a transaction; returns an asyncio future of one ``Result`` per statement."""
        try:
            return self._native.submit_transaction_async(statements)
        except QueueFullError:
            return _when_room(self._native.submit_transaction, statements)

    async def execute(self, sql: str, params: Params = ()) -> Result:
        """Runs one statement as a transaction; resolves once it is durable."""
        return await self.submit(sql, params)

    async def transaction(self, statements: list[tuple[str, Params]]) -> list[Result]:
        """Runs ``[(sql, params), ...]`` atomically; one ``Result`` per statement."""
        return await self.submit_transaction(statements)

    async def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Runs a read-only statement on the read pool (in a worker thread)."""
        return await _in_thread(self._native.query, sql, params)

    async def flush(self) -> None:
        """Resolves once every transaction submitted before it is committed."""
        await _in_thread(self._native.flush)

    async def checkpoint(self, mode: str = "passive") -> CheckpointResult:
        """Runs a WAL checkpoint now: ``passive``, ``full``, ``restart`` or ``truncate``."""
        return CheckpointResult(*await _in_thread(self._native.checkpoint, mode))

    async def close(self) -> None:
        """Commits everything queued, resolves every future, closes. Idempotent."""
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


def _when_room(submit: Callable[..., None], *args: Any) -> asyncio.Future[Any]:
    """The queue is full: wait for room on a worker thread, never on the event loop."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    waiting = loop.run_in_executor(None, submit, *args, loop, future, True)
    waiting.add_done_callback(partial(_forward_failure, future))
    return future


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _forward_failure(future: asyncio.Future[Any], waiting: asyncio.Future[None]) -> None:
    if waiting.cancelled():
        future.cancel()
        return
    exc = waiting.exception()
    if exc is not None and not future.done():
        future.set_exception(exc)
