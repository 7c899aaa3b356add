"""Expose a committer's metrics through a ``prometheus_client`` registry.

    from prometheus_client import CollectorRegistry, generate_latest
    from litecommit.prometheus import register

    registry = CollectorRegistry()
    register(db, registry)
    print(generate_latest(registry).decode())

Needs the optional dependency ``prometheus_client`` (``pip install litecommit[prometheus]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Optional

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


class CommitterCollector(Collector):
    """Collects the ``batch_committer_*`` metrics of one committer at each scrape.

    Once the committer is closed it reports nothing.
    """

    def __init__(self, committer: _Base) -> None:
        self._committer = committer

    def describe(self) -> Iterator[Metric]:
        # Without it only auto-describing registries (the global one) notice that a second
        # committer would export the same names, and a scrape would repeat every family.
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        try:
            text = self._committer.metrics_text()
        except ClosedError:
            return
        yield from text_string_to_metric_families(text)


def register(committer: _Base, registry: Optional[CollectorRegistry] = None) -> CommitterCollector:
    """Registers a collector for ``committer`` into ``registry`` (default: the global one)."""
    collector = CommitterCollector(committer)
    (REGISTRY if registry is None else registry).register(collector)
    return collector


__all__ = ["CommitterCollector", "register"]
