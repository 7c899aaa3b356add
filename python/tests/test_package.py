"""Packaging: what the installed package contains; the optional Prometheus dependency.

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


def test_the_allocator_takes_no_transparent_huge_pages(tmp_path):
    """The extension's allocator (mimalloc) commits its arenas as it hands out their pages:
    committed at once, they are backed by transparent huge pages (36 MB of them after these
    5,000 transactions) and a process's first transactions made it 30 MB larger."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.exists() or "[madvise]" not in thp.read_text():
        pytest.skip("transparent huge pages are not in madvise mode here")
    code = (
        "import sys, litecommit\n"
        "def huge():\n"
        "    with open('/proc/self/smaps_rollup') as f:\n"
        "        return next(int(l.split()[1]) for l in f if l.startswith('AnonHugePages'))\n"
        "with litecommit.Committer(sys.argv[1]) as db:\n"
        "    db.execute('CREATE TABLE t(x)')\n"
        "    for f in db.submit_many('INSERT INTO t VALUES (?)', [(b'x' * 100,)] * 5000):\n"
        "        f.result()\n"
        "    print(huge())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "a.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) < 2048, f"{proc.stdout.strip()} KiB of AnonHugePages"


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
