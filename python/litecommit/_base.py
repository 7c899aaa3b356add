"""What the blocking and the asyncio committer share: opening, config, stats, exit hook."""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from concurrent.futures import Future
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


def _after_fork_in_child() -> None:
    """Fails the futures the child inherited still pending (no thread of the child will
    ever resolve them), and forgets the parent's committers, so that the child's exit does
    not try to close them."""
    committers = list(_open)
    _open.clear()
    for committer in committers:
        try:
            committer._fail_inherited_futures()
        except Exception:  # noqa: BLE001 - a fork hook must not fail the fork
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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

    def _fail_inherited_futures(self) -> None:
        """In a forked child: fails with ``ForkedError`` the futures inherited pending."""
        for future, error in self._native.take_inherited_futures():
            _fail_in_child(future, error)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.path!r} {state}>"


def _fail_in_child(future: Future[Any] | asyncio.Future[Any], error: BaseException) -> None:
    """Fails an inherited future in a forked child, where only the forking thread exists,
    unless that cannot be done safely:

    - a ``concurrent.futures.Future`` whose lock a parent thread held at the fork stays
      pending (that thread does not exist here: taking the lock would never return);
    - an asyncio future stays pending unless its event loop runs in this thread (no thread
      runs the other loops in the child; failing their futures would only log "exception
      was never retrieved" at exit). Its callbacks then run on that loop, as usual.
    """
    try:
        if isinstance(future, Future):
            # The private lock of concurrent.futures.Future, taken without waiting.
            condition = future._condition
            if not condition.acquire(blocking=False):
                return
            try:
                if not future.done():
                    future.set_exception(error)  # runs its done-callbacks here
            finally:
                condition.release()
        elif _runs_here(future.get_loop()) and not future.done():
            future.set_exception(error)
    except Exception:  # noqa: BLE001 - a broken future must not stop the others
        pass


def _runs_here(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether `loop` was running in this thread when the process forked. In a forked child
    asyncio reports no running loop at all, so this asks the loop which thread runs it (a
    private attribute of asyncio's loops; loops without it count as running elsewhere)."""
    return bool(loop.is_running()) and getattr(loop, "_thread_id", None) == threading.get_ident()
