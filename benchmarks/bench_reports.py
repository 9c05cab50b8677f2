"""How long ``cadence report all`` takes for a 20,000-person company, on SQLite and PostgreSQL,
measured against the floor of reading the data.

Why: a report run reads the store's events and attendees and computes from them; how fast that
can go is bounded below by reading the two tables at all. So beside each step of ``report all``
this prints the **floor**, both tables read whole (``SELECT *``) as Arrow through ADBC and made
pandas frames, and the ratios to it: loading (``cadence.store.reads.load_frames``) should be
within 2x of the floor, the whole of ``report all`` within 5x. The floor is read in this process
after choosing its allocators as cadence's first read does (docs/reports.md, "Speed"), so both
allocate alike.

The company, the same as earlier versions of this benchmark (same generator, same seed) so its
figures stay comparable: an org tree of N people (default 20,000; up to 7 reports per manager),
and for every (manager, report) pair 1:1s over the trend window and a few weeks ahead, as both
calendars hold them. Most pairs meet weekly, some every two weeks, some ad hoc, a few never;
about one in ten occurrences is missed, cancelled by the manager or declined by the report. It is
generated once and stored into each backend with the driver's bulk path (COPY on PostgreSQL,
executemany on SQLite), every value first put through its column's SQLAlchemy type, so the rows
are stored however the store's types store them (building is timed, not counted).

Then, per backend, it times what ``report all`` does: the floor; load; compute (the pipeline at
as-of and a week earlier, from the one load, as ``cadence.jobs.figures.results`` does); building,
rendering and writing every manager's and director's report (Markdown and HTML by default) into
a temporary folder and saving each one's JSON in the store, as ``publish_all`` does it (a
process per CPU), and, for comparison, the same in one process; the total; and prints
one table per backend, with the machine's load average at the start and the end (other work on
the machine slows every step).

PostgreSQL is reached at ``--postgres-url`` (default ``$CADENCE_TEST_POSTGRES_URL``, else the
local server's ``test`` database); the company goes into a database of its own on that server,
``cadence_bench`` (created if missing, emptied and rebuilt unless ``--reuse``), never into the
database the URL names, which the test suite uses.

Usage: ``python benchmarks/bench_reports.py [--people N] [--backends sqlite postgresql]
[--formats md,html] [--keep DIR] [--sqlite-db FILE] [--reuse] [--postgres-url URL]``.
Run it with ``--people 2000`` while developing, the full size once. ``--sqlite-db FILE`` keeps the
SQLite company: built if missing, else reused (it must hold N people). ``--reuse`` keeps
``cadence_bench``'s company when it holds N people and its schema is current.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import adbc_driver_postgresql.dbapi
import adbc_driver_sqlite.dbapi
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from sqlalchemy import Engine, Table, func, select, text
from sqlalchemy.engine import URL, make_url

from cadence.config import parse_config
from cadence.jobs.figures import params_for
from cadence.jobs.report_all import available_cpus, publish_all
from cadence.pipeline import compute_frames_at
from cadence.store.database import current_revision, head_revision, make_engine, upgrade
from cadence.store.models import Person
from cadence.store.reads import load_frames, plain_allocations
from cadence.store.upsert import ATTENDEES, EVENTS

AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)
PREVIOUS_WEEK = pd.Timedelta(days=7)
SPAN = 7
WEEKS_BACK, WEEKS_AHEAD = 30, 4
CHUNK = 50_000
SEED = 7

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_DATABASE = "cadence_bench"
BACKENDS = ("sqlite", "postgresql")
# The targets the ratios are printed against.
LOAD_TARGET, TOTAL_TARGET = 2.0, 5.0

# -- the company ----------------------------------------------------------------------------------


def build_people(n: int) -> pd.DataFrame:
    """A breadth-first tree: person i reports to person (i - 1) // SPAN."""
    ids = np.arange(n)
    manager = np.where(ids == 0, -1, (ids - 1) // SPAN)
    return pd.DataFrame(
        {
            "email": [f"p{i}@bench.test" for i in ids],
            "name": [f"Person {i}" for i in ids],
            "manager_email": [f"p{m}@bench.test" if m >= 0 else None for m in manager],
            "team": None,
        }
    )


def build_occurrences(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per 1:1 occurrence of every pair, vectorised over pairs and weeks."""
    pairs = people[people["manager_email"].notna()].reset_index(drop=True)
    kind = rng.choice(4, size=len(pairs), p=[0.7, 0.15, 0.1, 0.05])  # weekly/biweekly/ad hoc/none
    weeks = np.arange(-WEEKS_BACK, WEEKS_AHEAD)
    grid = pd.DataFrame(
        {
            "pair": np.repeat(np.arange(len(pairs)), len(weeks)),
            "week": np.tile(weeks, len(pairs)),
        }
    )
    grid["kind"] = kind[grid["pair"]]
    meets = (
        (grid["kind"] == 0)
        | ((grid["kind"] == 1) & (grid["week"] % 2 == 0))
        | ((grid["kind"] == 2) & (grid["week"] % 5 == 0))
    )
    occ = grid[meets].reset_index(drop=True)
    day = occ["pair"] % 5  # Monday to Friday
    hour = 9 + occ["pair"] % 8
    monday = pd.Timestamp(AS_OF.replace(hour=0)) - pd.Timedelta(days=AS_OF.weekday())
    occ["start"] = (
        monday + pd.to_timedelta(occ["week"] * 7 + day, unit="D") + pd.to_timedelta(hour, unit="h")
    )
    occ["manager"] = pairs["manager_email"].to_numpy()[occ["pair"]]
    occ["report"] = pairs["email"].to_numpy()[occ["pair"]]
    past = occ["start"] <= AS_OF
    missed = past & (rng.random(len(occ)) < 0.1)
    occ["cancelled"] = missed & (rng.random(len(occ)) < 0.6)
    occ["declined"] = missed & ~occ["cancelled"]
    occ["uid"] = "bench-" + occ["pair"].astype(str)
    occ["series"] = occ["kind"] < 2
    occ["event_id"] = np.where(
        occ["series"],
        occ["uid"] + "_" + occ["start"].dt.strftime("%Y%m%dT%H%M%SZ"),
        occ["uid"] + "-" + occ["week"].astype(str),
    )
    occ["recurrence"] = occ["kind"].map({0: "RRULE:FREQ=WEEKLY", 1: "RRULE:FREQ=WEEKLY;INTERVAL=2"})
    return occ


@dataclass
class Company:
    """The generated rows of the store's tables, as frames (times as aware pandas datetimes)."""

    people: pd.DataFrame
    occurrences: int
    events: pd.DataFrame
    attendees: pd.DataFrame


def build_company(n: int) -> Company:
    """The people and both calendars' copies of every occurrence, with their attendees."""
    people = build_people(n)
    occ = build_occurrences(people, np.random.default_rng(SEED))
    seen = pd.Timestamp(AS_OF) - pd.Timedelta(days=200)
    copies = pd.concat([occ.assign(mailbox=occ["manager"]), occ.assign(mailbox=occ["report"])])
    uid_or_none = occ["uid"].where(occ["series"])
    events = pd.DataFrame(
        {
            "source": "bench",
            "mailbox": copies["mailbox"],
            "event_id": copies["event_id"],
            "series_id": pd.concat([uid_or_none, uid_or_none]),
            "ical_uid": copies["uid"],
            "original_start": copies["start"],
            "start": copies["start"],
            "end": copies["start"] + pd.Timedelta(minutes=30),
            "all_day": False,
            "event_type": "default",
            "status": np.where(copies["cancelled"], "cancelled", "confirmed"),
            "organizer": copies["manager"],
            "recurrence": copies["recurrence"],
            "source_updated": copies["start"] - pd.Timedelta(days=2),
            "cancelled_at": (copies["start"] - pd.Timedelta(days=2)).where(copies["cancelled"]),
            "cancel_seen_at": pd.NaT,
            "first_seen": seen,
            "last_seen": pd.Timestamp(AS_OF),
        }
    )
    attendees = []
    for who, organizer in (("manager", True), ("report", False)):
        declined = copies["declined"] & (not organizer)
        attendees.append(
            pd.DataFrame(
                {
                    "source": "bench",
                    "mailbox": copies["mailbox"],
                    "event_id": copies["event_id"],
                    "email": copies[who],
                    "response": np.where(declined, "declined", "accepted"),
                    "is_organizer": organizer,
                    "is_resource": False,
                    "optional": False,
                    "response_at": (copies["start"] - pd.Timedelta(days=1)).where(declined),
                    "response_seen_at": pd.NaT,
                    "last_seen": pd.Timestamp(AS_OF),
                }
            )
        )
    return Company(people, len(occ), events, pd.concat(attendees, ignore_index=True))


def _nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """NaN and NaT as None, which the database takes as NULL."""
    return frame.astype(object).where(frame.notna(), None)  # type: ignore[call-overload]


def _stored_rows(engine: Engine, table: Table, frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The frame's rows as the driver is to be given them: every value put through its column
    type's bind processor, as SQLAlchemy's ``insert()`` would, so instants are stored in the form
    the store's types choose (timestamptz on PostgreSQL, integer microseconds on SQLite today)
    and this benchmark never has to know that form. Column by column, which is much faster than
    value by value across rows."""
    dialect = engine.dialect
    columns = []
    for name in frame.columns:
        values = _nulls_as_none(frame[[name]])[name].tolist()
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(values if process is None else [process(v) for v in values])
    return list(zip(*columns, strict=True))


def _insert(engine: Engine, table: Table, frame: pd.DataFrame) -> None:
    # SQLAlchemy's insert() executemany took 187 s for the 3.2 million rows at 20,000 people on
    # PostgreSQL (this: about 100 s), and 1.6x this on SQLite: its per-row work dominates. So the
    # driver's own bulk path takes the rows (COPY on PostgreSQL, executemany on SQLite), once the
    # column types have made them (_stored_rows). Chunks bound the Python objects alive.
    missing = [c.name for c in table.columns if c.name not in frame and c.default is not None]
    assert not missing, f"{table.name}: no values for {missing}, whose default is Python's"
    quote = engine.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in frame.columns)
    with engine.begin() as conn:
        for i in range(0, len(frame), CHUNK):
            rows = _stored_rows(engine, table, frame.iloc[i : i + CHUNK])
            if engine.dialect.name == "postgresql":
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in frame.columns)
                conn.exec_driver_sql(
                    f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", rows
                )


def store_company(engine: Engine, company: Company) -> None:
    """The company into an empty store. People go last: a store holding N people holds all of
    the company, so an interrupted build is never taken for a finished one."""
    _insert(engine, EVENTS, company.events)
    _insert(engine, ATTENDEES, company.attendees)
    _insert(engine, Person.__table__, company.people)  # type: ignore[arg-type]
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if engine.dialect.name == "postgresql":
            # What autovacuum would do on its own soon after: done now, so it does not run in the
            # middle of a measurement, and the first read does not pay for setting hint bits.
            conn.execute(text("VACUUM (ANALYZE) events, attendees, people"))
        else:
            # The rows into the database file, as in a store at rest, rather than left in the WAL.
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def people_count(engine: Engine) -> int | None:
    """The people a store holds, or ``None`` when its schema is not this cadence's."""
    if current_revision(engine) != head_revision():
        return None
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Person)).scalar_one())


# -- the backends ---------------------------------------------------------------------------------


@dataclass
class Store:
    """One backend's store of the company, and how its floor is read."""

    backend: str
    engine: Engine
    adbc_target: str  # a SQLite file's path, or a libpq URI
    built: bool = False
    build_seconds: float = 0.0

    def adbc_connect(self) -> Any:
        if self.backend == "sqlite":
            return adbc_driver_sqlite.dbapi.connect(self.adbc_target)
        return adbc_driver_postgresql.dbapi.connect(self.adbc_target)


def libpq(url: URL) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq URI (for psycopg and ADBC)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def sqlite_store(path: Path, people: int) -> Store:
    existed = path.exists()
    engine = make_engine(f"sqlite:///{path}")
    if not existed:
        upgrade(engine)
        return Store("sqlite", engine, str(path), built=True)
    held = people_count(engine)
    if held != people:
        engine.dispose()
        what = "a schema that is not current" if held is None else f"{held:,} people"
        raise SystemExit(f"{path} holds {what}, not {people:,}: delete it or name another file")
    return Store("sqlite", engine, str(path))


def postgres_store(admin_url: str, people: int, reuse: bool) -> Store:
    """The company's store in the ``cadence_bench`` database of the server ``admin_url`` is on."""
    admin = make_url(admin_url)
    with psycopg.connect(libpq(admin), autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)
        ).fetchone()
        if found is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
    url = admin.set(database=BENCH_DATABASE)
    engine = make_engine(url.render_as_string(hide_password=False))
    store = Store("postgresql", engine, libpq(url))
    if reuse and people_count(engine) == people:
        return store
    # Everything goes, the migrations' bookkeeping too, and the schema is made anew.
    engine.dispose()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    upgrade(engine)
    store.built = True
    return store


# -- the measurements -----------------------------------------------------------------------------


def read_floor(store: Store) -> tuple[float, int]:
    """Seconds to read events and attendees whole as Arrow and make them pandas frames; rows."""
    if store.backend == "sqlite":
        # ADBC's SQLite is a second copy of the library in this process: with the engine's
        # connections open beside it, its close truncated their shared memory file under them
        # (a bus error), the trap cadence avoids by reading in a child. None is open meanwhile.
        store.engine.dispose()
    conn = store.adbc_connect()
    try:
        with conn.cursor() as cur:
            start = time.perf_counter()
            rows = 0
            for table in ("events", "attendees"):
                cur.execute(f"SELECT * FROM {table}")
                rows += len(cur.fetch_arrow_table().to_pandas())
            return time.perf_counter() - start, rows
    finally:
        conn.close()


def measure(store: Store, formats: list[str], out_dir: Path) -> None:
    """Time every step of ``report all`` on one store, and print its table."""
    config = parse_config({})
    now = params_for(config, AS_OF)
    before = params_for(config, AS_OF - PREVIOUS_WEEK)
    since = min(now.load_since, before.load_since)
    plain_allocations()  # as cadence's first read would: the floor allocates as the load does
    # One untimed read first, so the floor and the load both read from warm caches (the OS's and
    # PostgreSQL's buffers), whichever comes first.
    read_floor(store)
    floor, floor_rows = read_floor(store)
    # The engine's pooled connection open, as a run would have it before reading.
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    # Nothing left for the kernel to write from before (the store's build, the last backend's
    # 6,530 files): file creation stalled behind that writeback, up to 3 s of a run's writing.
    # This run's own files are written back after it, as a real run's are once it has exited.
    os.sync()

    start = time.perf_counter()
    frames = load_frames(store.engine, since)
    loaded = time.perf_counter()
    # As report all does: both weeks together, sharing what does not depend on as-of.
    current, previous = compute_frames_at(frames, [now, before])
    computed = time.perf_counter()
    # As report all does: every view built, rendered and written (by a process per CPU), and
    # each report's JSON saved in the store for the web app.
    summary, _ = publish_all(
        store.engine,
        config,
        as_of=AS_OF,
        window_weeks=None,
        formats=formats,
        out_dir=out_dir,
        computed=(current, previous),
    )
    done = time.perf_counter()
    # For comparison, not in the total: the same in this process alone.
    publish_all(
        store.engine,
        config,
        as_of=AS_OF,
        window_weeks=None,
        formats=formats,
        out_dir=out_dir,
        computed=(current, previous),
        workers=1,
    )
    one_process = time.perf_counter() - done

    load, total = loaded - start, done - start
    load_rows = len(frames.events) + len(frames.attendees)
    managers = sum(w.kind == "manager" for w in summary.written)

    def ratio(seconds: float, target: float) -> str:
        verdict = "ok" if seconds <= target * floor else "over"
        return f"{seconds / floor:5.1f}x floor  (target <= {target:g}x: {verdict})"

    cpus = available_cpus()
    lines = [
        ("floor: events + attendees, ADBC -> Arrow -> pandas", floor, f"{floor_rows:>10,} rows"),
        ("load (load_frames)", load, f"{load_rows:>10,} rows  {ratio(load, LOAD_TARGET)}"),
        ("compute at as-of and a week earlier", computed - loaded, ""),
        (
            f"views, rendering ({', '.join(formats)}), saving ({cpus} processes)",
            done - computed,
            f"{'':>15}  {(done - computed) / (computed - loaded):5.1f}x compute",
        ),
        ("  the same in one process (not in the total)", one_process, ""),
        ("total (load to last file)", total, f"{'':>15}  {ratio(total, TOTAL_TARGET)}"),
    ]
    print(f"\n{store.backend}:")
    for label, seconds, note in lines:
        print(f"  {label:<52} {seconds:7.2f} s  {note}".rstrip())
    print(
        f"  ({managers:,} manager and {len(summary.written) - managers:,} director reports,"
        f" {summary.file_count:,} files)"
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--formats", default="md,html")
    parser.add_argument("--keep", type=Path, help="write the reports here instead of a temp dir")
    parser.add_argument(
        "--sqlite-db",
        type=Path,
        help="a SQLite file for the company: built if missing, else reused",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help=f"keep {BENCH_DATABASE}'s company if it holds --people people (else it is rebuilt)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("CADENCE_TEST_POSTGRES_URL", DEFAULT_PG),
        help=f"the PostgreSQL server (the company goes into its {BENCH_DATABASE} database)",
    )
    args = parser.parse_args()
    formats = args.formats.split(",")
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory() as tmp:
        stores = []
        for backend in dict.fromkeys(args.backends):
            if backend == "sqlite":
                path = args.sqlite_db or Path(tmp) / "bench.db"
                stores.append(sqlite_store(path, args.people))
            else:
                stores.append(postgres_store(args.postgres_url, args.people, args.reuse))

        # Built once, into every store that needs it, so both backends hold the same company.
        company: Company | None = None
        for store in stores:
            if not store.built:
                print(f"{store.backend}: reusing the company of {args.people:,} people")
                continue
            if company is None:
                t = time.perf_counter()
                company = build_company(args.people)
                print(
                    f"company: {len(company.people):,} people,"
                    f" {company.occurrences:,} 1:1 occurrences, {len(company.events):,} event"
                    f" rows, {len(company.attendees):,} attendee rows"
                    f" (generated in {time.perf_counter() - t:.1f} s)"
                )
            t = time.perf_counter()
            store_company(store.engine, company)
            store.build_seconds = time.perf_counter() - t
            print(f"{store.backend}: stored in {store.build_seconds:.1f} s (not counted)")
        del company

        for store in stores:
            out_dir = (args.keep or Path(tmp) / "reports") / store.backend
            measure(store, formats, out_dir)
            store.engine.dispose()
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
