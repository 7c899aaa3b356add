"""Exceptions raised by litecommit (the native module maps every core error to one of these)."""

from __future__ import annotations

from typing import Optional


class Error(Exception):
    """Base class of every litecommit error."""


class SqliteError(Error):
    """SQLite refused a statement, or its batch failed to commit (``statement_index`` None)."""

    def __init__(
        self,
        code: int,
        extended_code: int,
        message: str,
        statement_index: Optional[int] = None,
    ) -> None:
        super().__init__(code, extended_code, message, statement_index)
        self.code = code
        self.extended_code = extended_code
        self.message = message
        self.statement_index = statement_index

    @property
    def code_name(self) -> str:
        """Symbolic name of the extended code, e.g. ``"SQLITE_CONSTRAINT_UNIQUE"``."""
        from ._litecommit import code_name

        return code_name(self.extended_code)

    def __str__(self) -> str:
        where = "" if self.statement_index is None else f" (statement {self.statement_index})"
        return f"{self.message}{where}"


class IntegrityError(SqliteError):
    """A constraint violation (UNIQUE, NOT NULL, FOREIGN KEY, CHECK, ...) or type mismatch."""


class OperationalError(SqliteError):
    """Busy, locked, I/O error, disk full, cannot open, SQL errors and the like: the codes
    the stdlib ``sqlite3`` module reports as ``OperationalError``. Others (a corrupt file,
    ``SQLITE_NOTADB``, ...) are plain ``SqliteError``, its ``DatabaseError``."""


class ProgrammingError(Error):
    """A statement refused before it reached SQLite (BEGIN, COMMIT, VACUUM, ...) or wrong
    parameters (count, unknown name)."""

    def __init__(self, message: str, statement_index: Optional[int] = None) -> None:
        super().__init__(message, statement_index)
        self.message = message
        self.statement_index = statement_index

    def __str__(self) -> str:
        return self.message


class ConfigError(Error, ValueError):
    """An invalid configuration option or value; the message names the option."""


class ClosedError(Error):
    """The committer is closed."""


class QueueFullError(Error):
    """The submission queue is full (raised only where waiting is not possible)."""


class ForkedError(Error):
    """The committer was opened by another process: this is a forked child (``os.fork``,
    ``multiprocessing`` with the fork start method, a pre-loading server). Its threads and
    connections belong to the parent, so every call fails; open a committer in the child."""

    def __init__(self, message: str, opened_by: int) -> None:
        super().__init__(message, opened_by)
        self.message = message
        self.opened_by = opened_by

    def __str__(self) -> str:
        return self.message
