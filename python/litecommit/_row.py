"""Rows: tuples that can also be read by column name, like ``sqlite3.Row``."""

from __future__ import annotations

from typing import Any, ClassVar, SupportsIndex, Union, overload


class Row(tuple[Any, ...]):
    """One row: a tuple (equal to the plain tuple of its values, indexed and unpacked as
    one) that also reads by column name: ``row["name"]``, ``row.keys()``, ``dict(row)``.

    Names match exactly first, then case-insensitively (as in SQL and ``sqlite3.Row``);
    with duplicate names the first column wins. The rows of one result share a subclass
    that holds its column-name index."""

    __slots__ = ()
    _columns: ClassVar[tuple[str, ...]] = ()
    _index: ClassVar[dict[str, int]] = {}

    @overload
    def __getitem__(self, key: Union[SupportsIndex, str]) -> Any: ...
    @overload
    def __getitem__(self, key: slice) -> tuple[Any, ...]: ...
    def __getitem__(self, key: Union[SupportsIndex, str, slice]) -> Any:
        if isinstance(key, str):
            index = self._index.get(key)
            if index is None:
                index = self._index.get(key.lower())
                if index is None:
                    raise NoSuchColumn(f"no column named {key!r}")
            return tuple.__getitem__(self, index)
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._columns)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_row, (self._columns, tuple(self)))


class NoSuchColumn(IndexError, KeyError):
    """``row["name"]`` with no such column: an ``IndexError`` as with ``sqlite3.Row``, and a
    ``KeyError`` as with a mapping."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# The classes made so far, by column names. Emptied when it reaches _MAX_CLASSES, which
# bounds it when a program runs many different queries; existing rows keep their class.
_classes: dict[tuple[str, ...], type[Row]] = {}
_MAX_CLASSES = 256


def row_class(columns: tuple[str, ...]) -> type[Row]:
    """The ``Row`` subclass of rows with these columns: made once per column list."""
    cls = _classes.get(columns)
    if cls is None:
        if len(_classes) >= _MAX_CLASSES:
            _classes.clear()
        cls = _classes[columns] = _make_row_class(columns)
    return cls


def _make_row_class(columns: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for i, name in enumerate(columns):
        index.setdefault(name, i)
    for i, name in enumerate(columns):
        index.setdefault(name.lower(), i)
    namespace = {"__slots__": (), "_columns": columns, "_index": index, "__module__": "litecommit"}
    return type("Row", (Row,), namespace)


def _row(columns: tuple[str, ...], values: tuple[Any, ...]) -> Row:
    """Unpickles a row."""
    return row_class(columns)(values)
