"""Native module (pyo3). Use the names re-exported by ``litecommit`` instead."""

import asyncio
import os
import pathlib
from collections.abc import Callable, Generator, Iterable, Mapping
from concurrent.futures import Future
from contextvars import Context
from typing import Any, Generic, Literal, Optional, TypedDict, TypeVar, final, overload

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
    @overload
    def submit_async(
        self, sql: str, params: Any = None, loop_future: Literal[False] = False
    ) -> asyncio.Future[Result]: ...
    @overload
    def submit_async(
        self, sql: str, params: Any, loop_future: Literal[True]
    ) -> LoopFuture[Result]: ...
    @overload
    def submit_transaction_async(
        self, statements: Any, loop_future: Literal[False] = False
    ) -> asyncio.Future[list[Result]]: ...
    @overload
    def submit_transaction_async(
        self, statements: Any, loop_future: Literal[True]
    ) -> LoopFuture[list[Result]]: ...
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
class LoopFuture(Generic[_T]):
    """What ``AsyncCommitter.execute`` and ``transaction`` await: asyncio's future
    protocol, resolved on its loop by the loop's inbox, which runs its callbacks (the
    awaiting task's wake-up) right there instead of scheduling each with ``call_soon``.
    ``await`` on it raises its exception but returns ``None`` after a value: read
    ``result()`` then."""

    _asyncio_future_blocking: bool
    def get_loop(self) -> asyncio.AbstractEventLoop: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def result(self) -> _T:
        """The value; raises the exception, ``CancelledError``, or ``InvalidStateError``
        while pending."""
    def exception(self) -> Optional[BaseException]:
        """The exception (``None`` after a value); raises ``CancelledError``, or
        ``InvalidStateError`` while pending."""
    def add_done_callback(
        self, callback: Callable[[LoopFuture[_T]], object], *, context: Optional[Context] = None
    ) -> None: ...
    def remove_done_callback(self, callback: Callable[[LoopFuture[_T]], object]) -> int:
        """Removes every registration of `callback`; returns how many there were."""
    def cancel(self, msg: Any = None) -> bool:
        """Cancels it unless it is done; its callbacks are scheduled. Its transaction is not
        withdrawn: it may still commit."""
    def set_result(self, value: _T) -> None: ...
    def set_exception(self, exception: BaseException | type[BaseException]) -> None: ...
    def __await__(self) -> Generator[Any]: ...
    def __iter__(self) -> Generator[Any]: ...
    def __next__(self) -> Any:
        """Yields itself to the awaiting task until done. `await` on it raises its exception
        but returns `None` after a value: read `result()` then (a value carried by
        `StopIteration` would cost an exception object per transaction)."""

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
