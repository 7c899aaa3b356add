"""litecommit: group commit for SQLite.

Many threads or tasks submit small write transactions; litecommit runs them together inside
one SQLite transaction (one fsync per batch) and resolves each one once it is durable.
"""

from importlib import metadata as _metadata

from ._async import AsyncCommitter
from ._base import CheckpointResult
from ._committer import Committer
from ._errors import (
    ClosedError,
    ConfigError,
    DatabaseError,
    DataError,
    Error,
    ForkedError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    QueueFullError,
    SqliteError,
)
from ._litecommit import Result, sqlite_version
from ._row import Row
from ._types import Options as Options
from ._types import Params as Params
from ._types import PathLike as PathLike
from ._types import StatementSpec as StatementSpec
from ._types import Value as Value

try:
    __version__ = _metadata.version("litecommit")
except _metadata.PackageNotFoundError:  # imported from a source tree
    __version__ = "0.0.0"

# Show (and pickle) the exceptions and Row as litecommit.X rather than litecommit._errors.X.
for _cls in (
    ClosedError,
    ConfigError,
    DatabaseError,
    DataError,
    Error,
    ForkedError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    QueueFullError,
    Row,
    SqliteError,
):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "AsyncCommitter",
    "CheckpointResult",
    "ClosedError",
    "Committer",
    "ConfigError",
    "DataError",
    "DatabaseError",
    "Error",
    "ForkedError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "QueueFullError",
    "Result",
    "Row",
    "SqliteError",
    "sqlite_version",
]
