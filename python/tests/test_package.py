"""Packaging: typing stubs cover the public API; the Prometheus collector."""

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import litecommit

PACKAGE = Path(litecommit.__file__).parent


def stub_names(stub):
    tree = ast.parse((PACKAGE / stub).read_text())
    names = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names[node.name] = {
                n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            } | {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = set()
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                names[alias.asname or alias.name] = set()
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = set()
    return names


def public_members(cls):
    return {
        name
        for name, _ in inspect.getmembers(cls)
        if not name.startswith("_") or name in ("__enter__", "__exit__", "__aenter__", "__aexit__")
    } - set(dir(Exception))


def test_package_is_typed():
    assert (PACKAGE / "py.typed").exists()


def test_stubs_cover_every_public_name():
    stubs = stub_names("__init__.pyi")
    for name in litecommit.__all__:
        assert name in stubs, f"{name} missing from __init__.pyi"
    for name in ("Committer", "AsyncCommitter", "SqliteError", "ProgrammingError", "ForkedError"):
        missing = public_members(getattr(litecommit, name)) - stubs[name]
        assert not missing, f"{name}: {missing} missing from __init__.pyi"


def test_native_stub_covers_native_module():
    from litecommit import _litecommit

    stubs = stub_names("_litecommit.pyi")
    for name in dir(_litecommit):
        if not name.startswith("_"):
            assert name in stubs, f"{name} missing from _litecommit.pyi"
    for cls in ("NativeCommitter", "Result"):
        missing = public_members(getattr(_litecommit, cls)) - stubs[cls]
        assert not missing, f"{cls}: {missing} missing from _litecommit.pyi"


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
