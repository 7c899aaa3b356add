"""Native module (pyo3). Use the names re-exported by ``litecommit`` instead."""

import asyncio
import os
import pathlib
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any, Optional, TypedDict, final

from litecommit._errors import ForkedError
from litecommit._row import Row

__all__ = [
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
