"""Expose the metrics of one or more committers through a ``prometheus_client`` registry.

    from prometheus_client import CollectorRegistry, generate_latest
    from litecommit.prometheus import register

    registry = CollectorRegistry()
    register(orders, registry)
    register(users, registry)  # the same registry: each sample says which committer
    print(generate_latest(registry).decode())

Every sample carries the constant label ``db``: the committer's ``metrics_label`` option,
by default its database file's name. The committers of one registry need distinct labels.

Needs the optional dependency ``prometheus_client`` (``pip install litecommit[prometheus]``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Optional
from weakref import WeakKeyDictionary

try:
    from prometheus_client.core import Metric
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry
except ImportError as e:
    raise ImportError(
        "litecommit.prometheus needs prometheus_client: pip install 'litecommit[prometheus]'"
    ) from e

from ._errors import ClosedError

if TYPE_CHECKING:
    from ._base import _Base

#: The constant label that tells committers apart.
DB_LABEL = "db"


def _db_label(committer: _Base) -> str:
    """The ``db`` label of ``committer``'s metrics (raises ``ClosedError`` once closed)."""
    for family in text_string_to_metric_families(committer.metrics_text()):
        for sample in family.samples:
            return sample.labels.get(DB_LABEL, "")
    return ""


class CommitterCollector(Collector):
    """Collects the ``litecommit_*`` metrics of committers at each scrape: one family per
    metric name, holding the samples of every committer (told apart by their ``db`` label).

    A closed committer reports nothing.
    """

    def __init__(self, *committers: _Base) -> None:
        self._lock = threading.Lock()
        self._members: list[tuple[_Base, str]] = []
        for committer in committers:
            self.add(committer)

    def add(self, committer: _Base) -> None:
        """Adds ``committer``. Raises ``ValueError`` when an open committer already added has
        the same ``db`` label (give one of them another ``metrics_label``), and
        ``ClosedError`` when ``committer`` is closed."""
        label = _db_label(committer)
        with self._lock:
            self._members = [(c, lbl) for c, lbl in self._members if not c.closed]
            if any(lbl == label for _, lbl in self._members):
                raise ValueError(
                    f"a committer with the metrics label {DB_LABEL}={label!r} is already "
                    "collected: open one of them with another metrics_label"
                )
            self._members.append((committer, label))

    def describe(self) -> Iterator[Metric]:
        # Without it only auto-describing registries (the global one) notice that another
        # collector exports the same names, and a scrape would repeat every family.
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            committers = [c for c, _ in self._members]
        families: dict[str, Metric] = {}
        for committer in committers:
            try:
                text = committer.metrics_text()
            except ClosedError:
                continue
            for family in text_string_to_metric_families(text):
                known = families.setdefault(family.name, family)
                if known is not family:
                    known.samples.extend(family.samples)
        yield from families.values()


_collectors: WeakKeyDictionary[CollectorRegistry, CommitterCollector] = WeakKeyDictionary()
_collectors_lock = threading.Lock()


def _registered(registry: CollectorRegistry, collector: CommitterCollector) -> bool:
    """Whether ``collector`` is still registered in ``registry`` (``prometheus_client`` keeps
    its collectors in ``_collector_to_names``; a registry without it counts as holding it)."""
    held = getattr(registry, "_collector_to_names", None)
    return held is None or collector in held


def register(committer: _Base, registry: Optional[CollectorRegistry] = None) -> CommitterCollector:
    """Adds ``committer``'s metrics to ``registry`` (default: the global one) and returns the
    registry's litecommit collector: the first call for a registry registers one, later calls
    add their committer to it (until it is unregistered). Raises ``ValueError`` when an open
    committer of the registry has the same ``db`` label."""
    target = REGISTRY if registry is None else registry
    with _collectors_lock:
        collector = _collectors.get(target)
        if collector is not None and _registered(target, collector):
            collector.add(committer)
            return collector
        collector = CommitterCollector(committer)
        target.register(collector)
        _collectors[target] = collector
        return collector


__all__ = ["DB_LABEL", "CommitterCollector", "register"]
