"""Packaging: what the installed package contains; the Prometheus collector.

That the annotations and the native stub match the runtime is checked by mypy and stubtest
(`make test-python`)."""

import subprocess
import sys
from pathlib import Path

import pytest

import litecommit

PACKAGE = Path(litecommit.__file__).parent


def test_package_is_typed():
    assert (PACKAGE / "py.typed").exists()


def test_every_public_name_is_importable():
    for name in litecommit.__all__:
        assert hasattr(litecommit, name), name


def test_installed_extension_has_no_benchmark_code():
    from litecommit import _litecommit

    assert not [name for name in dir(_litecommit) if "bench" in name.lower()]


def test_prometheus_collector(path):
    prometheus_client = pytest.importorskip("prometheus_client")
    from litecommit.prometheus import CommitterCollector, register

    registry = prometheus_client.CollectorRegistry()
    with litecommit.Committer(path) as db:
        db.execute("CREATE TABLE t (x)")
        for i in range(5):
            db.execute("INSERT INTO t VALUES (?)", (i,))
        collector = register(db, registry)
        assert isinstance(collector, CommitterCollector)
        text = prometheus_client.generate_latest(registry).decode()
        assert 'batch_committer_transactions_total{outcome="committed"} 6.0' in text
        assert "batch_committer_batch_size_bucket" in text
        assert "batch_committer_commit_latency_ms_count 6.0" in text
        families = {m.name for m in registry.collect()}
        assert "batch_committer_flushes" in families  # counters drop their _total suffix
        assert (
            registry.get_sample_value(
                "batch_committer_transactions_total", {"outcome": "committed"}
            )
            == 6.0
        )
    # A closed committer reports nothing instead of failing the scrape.
    assert list(collector.collect()) == []
    prometheus_client.generate_latest(registry)


def test_prometheus_refuses_a_second_committer_in_one_registry(tmp_path):
    prometheus_client = pytest.importorskip("prometheus_client")
    from litecommit.prometheus import register

    registry = prometheus_client.CollectorRegistry()
    with litecommit.Committer(str(tmp_path / "a.db")) as a:
        with litecommit.Committer(str(tmp_path / "b.db")) as b:
            register(a, registry)
            with pytest.raises(ValueError, match="Duplicated timeseries"):
                register(b, registry)


def test_prometheus_without_prometheus_client_says_what_to_install():
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "try:\n"
        "    import litecommit.prometheus\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'litecommit[prometheus]'" in proc.stdout, proc.stderr
