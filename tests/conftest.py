"""Shared fixtures: a fresh, migrated database on SQLite and on PostgreSQL, and the command line
run in this process.

PostgreSQL tests use ``$CADENCE_TEST_POSTGRES_URL`` (default: the local server at
127.0.0.1:5432, database ``test``, as CI starts it). Each test session works in a database of its
own, created there and dropped at the end, so parallel runs never see each other's rows. Where no
server answers, the PostgreSQL half of every store test skips with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from cadence.sandbox.tls import TLSFiles, make_tls
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Base

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _admin_url() -> str:
    return os.environ.get("CADENCE_TEST_POSTGRES_URL", DEFAULT_PG)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this session's own, or a skip saying why not."""
    admin = _admin_url()
    try:
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at {make_url(admin).render_as_string()}: {exc}")
    name = f"cadence_test_{uuid.uuid4().hex[:12]}"
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin_engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin_engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "cadence.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def _truncate(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database URL: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "cadence.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    _truncate(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database, for tests where the backend does not matter."""
    path = tmp_path / "cadence.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


CLI = Callable[..., tuple[int, str, str]]


@pytest.fixture
def in_process_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> CLI:
    """The ``cadence`` command in this process (quicker than a new interpreter per case), in an
    empty folder with no ``CADENCE_*`` variable leaking in: exit code, stdout, stderr."""
    from cadence.cli import main

    for name in list(os.environ):
        if name.startswith("CADENCE_") and name != "CADENCE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capsys.readouterr()
        return int(exit_info.value.code or 0), out, err

    return invoke


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """One CA and server certificate for a module's Graph stand-ins (RSA keys take a while)."""
    return make_tls(tmp_path_factory.mktemp("graph-tls"))


@pytest.fixture
def graph_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test Graph app's secret in the variable its configurations name."""
    from outlook_support import SECRET, SECRET_ENV

    monkeypatch.setenv(SECRET_ENV, SECRET)
