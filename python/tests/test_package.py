"""Packaging: what the installed package contains; the optional Prometheus dependency.

That the annotations and the native stub match the runtime is checked by mypy and stubtest
(`make test-python`)."""

import subprocess
import sys
from pathlib import Path

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
