"""Open the database, create or upgrade its schema, and refuse to run on an old schema.

SQLite (the default, embedded) and PostgreSQL (production) are both first-class: every query the
project runs is tested on both. Migrations are Alembic's, shipped inside the package so that an
installed ``cadence`` can upgrade a database without the source tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from cadence.errors import SchemaOutOfDate, StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable database URL>"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so readers never block syncs."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"database URL {redact(url)} is not usable: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Room for a sync's working set: a bigger page cache (64 MB) for the events' and attendees'
    # keys, the staging tables of store/events.py in memory, and a checkpoint every ~40 MB of
    # WAL rather than every 4 MB (each checkpoint waits for the disk twice).
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise StoreError(
            f"cannot open the database {redact(str(engine.url))}: {first_line(exc)}"
        ) from exc


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to head; returns (before, after) revisions."""
    before = current_revision(engine)
    try:
        command.upgrade(_alembic_config(engine), "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the database schema: {first_line(exc)}") from exc
    return before, head_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to work on a database whose schema is missing or behind this cadence."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutOfDate(
            f"the database {redact(str(engine.url))} has no cadence schema: run `cadence init`"
        )
    script = ScriptDirectory(str(MIGRATIONS))
    known = {rev.revision for rev in script.walk_revisions()}
    if current not in known:
        raise StoreError(
            f"the database schema ({current}) is newer than this cadence ({head}): upgrade cadence"
        )
    raise SchemaOutOfDate(
        f"the database schema is at {current}, this cadence needs {head}: run `cadence init`"
    )


def open_store(url: str) -> Engine:
    """An engine on a database whose schema is current, or a clear error saying what to run.

    A SQLite file that does not exist is not created here (a mistyped path would otherwise
    leave an empty database behind): only ``cadence init`` creates one.
    """
    database = make_url(url).database if url.startswith("sqlite") else None
    on_disk = bool(database) and database != ":memory:" and not str(database).startswith("file:")
    if on_disk and not Path(str(database)).exists():
        raise SchemaOutOfDate(f"there is no database at {database}: run `cadence init`")
    engine = make_engine(url)
    check_schema(engine)
    return engine


def first_line(exc: BaseException) -> str:
    """The first line of a database error, for a one-line message (no SQL, no parameters)."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
