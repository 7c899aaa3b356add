"""Exceptions raised by litecommit (the native module maps every core error to one of these).

Each class also derives from the matching class of the stdlib ``sqlite3`` module (the DB-API
hierarchy), so code written for ``sqlite3`` catches litecommit's errors unchanged::

    Error                  sqlite3.Error
    ├── InterfaceError     sqlite3.InterfaceError
    │   └── ConfigError    (also a ValueError)
    └── DatabaseError      sqlite3.DatabaseError
        ├── SqliteError    (SQLite's codes)
        │   ├── IntegrityError    sqlite3.IntegrityError
        │   ├── OperationalError  sqlite3.OperationalError
        │   └── DataError         sqlite3.DataError
        ├── ProgrammingError      sqlite3.ProgrammingError
        │   ├── ClosedError
        │   └── ForkedError
        ├── QueueFullError        sqlite3.OperationalError
        ├── InternalError         sqlite3.InternalError
        └── NotSupportedError     sqlite3.NotSupportedError
"""

from __future__ import annotations

import sqlite3
from typing import Optional


class Error(sqlite3.Error):
    """Base class of every litecommit error."""


class InterfaceError(Error, sqlite3.InterfaceError):
    """A misuse of litecommit's interface rather than an error of the database."""


class ConfigError(InterfaceError, ValueError):
    """An invalid configuration option or value; the message names the option."""


class DatabaseError(Error, sqlite3.DatabaseError):
    """An error of the database or of a statement."""


class SqliteError(DatabaseError):
    """SQLite refused a statement, or its batch failed to commit (``statement_index`` None).

    ``sqlite_errorcode`` and ``sqlite_errorname`` repeat ``extended_code`` and
    ``code_name`` under the names the stdlib ``sqlite3`` module gives them."""

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
        self.sqlite_errorcode = extended_code
        self.sqlite_errorname = self.code_name

    @property
    def code_name(self) -> str:
        """Symbolic name of the extended code, e.g. ``"SQLITE_CONSTRAINT_UNIQUE"``."""
        from ._litecommit import code_name

        return code_name(self.extended_code)

    def __str__(self) -> str:
        where = "" if self.statement_index is None else f" (statement {self.statement_index})"
        return f"{self.message}{where}"


class IntegrityError(SqliteError, sqlite3.IntegrityError):
    """A constraint violation (UNIQUE, NOT NULL, FOREIGN KEY, CHECK, ...) or type mismatch."""


class OperationalError(SqliteError, sqlite3.OperationalError):
    """Busy, locked, I/O error, disk full, cannot open, SQL errors and the like: the codes
    the stdlib ``sqlite3`` module reports as ``OperationalError``. Others (a corrupt file,
    ``SQLITE_NOTADB``, ...) are plain ``SqliteError``, its ``DatabaseError``."""


class DataError(SqliteError, sqlite3.DataError):
    """A string or blob too big for SQLite (``SQLITE_TOOBIG``)."""


class ProgrammingError(DatabaseError, sqlite3.ProgrammingError):
    """A statement refused before it reached SQLite (BEGIN, COMMIT, VACUUM, ...) or wrong
    parameters (count, unknown name)."""

    def __init__(self, message: str, statement_index: Optional[int] = None) -> None:
        if statement_index is None:
            super().__init__(message)
        else:
            super().__init__(message, statement_index)
        self.message = message
        self.statement_index = statement_index

    def __str__(self) -> str:
        return self.message


class ClosedError(ProgrammingError):
    """The committer is closed (the stdlib reports a closed connection as a
    ``ProgrammingError`` too)."""


class ForkedError(ProgrammingError):
    """The committer was opened by another process: this is a forked child (``os.fork``,
    ``multiprocessing`` with the fork start method, a pre-loading server). Its threads and
    connections belong to the parent, so every call fails; open a committer in the child.

    Futures that were still pending when the process forked fail with it in the child."""

    def __init__(self, message: str, opened_by: int) -> None:
        super().__init__(message)
        self.args = (message, opened_by)
        self.opened_by = opened_by

    def __str__(self) -> str:
        return self.message


class QueueFullError(DatabaseError, sqlite3.OperationalError):
    """The submission queue is full (raised only where waiting is not possible). A
    transient condition like ``SQLITE_BUSY``, so a ``sqlite3.OperationalError``; it has no
    SQLite code, so it is not a ``SqliteError``."""


class InternalError(DatabaseError, sqlite3.InternalError):
    """An internal failure of litecommit (a bug): the operation may not have run."""


class NotSupportedError(DatabaseError, sqlite3.NotSupportedError):
    """An operation litecommit does not support. Part of the DB-API set of names;
    statements litecommit refuses raise ``ProgrammingError``."""
