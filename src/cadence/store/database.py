"""Open the database, create or upgrade its schema, and refuse to run on an old schema.

SQLite (the default, embedded) and PostgreSQL (production) are both first-class: every query the
project runs is tested on both. Migrations are Alembic's, shipped inside the package so that an
installed ``cadence`` can upgrade a database without the source tree.

Whatever goes wrong with the database itself (it cannot be opened, it is not a database, another
writer holds it, the disk is full, the file was deleted under a running sync) reaches the caller
as one :class:`StoreError` line naming the database, raised by the engine the moment the driver
fails (:func:`_environment_error`), so no command needs to know the driver's exceptions. Every
URL and driver message in those lines goes through :func:`redact` / :func:`redact_text` first:
an administrator pastes them into tickets, so no password, token or key may be in them.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from cadence.errors import ConfigError, SchemaOutOfDate, StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
# The oldest PostgreSQL cadence runs on: the pipeline's read names a common table expression
# MATERIALIZED, which PostgreSQL 12 introduced.
OLDEST_POSTGRES = (12,)

# How long a SQLite writer waits for another one before giving up; `?timeout=SECONDS` in the URL
# says otherwise.
BUSY_TIMEOUT = 30.0
# The longest error line the store keeps or shows: enough for any reason a driver or an API gives,
# short enough for a status table and a log line.
MESSAGE_CHARS = 500

# What cadence can talk to: the SQLite module of the standard library, and psycopg 3 (the bulk
# upsert uses its binary COPY).
SUPPORTED = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"
_DRIVERS = {("sqlite", ""), ("sqlite", "pysqlite"), ("postgresql", "psycopg")}

# -- secrets in URLs and messages ------------------------------------------------------------------

# A parameter whose name suggests a secret (password, sslpassword, passfile, token, access_token,
# secret, client_secret, key, api_key, auth, credential, signature, ...), in a URL's query or a
# libpq connection string: its value is masked, whatever the driver means by it.
_SECRET_NAME = r"[\w.\-]*(?:pass|pwd|secret|token|key|auth|credential|sig)[\w.\-]*"  # noqa: S105
_SECRET_PARAM = re.compile(
    rf"(?i)(?<![\w.\-])({_SECRET_NAME})(\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s&;,'\"]*)"
)
# user:password@ after // in text that quotes a URL (a password cannot hold @ or a blank there).
_USERINFO = re.compile(r"(//[^\s:/?#@]*:)[^\s@]*@")
# In a URL that does not parse: from the colon after the user (or the scheme) to the last @.
_UNPARSED_USERINFO = re.compile(r"^((?:[^/]*//)?[^:/?#@]*:).*@", re.DOTALL)
MASK = "***"


def redact_text(text: str) -> str:
    """``text`` (a message that may quote URLs or connection strings) with every secret masked:
    the password of each ``scheme://user:password@``, and the value of each parameter whose
    name suggests a secret."""
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    return _SECRET_PARAM.sub(rf"\1\2{MASK}", text)


def redact(url: str) -> str:
    """The URL with every secret hidden, for messages and logs; also a URL that does not parse
    (then everything from the colon after its user, or after its scheme, to its last ``@`` is
    taken for the password)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        parsed = None
    if parsed is None or "@" in (parsed.host or ""):
        # Not a URL, or one whose password holds an unencoded @ (its rest would pass for the
        # host): everything up to the last @ may be the password.
        return redact_text(_UNPARSED_USERINFO.sub(rf"\1{MASK}@", url))
    return redact_text(parsed.render_as_string(hide_password=True))


def short_message(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` as one short line, secrets masked: its first line (a driver's message goes on
    with the SQL and its parameters), blanks collapsed, at most ``limit`` characters."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    line = redact_text(" ".join(first.split()))
    return line if len(line) <= limit else line[: limit - 3] + "..."


def first_line(exc: BaseException) -> str:
    """A database error as one short line (no SQL, no parameters, no secrets)."""
    orig = getattr(exc, "orig", None) or exc
    return short_message(str(orig)) or type(orig).__name__


# -- opening --------------------------------------------------------------------------------------


def parse_url(url: str) -> URL:
    """``url`` parsed, or a :class:`ConfigError` (exit 2): it does not parse, or it names a
    database or driver cadence does not work with (``mysql://``, ``postgresql+asyncpg://``)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(
            f"database URL {redact(url)} does not parse ({first_line(exc)}): write {SUPPORTED}"
        ) from exc
    if "@" in (parsed.host or ""):
        raise ConfigError(
            f"database URL {redact(url)}: its password holds an @, which must be written %40"
        )
    backend, _, driver = parsed.drivername.partition("+")
    if (backend, driver) not in _DRIVERS:
        raise ConfigError(
            f"database URL {redact(url)}: cadence works with {SUPPORTED}, not {parsed.drivername}"
        )
    if backend == "sqlite" and (parsed.username or parsed.password or parsed.host or parsed.port):
        raise ConfigError(
            f"database URL {redact(url)}: a SQLite URL names a file, with no user or host: "
            f"write {SUPPORTED}"
        )
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL names (absolute), or ``None`` for memory and ``file:`` URIs."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri"):
        return None
    return Path(os.path.abspath(database))


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so readers never block syncs.

    A SQLite file it creates is private (0600, or what a stricter umask leaves); SQLite gives
    the file's WAL, shared-memory and journal files the same mode.
    """
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            connect_args = {} if "timeout" in parsed.query else {"timeout": BUSY_TIMEOUT}
            engine = create_engine(parsed, connect_args=connect_args)
            event.listen(engine, "connect", _sqlite_pragmas)
            path = sqlite_file(parsed)
            if path is not None:
                _watch_file(engine, path)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise ConfigError(
            f"database URL {redact(url)} is not usable ({first_line(exc)}): write {SUPPORTED}"
        ) from exc
    event.listen(engine, "handle_error", _environment_error)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Room for a sync's working set: a bigger page cache (64 MB) for the events' and attendees'
    # keys, the staging tables of store/upsert.py in memory, and a checkpoint every ~40 MB of
    # WAL rather than every 4 MB (each checkpoint waits for the disk twice).
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _watch_file(engine: Engine, path: Path) -> None:
    """Create ``path`` private before SQLite would create it world-readable, and refuse to go
    on once ``path`` is no longer the file the engine's connections write to.

    A connection keeps writing to a database file that was deleted (or replaced, say by a
    restored backup): everything a sync saved would vanish with the last connection while the
    sync reported success, and a new connection would make an empty database at the path. So
    each connection remembers the file it opened and a commit first checks that the path still
    leads there; once the engine has opened the file, a missing one is never made anew.
    """

    def gone() -> StoreError:
        return StoreError(
            f"the database {path} was deleted or replaced while cadence was using it: nothing "
            "this run saved since then is kept; check the file and run again"
        )

    opened: list[tuple[int, int]] = []  # the file the first connection found

    def create_private(*_args: Any) -> None:
        if opened and _identity(path) != opened[0]:
            raise gone()
        # It exists already, or its folder does not: SQLite says which when it opens it.
        with suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))

    def remember(_dbapi_connection: Any, record: Any) -> None:
        found = _identity(path)
        if found is not None and not opened:
            opened.append(found)
        record.info["cadence_file"] = found

    def check(conn: Connection) -> None:
        mine = conn.info.get("cadence_file")
        if mine is not None and _identity(path) != mine:
            raise gone()

    event.listen(engine, "do_connect", create_private)
    event.listen(engine, "connect", remember)
    event.listen(engine, "commit", check)


# SQLite's result codes for the database's surroundings rather than for cadence's statements,
# with what they mean to whoever reads the message ("": the driver's words say it already).
_SQLITE_WHAT = {
    "SQLITE_BUSY": "another writer holds it",
    "SQLITE_LOCKED": "another writer holds it",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_NOTADB": "it is not a SQLite database, or it is damaged",
    "SQLITE_CORRUPT": "it is damaged",
    "SQLITE_READONLY": "it cannot be written",
    "SQLITE_IOERR": "an I/O error",
    "SQLITE_NOMEM": "out of memory",
    "SQLITE_CANTOPEN": "",
    "SQLITE_PERM": "",
}


def _environment_error(ctx: ExceptionContext) -> None:
    """The driver's error as one :class:`StoreError` line naming the database, when it is about
    the database and its surroundings: it cannot be opened or written, another writer holds it,
    the disk is full, the server went away. A refused row or a bad statement is left as it is
    (a bug, with its traceback)."""
    if ctx.is_pre_ping or ctx.engine is None:
        return
    orig = ctx.original_exception
    dbapi = ctx.dialect.loaded_dbapi
    if not isinstance(orig, dbapi.Error):
        return
    url = ctx.engine.url
    what: str | None = None
    if ctx.dialect.name == "sqlite":
        name = getattr(orig, "sqlite_errorname", "") or ""
        what = next((w for code, w in _SQLITE_WHAT.items() if name.startswith(code)), None)
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            waited = float(str(url.query.get("timeout", BUSY_TIMEOUT)))
            what = f"{what} (waited {waited:g} s): run again once it is done"
    elif isinstance(orig, dbapi.OperationalError):
        what = ""
    connecting = ctx.connection is None
    if what is None and not connecting:
        return
    head = (
        f"cannot open the database {redact(str(url))}"
        if connecting
        else f"the database {redact(str(url))}"
    )
    reason = first_line(orig)
    raise StoreError(f"{head}: {what} ({reason})" if what else f"{head}: {reason}") from orig


# -- the schema -----------------------------------------------------------------------------------


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
            _refuse_old_server(engine)
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot open the database {redact(str(engine.url))}: {first_line(exc)}"
        ) from exc


def _refuse_old_server(engine: Engine) -> None:
    """A PostgreSQL server too old for cadence's statements is refused before any is run, so
    that it is not a syntax error in the middle of a report."""
    version = engine.dialect.server_version_info
    if engine.dialect.name == "postgresql" and version and version < OLDEST_POSTGRES:
        raise StoreError(
            f"the database {redact(str(engine.url))} is on PostgreSQL "
            f"{'.'.join(map(str, version))}; cadence needs PostgreSQL "
            f"{'.'.join(map(str, OLDEST_POSTGRES))} or newer"
        )


def _refuse_newer(engine: Engine, current: str | None) -> None:
    """A schema this cadence has no migration for was made by a newer cadence: never touch it."""
    if current is None:
        return
    known = {rev.revision for rev in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    if current not in known:
        raise StoreError(
            f"the database {redact(str(engine.url))}: its schema ({current}) is newer than this "
            f"cadence ({head_revision()}): upgrade cadence"
        )


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to head; returns (before, after) revisions."""
    before = current_revision(engine)
    _refuse_newer(engine, before)
    try:
        command.upgrade(_alembic_config(engine), "head")
    except (SQLAlchemyError, CommandError) as exc:
        raise StoreError(
            f"cannot upgrade the schema of the database {redact(str(engine.url))}: "
            f"{first_line(exc)}"
        ) from exc
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
    _refuse_newer(engine, current)
    raise SchemaOutOfDate(
        f"the database schema is at {current}, this cadence needs {head}: run `cadence init`"
    )


def open_store(url: str) -> Engine:
    """An engine on a database whose schema is current, or a clear error saying what to run.

    A SQLite file that does not exist is not created here (a mistyped path would otherwise
    leave an empty database behind): only ``cadence init`` creates one.
    """
    path = sqlite_file(parse_url(url))
    if path is not None and not path.exists():
        raise SchemaOutOfDate(f"there is no database at {path}: run `cadence init`")
    engine = make_engine(url)
    check_schema(engine)
    return engine


def store_answers(engine: Engine) -> bool:
    """Whether the database answers a query now (the web app's health check)."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (SQLAlchemyError, StoreError):
        return False
    return True
