import pytest

import litecommit


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "test.db")


@pytest.fixture
def db(path):
    with litecommit.Committer(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v)")
        yield db
