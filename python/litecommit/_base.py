"""What the blocking and the asyncio committer share: opening, config, stats, exit hook."""

from __future__ import annotations

import atexit
import os
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

from ._litecommit import NativeCommitter
from ._types import Options, PathLike

if TYPE_CHECKING:
    from typing_extensions import Unpack


class CheckpointResult(NamedTuple):
    """Outcome of a manual checkpoint."""

    mode: str
    log_frames: int
    checkpointed_frames: int
    busy: bool


# Committers still open when the interpreter exits are closed (their queues drained) while
# the interpreter can still run the completions.
_open: weakref.WeakSet[_Base] = weakref.WeakSet()


@atexit.register
def _close_open_committers() -> None:
    for committer in list(_open):
        try:
            committer._native.close()
        except Exception:  # noqa: BLE001 - exiting anyway; nothing left to tell
            pass


# A forked child's exit must not try to close the parent's committers.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_open.clear)


class _Base:
    def __init__(self, path: PathLike, **config: Unpack[Options]) -> None:
        self._native = NativeCommitter(os.fspath(path), config)
        _open.add(self)

    @property
    def path(self) -> str:
        """The database path."""
        return str(self._native.path)

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called (always true in a forked child, where the
        committer cannot be used)."""
        return bool(self._native.closed)

    def metrics_text(self) -> str:
        """This committer's metrics in the Prometheus text exposition format."""
        return str(self._native.metrics_text())

    def stats(self) -> dict[str, Any]:
        """The same figures as the metrics, as a dict."""
        return dict(self._native.stats())

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.path!r} {state}>"
