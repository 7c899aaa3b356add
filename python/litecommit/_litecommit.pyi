"""Native module (pyo3). Use the names re-exported by ``litecommit`` instead."""

import asyncio
import os
import pathlib
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from concurrent.futures import Future
from contextvars import Context
from typing import Any, Optional, TypedDict, TypeVar, final

from litecommit._errors import ForkedError
from litecommit._row import Row

_T = TypeVar("_T")

__all__ = [
    "LoopFuture",
    "LoopInbox",
    "NativeCommitter",
    "Result",
    "Unqueued",
    "code_name",
    "sqlite_version",
]

@final
class Result:
    """What one statement did: ``rowcount``, ``lastrowid``, and the rows of a ``RETURNING``
    clause."""

    @property
    def rowcount(self) -> int:
        """Rows inserted, updated or deleted by the statement."""
    @property
    def lastrowid(self) -> int:
        """The connection's last insert rowid after the statement."""
    @property
    def rows(self) -> list[Row]:
        """Rows of a ``RETURNING`` clause, as ``Row``s (empty otherwise)."""
    @property
    def columns(self) -> tuple[str, ...]:
        """Column names of ``rows``."""

class _CheckpointFields(TypedDict):
    mode: str
    log_frames: int
    checkpointed_frames: int
    busy: bool

@final
class NativeCommitter:
    """One open committer. The pure-Python ``Committer`` and ``AsyncCommitter`` wrap it."""

    def __new__(
        cls, path: str | os.PathLike[str], options: Mapping[str, object]
    ) -> NativeCommitter: ...
    def execute(self, sql: str, params: Any = None) -> Result: ...
    def transaction(self, statements: Any) -> list[Result]: ...
    def submit(
        self,
        sql: str,
        params: Any,
        event_loop: Optional[asyncio.AbstractEventLoop],
        future: Future[Result] | asyncio.Future[Result],
        block: bool,
    ) -> None: ...
    def submit_transaction(
        self,
        statements: Any,
        event_loop: Optional[asyncio.AbstractEventLoop],
        future: Future[list[Result]] | asyncio.Future[list[Result]],
        block: bool,
    ) -> None: ...
    def submit_async(self, sql: str, params: Any = None) -> asyncio.Future[Result]: ...
    def submit_transaction_async(self, statements: Any) -> asyncio.Future[list[Result]]: ...
    def execute_async(
        self, owner: Any, draining: set[Any], sql: str, params: Any = None
    ) -> LoopFuture[Result]:
        """``AsyncCommitter.execute`` for `owner`: queues the statement when first awaited."""
    def transaction_async(
        self, owner: Any, draining: set[Any], statements: Any
    ) -> LoopFuture[list[Result]]:
        """``AsyncCommitter.transaction`` for `owner`, as ``execute_async``."""
    def submit_many(
        self, sql: str, seq_of_params: Iterable[Any], block: bool
    ) -> list[Future[Result]]: ...
    def submit_many_async(
        self, sql: str, seq_of_params: Iterable[Any], queue_now: bool
    ) -> tuple[list[asyncio.Future[Result]], Optional[Unqueued]]: ...
    def query(self, sql: str, params: Any = None) -> list[Row]: ...
    def flush(self) -> None: ...
    def checkpoint(self, mode: str) -> _CheckpointFields: ...
    def metrics_text(self) -> str: ...
    def stats(self) -> dict[str, Any]: ...
    def close(self) -> None: ...
    def check_process(self) -> None: ...
    def take_inherited_futures(
        self,
    ) -> list[tuple[Future[Any] | asyncio.Future[Any], ForkedError]]: ...
    @property
    def closed(self) -> bool: ...
    @property
    def path(self) -> pathlib.Path: ...
    @property
    def _waiting(self) -> int: ...

@final
class LoopFuture(Coroutine[Any, Any, _T]):
    """What ``AsyncCommitter.execute`` and ``transaction`` return. Until first awaited, a
    coroutine that has not started (nothing is queued); the first step queues the
    transaction, and from then on it is a future of the running loop, resolved by the
    loop's inbox, which runs its callbacks (the awaiting task's wake-up) right there
    instead of scheduling each with ``call_soon``. ``await`` on it returns the value."""

    @property
    def _asyncio_future_blocking(self) -> Optional[bool]:
        """``None`` until first awaited (asyncio then takes it for a coroutine)."""
    @_asyncio_future_blocking.setter
    def _asyncio_future_blocking(self, blocking: bool) -> None: ...
    def get_loop(self) -> asyncio.AbstractEventLoop: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> _T:
        """The value; raises the exception, ``CancelledError``, or ``InvalidStateError``
        until done."""
    def exception(self) -> Optional[BaseException]:
        """The exception (``None`` after a value); raises ``CancelledError``, or
        ``InvalidStateError`` until done."""
    def add_done_callback(
        self, callback: Callable[[LoopFuture[_T]], object], *, context: Optional[Context] = None
    ) -> None: ...
    def remove_done_callback(self, callback: Callable[[LoopFuture[_T]], object]) -> int:
        """Removes every registration of `callback`; returns how many there were."""
    def cancel(self, msg: Any = None) -> bool:
        """Cancels it unless it is done; its callbacks are scheduled. Its transaction is not
        withdrawn once queued: it may still commit. One never awaited is never queued."""
    def set_result(self, value: _T) -> None: ...
    def set_exception(self, exception: BaseException | type[BaseException]) -> None: ...
    def __await__(self) -> Generator[Any, None, _T]: ...
    def __iter__(self) -> Generator[Any, None, _T]: ...
    def __next__(self) -> Any:
        """One step of the awaiting coroutine: the first queues the transaction; while it is
        pending, yields itself to the awaiting task; once done, returns the value (raises
        ``StopIteration`` with it) or raises the exception."""
    def send(self, value: Any) -> Any:
        """As ``__next__``; `value` is ignored (as ``asyncio.Future``'s iterator does),
        except by the asyncio future awaited after a full queue."""
    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """Raises the exception in the awaiting coroutine (the transaction, if queued, is
        not withdrawn); one never awaited is never queued. `tb` is ignored."""
    def close(self) -> None:
        """Closes it: one never awaited is never queued."""

@final
class LoopInbox:
    """The callback that resolves, on its event loop, the futures whose outcomes arrived
    in the loop's inbox."""

    def __call__(self) -> None: ...
    def __len__(self) -> int:
        """How many outcomes wait for the loop."""

@final
class Unqueued:
    """The rest of an ``AsyncCommitter.submit_many`` call, queued by the overflow worker."""

    def submit(self) -> None: ...
    def forget(self) -> None: ...

def code_name(code: int) -> str:
    """Symbolic name of an SQLite result code, e.g. ``SQLITE_CONSTRAINT_UNIQUE``."""

def sqlite_version() -> str:
    """Version of the SQLite library litecommit is built with."""
