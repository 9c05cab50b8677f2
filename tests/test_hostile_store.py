"""Hostile input and careless admins, at the store: what a user would notice.

- Secrets in URLs: no password, token or key of a database URL is ever printed, whether the URL
  parses or not, nor in what the driver says back.
- One hostile invitation (an iCalendar UID of 1,100 characters, a guest's address of 330, a NUL)
  never fails its mailbox: every value is stored, or replaced keeping its identity, the same way
  on SQLite and PostgreSQL; errors kept for ``cadence status`` are one short line.
- Files cadence creates (the SQLite database, its WAL, shared-memory and journal files, the run
  lock, the demo's TLS key) are private whatever the umask.
- A database that is locked, full, not a database, deleted mid-sync, newer than this cadence, or
  named by a URL cadence cannot use: one line naming it, the right exit code, no traceback.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from cadence.errors import StoreError
from cadence.normalised import Attendee, Event
from cadence.sandbox.demo import GOOGLE, MICROSOFT
from cadence.store.copies import MailboxCopies
from cadence.store.database import head_revision, make_engine, redact
from cadence.store.models import Attendee as AttendeeRow
from cadence.store.models import Event as EventRow
from cadence.store.sync_state import (
    ensure_mailboxes,
    load_sync_state,
    record_outcome,
    save_page,
)
from cadence.store.upsert import save_events
from live_company import CADENCE, Live, cron_env, small_tmpfs, start

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SYNC1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
SYNC2 = SYNC1 + timedelta(days=1)
ANN, BOB = "ann@example.com", "bob@example.com"
SECRET = "s3cretvalue"


def cadence(
    *args: str, cwd: Path, env: dict[str, str] | None = None, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``cadence ARGS`` in another process, as cron runs it (optionally under ``umask``)."""
    command = CADENCE
    if umask is not None:
        command = [
            sys.executable,
            "-c",
            f"import os; os.umask({umask}); from cadence.cli import main; main()",
        ]
    base = {k: v for k, v in os.environ.items() if not k.startswith("CADENCE_")}
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line of a failed command, with no traceback anywhere."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def event(event_id: str = "e1", mailbox: str = ANN, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "source": "google",
        "mailbox": mailbox,
        "event_id": event_id,
        "status": "confirmed",
        "ical_uid": f"{event_id}@google.com",
        "start": T0,
        "end": T0 + timedelta(minutes=30),
        "organizer": ANN,
        "updated": T0 - timedelta(days=7),
        "attendees": (Attendee(ANN, "accepted", is_organizer=True), Attendee(BOB, "accepted")),
    }
    values.update(fields)
    return Event(**values)


def save(engine: Engine, events: list[Event], seen_at: datetime = SYNC1) -> None:
    with engine.begin() as conn:
        save_events(conn, events, seen_at=seen_at, first_sync=False)


def rows(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with engine.connect() as conn:
        events = conn.execute(select(EventRow.__table__).order_by(EventRow.event_id)).mappings()
        attendees = conn.execute(
            select(AttendeeRow.__table__).order_by(AttendeeRow.event_id, AttendeeRow.email)
        ).mappings()
        return [dict(r) for r in events], [dict(r) for r in attendees]


def fits(value: str | None, length: int) -> bool:
    return value is None or ("\x00" not in value and len(value.encode("utf-8")) <= length)


# -- 1. secrets in URLs ---------------------------------------------------------------------------

SECRET_URLS = [
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?password={SECRET}",
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?sslpassword={SECRET}&sslmode=disable",
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?passfile=/etc/{SECRET}",
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?token={SECRET}",
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?secret={SECRET}",
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?key={SECRET}",
    f"postgresql+psycopg://cadence@127.0.0.1:1/cadence?connect_timeout=2&access_token={SECRET}",
    f"postgresql+psycopg://cadence:{SECRET}@127.0.0.1:1/cadence",
    f"postgresql+psycopg://cadence:{SECRET}@127.0.0.1:1/cadence?password={SECRET}",
]
UNPARSEABLE_URLS = [
    f"postgresql+psycopg://cadence:{SECRET}@127.0.0.1:notaport/cadence",  # the port
    f"postgresql+psycopg//cadence:{SECRET}@127.0.0.1/cadence",  # no colon after the scheme
    f"postgresql+psycopg://cadence:p@{SECRET}@127.0.0.1/cadence",  # an @ in the password
    f"postgres ql://cadence:{SECRET}@127.0.0.1/cadence",  # a blank in the scheme
]


@pytest.mark.parametrize("url", SECRET_URLS + UNPARSEABLE_URLS)
def test_redact_masks_every_secret_of_a_url(url: str) -> None:
    shown = redact(url)
    assert SECRET not in shown and "***" in shown
    assert "127.0.0.1" in shown  # still says which database it is


@pytest.mark.parametrize("url", SECRET_URLS)
def test_a_database_that_does_not_answer_never_shows_a_secret(url: str, tmp_path: Path) -> None:
    result = cadence("status", "--database-url", url, cwd=tmp_path)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "cannot open the database postgresql+psycopg://cadence" in line
    assert SECRET not in result.stderr and "***" in line


@pytest.mark.parametrize("url", UNPARSEABLE_URLS)
def test_a_url_that_does_not_parse_is_bad_usage_and_shows_no_secret(
    url: str, tmp_path: Path
) -> None:
    result = cadence("status", "--database-url", url, cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result)
    assert line.startswith("Error: database URL ") and "127.0.0.1" in line
    assert SECRET not in result.stderr


def test_a_working_url_with_a_password_parameter_is_shown_masked(
    postgres_url: str, tmp_path: Path
) -> None:
    """The local server trusts everyone, so the password is ignored and init succeeds; what it
    prints names the database, never the password."""
    url = f"{postgres_url}?password={SECRET}&sslpassword={SECRET}"
    result = cadence("init", "--database-url", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stderr and "password=***" in result.stderr
    assert SECRET not in result.stderr


def test_what_the_driver_says_back_is_masked_too() -> None:
    """A driver may quote its connection string (``host=... password=...``) in its error."""
    from cadence.store.database import first_line

    said = RuntimeError(
        f"connection failed: host=db password={SECRET} dbname=x\n"
        f"[SQL: SELECT 1] postgresql://u:{SECRET}@db/x password='{SECRET} x' token=\"{SECRET}\""
    )
    line = first_line(said)
    assert SECRET not in line and "host=db" in line and "password=***" in line


def test_an_error_kept_for_status_is_masked(engine: Engine, tmp_path: Path, db_url: str) -> None:
    link = f"https://graph.example/delta?$deltatoken={SECRET}&x=1 from https://u:{SECRET}@h/p"
    ensure_mailboxes(engine, "google", "google", [ANN])
    record_outcome(engine, "google", ANN, ran_at=SYNC1, error=f"503 from {link}")
    result = cadence("status", "--database-url", db_url, cwd=tmp_path)
    assert result.returncode == 3
    assert "503 from https://graph.example/delta" in result.stdout
    assert SECRET not in result.stdout


# -- 2. one hostile invitation must not break a mailbox -------------------------------------------

LONG_UID = "u" * 1_100
LONG_EMAIL = "x" * 318 + "@e.test"  # 325 characters: no mailbox is that long
HOSTILE = [
    pytest.param({"ical_uid": LONG_UID}, id="uid-1100"),
    pytest.param({"ical_uid": "é" * 600}, id="uid-600-two-byte-characters"),
    pytest.param({"ical_uid": "uid\x00nul"}, id="uid-with-nul"),
    pytest.param({"ical_uid": "uid\ud800surrogate"}, id="uid-with-lone-surrogate"),
    pytest.param({"event_id": "i" * 1_100}, id="event-id-1100"),
    pytest.param({"series_id": "s" * 2_000}, id="series-id-2000"),
    pytest.param({"organizer": LONG_EMAIL}, id="organizer-325"),
    pytest.param({"attendees": (Attendee(ANN), Attendee(LONG_EMAIL))}, id="guest-325"),
    pytest.param({"attendees": (Attendee(ANN), Attendee("a\x00@e.test"))}, id="guest-with-nul"),
    pytest.param({"attendees": (Attendee(ANN, "r" * 50),)}, id="response-50"),
    pytest.param({"event_type": "t" * 60, "status": "z" * 30}, id="vocabulary-too-long"),
    pytest.param({"recurrence": "RRULE:FREQ=WEEKLY\x00" + "X" * 100_000}, id="recurrence-nul"),
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_value_is_stored_and_the_rest_of_the_page_too(
    engine: Engine, hostile: dict[str, Any]
) -> None:
    page = [event("before"), event(**{"event_id": "bad", **hostile}), event("after")]
    save(engine, page)
    events, attendees = rows(engine)
    assert len(events) == 3 and len(attendees) == 6 - (2 - len(page[1].attendees or ()))
    for row in events:
        assert fits(row["event_id"], 1024) and fits(row["ical_uid"], 1024)
        assert fits(row["series_id"], 1024) and fits(row["organizer"], 320)
        assert fits(row["event_type"], 40) and fits(row["status"], 20)
        assert row["recurrence"] is None or "\x00" not in row["recurrence"]
    for row in attendees:
        assert fits(row["email"], 320) and fits(row["response"], 20)
    # A re-sync of the same page merges with what is stored: nothing new, nothing lost.
    save(engine, page, SYNC2)
    again = rows(engine)
    assert [len(r) for r in again] == [3, len(attendees)]
    assert {r["last_seen"] for r in again[0]} == {SYNC2}


def test_long_values_keep_their_identity(engine: Engine) -> None:
    """Two UIDs that differ only after 1,000 characters stay two; one UID is the same stored
    value in every mailbox and after every sync, so copies still match."""
    a, b = "p" * 1_000 + "-a" * 60, "p" * 1_000 + "-b" * 60
    save(
        engine,
        [
            event("e1", ical_uid=a),
            event("e2", ical_uid=b),
            event("e1", mailbox=BOB, ical_uid=a),
            event("i" * 1_100 + "1"),
            event("i" * 1_100 + "2"),
        ],
    )
    events, _ = rows(engine)
    uid = {(r["mailbox"], r["event_id"]): r["ical_uid"] for r in events}
    assert uid[(ANN, "e1")] == uid[(BOB, "e1")] != uid[(ANN, "e2")]
    assert len({r["event_id"] for r in events if r["mailbox"] == ANN}) == 4
    save(engine, [event("e1", ical_uid=a, status="cancelled")], SYNC2)
    after = {(r["mailbox"], r["event_id"]): r for r in rows(engine)[0]}
    assert after[(ANN, "e1")]["ical_uid"] == uid[(ANN, "e1")]
    assert after[(ANN, "e1")]["status"] == "cancelled" and len(after) == 5


def test_two_guests_whose_long_addresses_share_a_prefix_stay_two(engine: Engine) -> None:
    one, two = "g" * 400 + "1@e.test", "g" * 400 + "2@e.test"
    save(engine, [event(attendees=(Attendee(ANN), Attendee(one), Attendee(two, "declined")))])
    _, attendees = rows(engine)
    assert len(attendees) == 3
    assert sorted(r["response"] for r in attendees) == ["declined", "needsAction", "needsAction"]


def test_a_connector_finds_a_stored_copy_by_the_long_id_it_knows(
    engine: Engine, db_url: str
) -> None:
    long_id = "i" * 1_100
    save(engine, [event(long_id, series_id="s" * 1_100, organizer=ANN)])
    stored = MailboxCopies(engine, "google", ANN)
    assert list(stored.copies([long_id, "unknown"])) == [long_id]
    assert stored.copies([long_id])[long_id].event_id == long_id
    assert list(stored.series_copies(["s" * 1_100])) == ["s" * 1_100]
    # A replaced id is not what the calendar lists: it must never be taken for a removed event.
    assert stored.organised_live(T0 - timedelta(days=1), T0 + timedelta(days=1)) == []
    # Cancelling it by the id the store handed back cancels that row, and makes no new one.
    [occurrence] = stored.series_copies(["s" * 1_100])["s" * 1_100]
    save(engine, [event(occurrence.event_id, status="cancelled", attendees=None)], SYNC2)
    [row] = rows(engine)[0]
    assert row["status"] == "cancelled"


def test_an_error_kept_for_status_is_one_short_line(engine: Engine) -> None:
    dump = "unexpected DataError: value too long\n[SQL: INSERT INTO events " + "x, " * 800 + "]"
    record_outcome(engine, "google", ANN, ran_at=SYNC1, error=dump)
    state = load_sync_state(engine, "google", ANN)
    assert state is not None and state.error is not None
    assert "\n" not in state.error and len(state.error) <= 500
    assert state.error.startswith("unexpected DataError: value too long")


# A live company: both stand-ins, a config, the org chart loaded, the world at hand.


class Stage(Live):
    """A live company (both stand-ins, a config, the org chart loaded, the world at hand) whose
    commands can run under a umask."""

    def env(self) -> dict[str, str]:
        return cron_env(self.served.config_path, self.database_url)

    def cadence(self, *args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[override]
        return cadence(*args, cwd=self.folder, env=self.env(), umask=umask)

    def person(self, source: str) -> str:
        return next(p.email for p in self.company.people if p.source == source)


def staged(folder: Path, url: str, latency: float = 0.0) -> Iterator[Stage]:
    yield from start(folder, url, latency, cls=Stage)


@pytest.fixture
def stage(tmp_path: Path, db_url: str) -> Iterator[Stage]:
    yield from staged(tmp_path, db_url)


def test_a_hostile_invitation_does_not_fail_the_mailboxes_it_reaches(stage: Stage) -> None:
    """Bob (Google) invites Carol (Microsoft) and a 325-character address to a meeting whose UID
    is 1,100 characters: both mailboxes sync, every night, and both copies share one UID."""
    bob, carol = stage.person(GOOGLE), stage.person(MICROSOFT)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    stage.world.add_one_off(
        LONG_UID, bob, [carol, LONG_EMAIL, "odd\ud800guest@e.test"], start, timedelta(minutes=30)
    )
    first = stage.cadence("sync")
    assert first.returncode == 0, first.stderr
    assert "failed" not in first.stderr
    status = stage.cadence("status", "--failed")
    assert status.returncode == 0 and "mailboxes_failed: 0" in status.stdout, status.stdout
    again = stage.cadence("sync", "--full")
    assert again.returncode == 0, again.stderr
    engine = make_engine(stage.database_url)
    with engine.connect() as conn:
        copies = conn.execute(
            select(EventRow.mailbox, EventRow.ical_uid).where(
                func.length(EventRow.ical_uid) == 1024
            )
        ).all()
        guests = conn.execute(
            select(func.count()).where(AttendeeRow.email.like("xxxxxxxxxx%"))
        ).scalar()
    engine.dispose()
    assert sorted(m for m, _ in copies) == sorted([bob, carol])  # one row each, after two syncs
    assert len({uid for _, uid in copies}) == 1 and copies[0][1].startswith("u" * 900)
    assert guests == 2  # the long address, in each copy's guest list


# -- 3. files cadence creates are private ---------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def child(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in another Python process whose umask is 0."""
    return subprocess.run(
        [sys.executable, "-c", "import os; os.umask(0)\n" + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cadence_init_creates_a_private_database_whatever_the_umask(tmp_path: Path) -> None:
    result = cadence("init", cwd=tmp_path, umask=0)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "cadence.db") == 0o600


def test_a_stricter_umask_is_kept(tmp_path: Path) -> None:
    result = cadence("init", cwd=tmp_path, umask=0o277)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "cadence.db") == 0o400


def test_the_wal_shared_memory_and_journal_are_private(tmp_path: Path) -> None:
    """While a connection writes, SQLite's side files exist: each as private as the database."""
    done = child(
        f"""
import stat
from pathlib import Path
from cadence.store.database import make_engine, upgrade
db = Path({str(tmp_path / "c.db")!r})
engine = make_engine(f"sqlite:///{{db}}")
upgrade(engine)
with engine.connect() as conn:
    conn.exec_driver_sql("INSERT INTO sources VALUES ('g', 'google')")
    conn.commit()
    for side in ("-wal", "-shm"):
        print(side, oct(stat.S_IMODE(Path(str(db) + side).stat().st_mode)))
    conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    conn.exec_driver_sql("BEGIN IMMEDIATE")
    conn.exec_driver_sql("INSERT INTO sources VALUES ('m', 'outlook')")
    print("-journal", oct(stat.S_IMODE(Path(str(db) + "-journal").stat().st_mode)))
    conn.rollback()
""",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["-wal", "0o600", "-shm", "0o600", "-journal", "0o600"]
    assert mode(tmp_path / "c.db") == 0o600


def test_the_run_lock_file_is_private(tmp_path: Path, sqlite_url: str) -> None:
    done = child(
        f"""
from cadence.store.database import make_engine
from cadence.store.lock import run_lock
with run_lock(make_engine({sqlite_url!r}), "nightly"):
    pass
""",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert mode(Path(sqlite_url.removeprefix("sqlite:///") + ".lock")) == 0o600


def test_a_lock_file_planted_as_a_symbolic_link_is_not_followed(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Whoever can write beside the database must not have cadence truncate another file."""
    from cadence.store.lock import run_lock

    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    Path(sqlite_url.removeprefix("sqlite:///") + ".lock").symlink_to(precious)
    engine = make_engine(sqlite_url)
    with pytest.raises(StoreError, match="symbolic link"), run_lock(engine, "nightly"):
        pass
    engine.dispose()
    assert precious.read_text() == "keep me"


def test_a_sync_under_umask_0_leaves_only_private_files(tmp_path: Path) -> None:
    """``cadence init`` and ``cadence sync`` run by cron with a umask of 0."""
    (tmp_path / "init").mkdir()
    (tmp_path / "stage").mkdir()
    database = tmp_path / "stage" / "cadence.db"
    url = f"sqlite:///{database}"
    made = cadence("init", "--database-url", url, cwd=tmp_path / "init", umask=0)
    assert made.returncode == 0, made.stderr
    for stage in staged(tmp_path / "stage", url):
        result = stage.cadence("sync", umask=0)
        assert result.returncode == 0, result.stderr
    files = {p.name: mode(p) for p in database.parent.iterdir() if p.name.startswith("cadence.db")}
    assert "cadence.db" in files and files == dict.fromkeys(files, 0o600)


def test_the_demo_tls_key_and_its_folder_are_private(tmp_path: Path) -> None:
    done = child(
        f"""
from pathlib import Path
from cadence.sandbox.tls import make_tls
make_tls(Path({str(tmp_path / "tls")!r}))
""",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "tls") == 0o700
    assert mode(tmp_path / "tls" / "server-key.pem") == 0o600


def test_a_key_written_over_a_readable_file_becomes_private(tmp_path: Path) -> None:
    from cadence.sandbox.tls import write_private

    key = tmp_path / "key.pem"
    key.write_text("old")
    key.chmod(0o644)
    write_private(key, b"-----BEGIN PRIVATE KEY-----")
    assert mode(key) == 0o600 and key.read_bytes() == b"-----BEGIN PRIVATE KEY-----"


# -- 4. no traceback without -v -------------------------------------------------------------------


@pytest.fixture
def sqlite_stage(tmp_path: Path, sqlite_url: str) -> Iterator[Stage]:
    yield from staged(tmp_path, sqlite_url)


@pytest.mark.parametrize("command", ["sync", "nightly"])
def test_a_database_locked_by_another_writer(sqlite_stage: Stage, command: str) -> None:
    path = sqlite_stage.database_url.removeprefix("sqlite:///")
    sqlite_stage.database_url += "?timeout=0.5"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = sqlite_stage.cadence(command)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    line = one_error_line(result)
    assert path in line and "another writer holds it (waited 0.5 s)" in line


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from small_tmpfs(tmp_path, "400k")


@pytest.fixture
def full_stage(tmp_path: Path, small_disk: Path) -> Iterator[Stage]:
    """A live company whose SQLite database lives on the small disk."""
    (tmp_path / "stage").mkdir()
    yield from staged(tmp_path / "stage", f"sqlite:///{small_disk / 'cadence.db'}")


def test_a_disk_that_fills_up_during_a_sync(full_stage: Stage, small_disk: Path) -> None:
    result = full_stage.cadence("sync")
    assert result.returncode == 1, result.stderr
    line = one_error_line(result)
    assert str(small_disk / "cadence.db") in line and "the disk is full" in line
    assert "synced" not in result.stderr


def test_a_file_that_is_not_a_database(tmp_path: Path, sqlite_url: str) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    whole = path.read_bytes()
    for name, content in [
        ("text.db", b"name,email\nann,ann@example.com\n"),
        ("header.db", whole[:50]),  # cut inside SQLite's header
        ("pages.db", whole[:8192]),  # the header says more pages than there are
    ]:
        broken = tmp_path / name
        broken.write_bytes(content)
        for command in ("status", "init", "sync"):
            result = cadence(command, "--database-url", f"sqlite:///{broken}", cwd=tmp_path)
            assert result.returncode == 1, (name, command, result.stderr)
            line = one_error_line(result)
            assert str(broken) in line, line


def test_a_database_newer_than_this_cadence(tmp_path: Path, db_url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    try:
        for command in ("init", "status", "sync"):
            result = cadence(command, "--database-url", db_url, cwd=tmp_path)
            assert result.returncode == 1, (command, result.stderr)
            line = one_error_line(result)
            assert "schema (ffff9999) is newer than this cadence" in line
            assert redact(db_url) in line
            assert "upgrade cadence" in line
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE alembic_version SET version_num = '{head_revision()}'"))


@pytest.mark.parametrize(
    "url",
    [
        "mysql://cadence@db/cadence",
        "postgresql+asyncpg://cadence@db/cadence",
        "postgresql://cadence@db/cadence",  # psycopg2, which cadence does not use
        "oracle+nosuchdriver://cadence@db/cadence",
        "nosuchdatabase://cadence@db/cadence",
        "not a url at all",
        "sqlite://user@host/x.db",
    ],
)
def test_a_url_cadence_cannot_use_is_bad_usage(url: str, tmp_path: Path) -> None:
    for command in ("status", "init"):
        result = cadence(command, "--database-url", url, cwd=tmp_path)
        assert result.returncode == 2, (command, result.stderr)
        line = one_error_line(result)
        assert "database URL" in line and "postgresql+psycopg://" in line


def test_a_database_deleted_under_an_open_engine_refuses_to_commit(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    save_page(engine, "google", ANN, [event("e1")], seen_at=SYNC1, first_sync=True)
    Path(sqlite_url.removeprefix("sqlite:///")).unlink()
    with pytest.raises(StoreError, match="was deleted or replaced"):
        save_page(engine, "google", ANN, [event("e2")], seen_at=SYNC1, first_sync=True)
    engine.dispose()


def test_a_deleted_database_is_not_made_anew_by_the_next_connection(sqlite_url: str) -> None:
    """A sync's next connection would otherwise make an empty database where the file was."""
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    engine = make_engine(sqlite_url)
    save_page(engine, "google", ANN, [event("e1")], seen_at=SYNC1, first_sync=True)
    path.unlink()
    engine.dispose()  # every connection closed: the next one opens the path again
    with pytest.raises(StoreError, match="was deleted or replaced"):
        save_page(engine, "google", ANN, [event("e2")], seen_at=SYNC1, first_sync=True)
    engine.dispose()
    assert not path.exists()


def test_a_database_replaced_under_an_open_engine_refuses_to_commit(
    sqlite_url: str, tmp_path: Path
) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    engine = make_engine(sqlite_url)
    save_page(engine, "google", ANN, [event("e1")], seen_at=SYNC1, first_sync=True)
    backup = tmp_path / "restored.db"
    backup.write_bytes(path.read_bytes())
    backup.replace(path)  # a backup restored over it while cadence runs
    with pytest.raises(StoreError, match="was deleted or replaced"):
        record_outcome(engine, "google", ANN, ran_at=SYNC1, error=None)
    engine.dispose()


@pytest.fixture
def slow_stage(tmp_path: Path, sqlite_url: str) -> Iterator[Stage]:
    """A live company whose stand-ins answer slowly, so that a sync lasts a few seconds."""
    (tmp_path / "stage").mkdir()
    yield from staged(tmp_path / "stage", sqlite_url, latency=0.05)


def test_a_database_deleted_in_the_middle_of_a_sync(slow_stage: Stage) -> None:
    """Before: the sync went on writing into the deleted file and reported success."""
    path = Path(slow_stage.database_url.removeprefix("sqlite:///"))
    served = slow_stage.served
    running = subprocess.Popen(
        [*CADENCE, "sync"],
        cwd=slow_stage.folder,
        env=slow_stage.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and served.google.total + served.graph.total < 5:
        time.sleep(0.05)
    path.unlink()
    _, stderr = running.communicate(timeout=300)
    result = subprocess.CompletedProcess(running.args, running.returncode, "", stderr)
    assert result.returncode == 1, stderr
    line = one_error_line(result)
    assert str(path) in line and "was deleted or replaced" in line
    assert "synced" not in stderr
