"""Types of the public API: parameters, statements and the keyword options."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Optional, TypedDict, Union

Value = Union[None, int, float, str, bytes, bytearray, memoryview]
"""A parameter value; ``bool`` binds as 0/1, as in the stdlib ``sqlite3`` module."""

Params = Union[Sequence[Value], Mapping[str, Value], None]
"""Parameters of one statement: a sequence binds positionally, a mapping by name."""

StatementSpec = Union[str, tuple[str], tuple[str, Params]]
"""One statement of a transaction: ``(sql, params)``, ``(sql,)`` or a bare ``sql``."""

PathLike = Union[str, "os.PathLike[str]"]


class Options(TypedDict, total=False):
    """The keyword options of ``Committer`` and ``AsyncCommitter``, as the README's table
    describes them. Each is checked when the committer opens (``ConfigError``)."""

    durability: str  # "full", "normal" or "off"
    flush_policy: str  # "adaptive" or "ticker"
    max_batch_size: int
    max_wait_ms: int
    linger_ms: int
    queue_capacity: int
    busy_timeout_ms: int
    read_connections: int
    checkpoint: bool
    passive_threshold_mb: float
    restart_threshold_mb: float
    checkpoint_busy_timeout_ms: int
    wal_hard_limit_mb: float
    wal_hard_limit_pause_ms: int
    dynamic_batch_size: bool
    truncate_when_idle: bool
    idle_vacuum_pages: int
    idle_vacuum_budget_ms: int
    idle_ms: int
    cache_size_kib: int
    mmap_size: int
    journal_size_limit: Optional[int]  # None keeps the WAL file at its high-water mark
    foreign_keys: bool
    statement_cache_capacity: int
    metrics_label: str  # the Prometheus `db` label; default: the database file's name
