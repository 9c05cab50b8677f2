"""How long ``cadence report all`` takes for a 20,000-person company (target: under 60 s).

Builds the company straight into a fresh SQLite store with bulk inserts: an org tree of N people
(default 20,000; up to 7 reports per manager), and for every (manager, report) pair 1:1s over the
trend window and a few weeks ahead, as both calendars hold them. Most pairs meet weekly, some
every two weeks, some ad hoc, a few never; about one in ten occurrences is missed, cancelled by
the manager or declined by the report. Then it times what ``report all`` does, in its two parts:
the pipeline at as-of and a week earlier, and rendering and writing every manager's and
director's report (Markdown and HTML by default, ``[report] formats``) into a temporary folder.

Usage: ``python benchmarks/bench_reports.py [--people N] [--formats md,html] [--keep DIR]
[--db FILE]``. Run it with ``--people 2000`` while developing, the full size once; ``--db`` keeps
the generated company for the next run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert

from cadence.config import parse_config
from cadence.jobs.figures import results
from cadence.jobs.report_all import all_views
from cadence.reports.words import RenderSettings, iso_week
from cadence.reports.writer import write_reports
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Person
from cadence.store.upsert import ATTENDEES, EVENTS

AS_OF = datetime(2026, 11, 23, 12, tzinfo=UTC)
SPAN = 7
WEEKS_BACK, WEEKS_AHEAD = 30, 4
CHUNK = 50_000


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


def _insert(engine: Engine, table: object, frame: pd.DataFrame) -> None:
    with engine.begin() as conn:
        for i in range(0, len(frame), CHUNK):
            conn.execute(insert(table), frame.iloc[i : i + CHUNK].to_dict("records"))  # type: ignore[arg-type]


def _nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """NaN and NaT as None, which the database takes as NULL."""
    return frame.astype(object).where(frame.notna(), None)  # type: ignore[call-overload]


def load_company(engine: Engine, people: pd.DataFrame, occ: pd.DataFrame) -> int:
    """The people and both calendars' copies of every occurrence; returns the event rows."""
    _insert(engine, Person, people)
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
    _insert(engine, EVENTS, _nulls_as_none(events))
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
    att = pd.concat(attendees)
    _insert(engine, ATTENDEES, _nulls_as_none(att))
    return len(events)


def _timed(views: Iterator[Mapping[str, Any]], seconds: list[float]) -> Iterator[Mapping[str, Any]]:
    """The views, adding the time spent building each one to ``seconds[0]``."""
    while True:
        start = time.perf_counter()
        view = next(views, None)
        seconds[0] += time.perf_counter() - start
        if view is None:
            return
        yield view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--formats", default="md,html")
    parser.add_argument("--keep", type=Path, help="write the reports here instead of a temp dir")
    parser.add_argument(
        "--db", type=Path, help="a SQLite file for the company: built if missing, else reused"
    )
    args = parser.parse_args()
    formats = args.formats.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "bench.db"
        build = not db.exists()
        engine = make_engine(f"sqlite:///{db}")
        if build:
            upgrade(engine)
            t = time.perf_counter()
            people = build_people(args.people)
            occ = build_occurrences(people, np.random.default_rng(7))
            rows = load_company(engine, people, occ)
            print(
                f"company: {len(people):,} people, {len(occ):,} 1:1 occurrences,"
                f" {rows:,} event rows (built in {time.perf_counter() - t:.1f} s, not counted)"
            )
        else:
            print(f"company: reusing {db}")
        config = parse_config({})
        settings = RenderSettings.from_config(config)
        out_dir = args.keep or Path(tmp) / "reports"
        start = time.perf_counter()
        current, previous = results(engine, config, AS_OF, None)
        computed = time.perf_counter()
        view_seconds = [0.0]
        summary = write_reports(
            _timed(all_views(current, previous), view_seconds),
            out_dir,
            iso_week(AS_OF.isoformat(), settings),
            AS_OF.isoformat(),
            formats,
            settings,
        )
        done = time.perf_counter()
        managers = sum(w.kind == "manager" for w in summary.written)
        print(
            f"report all: {managers:,} manager and {len(summary.written) - managers:,} director"
            f" reports, {summary.file_count:,} files ({', '.join(formats)})"
        )
        print(f"  pipeline (as-of and a week earlier): {computed - start:6.1f} s")
        print(f"  views (cadence.pipeline.views):      {view_seconds[0]:6.1f} s")
        print(f"  rendering and writing:               {done - computed - view_seconds[0]:6.1f} s")
        print(f"  total:                                {done - start:6.1f} s (target < 60 s)")
        engine.dispose()


if __name__ == "__main__":
    main()
