"""``litecommit.prometheus``: committers' metrics in a ``prometheus_client`` registry, read
back with ``prometheus_client``'s own text parser."""

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

import litecommit
from litecommit.prometheus import CommitterCollector, register

# Every family, as prometheus_client's parser names it (counters without `_total`), with
# its type and the values of its label.
FAMILIES = {
    "litecommit_flushes": ("counter", "trigger", {"adaptive", "size", "timer", "flush", "close"}),
    "litecommit_batch_size": ("histogram", None, None),
    "litecommit_flush_duration_seconds": ("histogram", None, None),
    "litecommit_checkpoints": ("counter", "mode", {"passive", "full", "restart", "truncate"}),
    "litecommit_checkpoint_duration_seconds": (
        "histogram",
        "mode",
        {"passive", "full", "restart", "truncate"},
    ),
    "litecommit_checkpoint_wal_size_bytes": ("histogram", None, None),
    "litecommit_checkpoint_log_frames": ("histogram", None, None),
    "litecommit_checkpoint_checkpointed_frames": ("histogram", None, None),
    "litecommit_checkpoint_busy": ("counter", "busy", {"true", "false"}),
    "litecommit_checkpoint_efficiency_ratio": ("histogram", None, None),
    "litecommit_commit_latency_seconds": ("histogram", None, None),
    "litecommit_queue_depth": ("gauge", None, None),
    "litecommit_transactions": ("counter", "outcome", {"committed", "failed", "aborted"}),
    "litecommit_wal_size_bytes": ("gauge", None, None),
    "litecommit_wal_backlog_frames": ("gauge", None, None),
}


def scrape(registry):
    """The registry's exposition, parsed back: {family name: family}."""
    text = prometheus_client.generate_latest(registry).decode()
    families = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, f"{family.name} exposed twice"
        families[family.name] = family
    return families


def value(family, name, **labels):
    """The value of the one sample `name` of `family` whose labels include `labels`."""
    found = [
        s.value
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, family.samples)
    return found[0]


def assert_families(families, dbs):
    """Every family is there, named by the conventions, with every label value for each db."""
    ours = {name: f for name, f in families.items() if name.startswith("litecommit_")}
    assert set(ours) == set(FAMILIES)
    for name, (kind, label, values) in FAMILIES.items():
        family = ours[name]
        assert family.type == kind, name
        assert family.documentation, name
        assert {s.labels["db"] for s in family.samples} == set(dbs), name
        for s in family.samples:
            assert (kind == "counter") == s.name.endswith("_total"), s.name
            assert not s.name.endswith(("_ms", "_mb")), s.name
        if label is None:
            continue
        sample = f"{name}_total" if kind == "counter" else f"{name}_count"
        for db in dbs:
            seen = {
                s.labels[label] for s in family.samples if s.name == sample and s.labels["db"] == db
            }
            assert seen == values, (name, db)


def test_one_committer_exports_every_family_and_label_value_from_the_start(path):
    registry = prometheus_client.CollectorRegistry()
    with litecommit.Committer(path) as db:
        collector = register(db, registry)
        assert isinstance(collector, CommitterCollector)
        families = scrape(registry)
        assert_families(families, ["test.db"])
        for label in FAMILIES["litecommit_transactions"][2]:
            assert (
                value(
                    families["litecommit_transactions"],
                    "litecommit_transactions_total",
                    outcome=label,
                )
                == 0
            )
        for mode in FAMILIES["litecommit_checkpoints"][2]:
            assert (
                value(families["litecommit_checkpoints"], "litecommit_checkpoints_total", mode=mode)
                == 0
            )

        db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        for i in range(5):
            db.execute("INSERT INTO t VALUES (?)", (i,))
        with pytest.raises(litecommit.IntegrityError):
            db.execute("INSERT INTO t VALUES (1)")
        families = scrape(registry)
        tx = families["litecommit_transactions"]
        assert value(tx, "litecommit_transactions_total", db="test.db", outcome="committed") == 6
        assert value(tx, "litecommit_transactions_total", db="test.db", outcome="failed") == 1
        latency = families["litecommit_commit_latency_seconds"]
        assert value(latency, "litecommit_commit_latency_seconds_count") == 7
        buckets = families["litecommit_batch_size"]
        assert value(buckets, "litecommit_batch_size_bucket", le="+Inf") == db.stats()["batches"]
        assert registry.get_sample_value("litecommit_wal_size_bytes", {"db": "test.db"}) == float(
            db.stats()["wal_file_bytes"]
        )
    # A closed committer reports nothing instead of failing the scrape.
    assert list(collector.collect()) == []
    prometheus_client.generate_latest(registry)


def test_two_committers_share_one_registry(tmp_path):
    registry = prometheus_client.CollectorRegistry()
    requests = prometheus_client.Counter("app_requests", "Requests", registry=registry)
    requests.inc(3)
    orders = litecommit.Committer(str(tmp_path / "orders.db"))
    users = litecommit.Committer(str(tmp_path / "users.db"), metrics_label="people")
    with orders, users:
        first = register(orders, registry)
        assert register(users, registry) is first
        orders.execute("CREATE TABLE t (x)")
        for i in range(4):
            orders.execute("INSERT INTO t VALUES (?)", (i,))
        users.execute("CREATE TABLE u (x)")
        families = scrape(registry)
        assert value(families["app_requests"], "app_requests_total") == 3
        assert_families(families, ["orders.db", "people"])
        tx = families["litecommit_transactions"]
        assert value(tx, "litecommit_transactions_total", db="orders.db", outcome="committed") == 5
        assert value(tx, "litecommit_transactions_total", db="people", outcome="committed") == 1
        # The families of the global registry's kind of scrape too: one per name.
        names = [m.name for m in registry.collect()]
        assert len(names) == len(set(names))


def test_a_second_committer_with_the_same_label_is_refused(tmp_path):
    registry = prometheus_client.CollectorRegistry()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = litecommit.Committer(str(tmp_path / "a" / "app.db"))
    b = litecommit.Committer(str(tmp_path / "b" / "app.db"))
    with a, b:
        register(a, registry)
        with pytest.raises(ValueError, match="metrics_label"):
            register(b, registry)
        with pytest.raises(ValueError, match="metrics_label"):
            register(a, registry)
        with litecommit.Committer(str(tmp_path / "b" / "other.db"), metrics_label="app.db") as c:
            with pytest.raises(ValueError, match="metrics_label"):
                register(c, registry)
    # Once closed, its label is free again: the database reopened takes its place.
    with litecommit.Committer(str(tmp_path / "b" / "app.db")) as again:
        register(again, registry)
        again.execute("CREATE TABLE t (x)")
        families = scrape(registry)
        assert_families(families, ["app.db"])
        tx = families["litecommit_transactions"]
        assert value(tx, "litecommit_transactions_total", outcome="committed") == 1


def test_register_defaults_to_the_global_registry(path):
    with litecommit.Committer(path, metrics_label="global-test") as db:
        collector = register(db)
        try:
            sample = prometheus_client.REGISTRY.get_sample_value(
                "litecommit_queue_depth", {"db": "global-test"}
            )
            assert sample == 0
        finally:
            prometheus_client.REGISTRY.unregister(collector)
        assert (
            prometheus_client.REGISTRY.get_sample_value(
                "litecommit_queue_depth", {"db": "global-test"}
            )
            is None
        )
        # Once unregistered, the next register() for that registry starts a new collector.
        again = register(db)
        try:
            assert again is not collector
            sample = prometheus_client.REGISTRY.get_sample_value(
                "litecommit_queue_depth", {"db": "global-test"}
            )
            assert sample == 0
        finally:
            prometheus_client.REGISTRY.unregister(again)
