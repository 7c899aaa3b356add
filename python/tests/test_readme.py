"""The Python examples of README.md, extracted and run, each in a fresh directory."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def examples():
    text = README.read_text()
    section = re.search(r"<!-- section:python -->(.*?)<!-- /section:python -->", text, re.S)
    assert section, "README.md has no python section"
    return re.findall(r"```python\n(.*?)```", section.group(1), re.S)


def test_readme_has_examples():
    assert len(examples()) >= 3


@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example(tmp_path, index):
    code = examples()[index]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
