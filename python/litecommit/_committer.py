"""The blocking committer, for threads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Optional

from ._base import CheckpointResult, _Base
from ._litecommit import Result
from ._row import Row
from ._types import Params, StatementSpec


class Committer(_Base):
    """A group committer on one SQLite database, usable from any number of threads.

    ``Committer(path, **config)`` opens (creating if needed) the database in WAL mode.
    Every blocking call releases the GIL while it waits.

    Ctrl-C in the main thread interrupts a wait in ``execute``, ``transaction``,
    ``executemany``, ``flush``, ``checkpoint`` or a submit waiting for room within about
    50 ms: ``KeyboardInterrupt`` is raised, and what it waited for goes on (a transaction
    already queued may still commit). ``close()`` still waits for the queue to commit.

    A committer belongs to the process that opened it. In a forked child (``os.fork``,
    ``multiprocessing`` with the fork start method, ``gunicorn --preload``) every call
    raises ``ForkedError`` at once and the parent is unaffected: open committers after
    forking, in the process that uses them. Futures still pending at the fork fail with
    ``ForkedError`` in the child, except one whose lock a parent thread held at that
    instant or whose outcome was being delivered then: in a child, wait with a timeout.
    """

    def execute(self, sql: str, params: Params = ()) -> Result:
        """Runs one statement as a transaction; returns once it is durable (no ``commit()``
        needed)."""
        return self._native.execute(sql, params)

    def transaction(self, statements: Sequence[StatementSpec]) -> list[Result]:
        """Runs ``[(sql, params), ...]`` atomically; one ``Result`` per statement."""
        return self._native.transaction(statements)

    def executemany(self, sql: str, seq_of_params: Iterable[Params]) -> list[Result]:
        """Runs ``sql`` once per parameter set, all in one atomic transaction (as
        ``transaction([(sql, p) for p in seq_of_params])``); one ``Result`` per set."""
        return self._native.transaction([(sql, params) for params in seq_of_params])

    def submit(self, sql: str, params: Params = (), *, block: bool = True) -> Future[Result]:
        """Queues one statement; the future resolves once it is durable.

        While the queue is full it waits, or with ``block=False`` raises ``QueueFullError``.
        Done-callbacks run on litecommit's delivery thread (never on the writer): keep
        them short, and do not wait there for another future of this committer.
        """
        future: Future[Result] = Future()
        future.set_running_or_notify_cancel()  # in flight: it cannot be cancelled any more
        self._native.submit(sql, params, None, future, block)
        return future

    def submit_many(
        self, sql: str, seq_of_params: Iterable[Params], *, block: bool = True
    ) -> list[Future[Result]]:
        """Queues ``sql`` once per parameter set, each its own transaction; returns one
        future per set, in order. Each commits or fails on its own.

        The fast path for bulk work: every set is converted first (a bad one raises
        ``TypeError`` and nothing is queued), then all are queued in one call and their
        futures resolved per batch. While the queue is full it waits (or with
        ``block=False`` stops). If none could be queued it raises (``ClosedError``,
        ``QueueFullError``, a refused statement); if only some were, the futures of the
        others fail with that error. Ctrl-C while it waits raises ``KeyboardInterrupt``;
        the sets queued by then still commit.
        """
        return self._native.submit_many(sql, seq_of_params, block)

    def submit_transaction(
        self, statements: Sequence[StatementSpec], *, block: bool = True
    ) -> Future[list[Result]]:
        """Queues a transaction; the future resolves to one ``Result`` per statement."""
        future: Future[list[Result]] = Future()
        future.set_running_or_notify_cancel()
        self._native.submit_transaction(statements, None, future, block)
        return future

    def query(self, sql: str, params: Params = ()) -> list[Row]:
        """Runs a read-only statement on the read pool; rows as tuples (``Row``: also
        readable by column name)."""
        return self._native.query(sql, params)

    def flush(self) -> None:
        """Returns once every transaction submitted before it is committed."""
        self._native.flush()

    def checkpoint(self, mode: str = "passive") -> CheckpointResult:
        """Runs a WAL checkpoint now: ``passive``, ``full``, ``restart`` or ``truncate``."""
        return CheckpointResult(**self._native.checkpoint(mode))

    def close(self) -> None:
        """Commits everything queued, resolves every future, closes. Idempotent."""
        self._native.close()

    def __enter__(self) -> Committer:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()
