"""Schema creation and version checks, on SQLite and PostgreSQL, from a truly empty database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from cadence.errors import SchemaOutOfDate, StoreError
from cadence.store.database import (
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from cadence.store.models import SYNC_REWRITTEN_FILLFACTOR, Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    server = request.getfixturevalue("postgres_url")  # a reachable server, or a skip
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"cadence_empty_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(server).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_an_empty_database_is_refused_with_what_to_run(empty_engine: Engine) -> None:
    with pytest.raises(SchemaOutOfDate, match="has no cadence schema: run `cadence init`"):
        check_schema(empty_engine)


def test_upgrading_an_empty_database_creates_every_table(empty_engine: Engine) -> None:
    assert upgrade(empty_engine) == (None, head_revision())
    check_schema(empty_engine)  # no error: current
    tables = set(inspect(empty_engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert upgrade(empty_engine) == (head_revision(), head_revision())  # again: nothing to do


def test_the_migrations_build_exactly_the_models(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_schema_newer_than_this_cadence_is_refused(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    assert current_revision(empty_engine) == "ffff9999"
    with pytest.raises(StoreError, match="newer than this cadence") as info:
        check_schema(empty_engine)
    assert not isinstance(info.value, SchemaOutOfDate)
    assert "upgrade cadence" in str(info.value)


def test_an_unreachable_database_is_a_store_error_without_the_password(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}")
    with pytest.raises(StoreError, match="cannot open the database"):
        check_schema(engine)
    url = "postgresql+psycopg://cadence:s3cret@127.0.0.1:1/none"
    with pytest.raises(StoreError) as info:
        check_schema(make_engine(url))
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def _fillfactors(engine: Engine) -> dict[str, list[str] | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, reloptions FROM pg_class WHERE relname IN ('events', 'attendees')"
            )
        )
        return {name: options for name, options in rows}


def test_postgresql_leaves_room_for_each_sync_to_rewrite_its_rows(empty_engine: Engine) -> None:
    """The migration and the models both give events and attendees half-empty pages."""
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    upgrade(empty_engine)
    expected = [f"fillfactor={SYNC_REWRITTEN_FILLFACTOR}"]
    assert _fillfactors(empty_engine) == {"events": expected, "attendees": expected}
    with empty_engine.begin() as conn:
        Base.metadata.drop_all(conn)
        Base.metadata.create_all(conn)
    assert _fillfactors(empty_engine) == {"events": expected, "attendees": expected}


def test_a_postgresql_server_older_than_cadence_needs_is_refused_before_any_statement(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    try:
        check_schema(engine)  # the real server (15 here) is fine
        # As an 11 would answer: the version is the one thing this server cannot be made to say.
        engine.dialect.server_version_info = (11, 22)
        with pytest.raises(
            StoreError, match=r"is on PostgreSQL 11\.22; cadence needs PostgreSQL 12"
        ):
            check_schema(engine)
        with pytest.raises(StoreError, match="cadence needs PostgreSQL 12"):
            upgrade(engine)
    finally:
        engine.dispose()
