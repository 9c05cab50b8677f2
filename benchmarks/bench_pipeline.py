"""Benchmark the health pipeline on a synthetic company (issue 5).

Builds, for each size, a company of N people (a tree, spans of 3 to 9; 85% of pairs with a weekly
or biweekly 1:1 series, some skip-level 1:1s), with 26 weeks of history and 5 weeks ahead in BOTH
calendars of every meeting, written straight into a SQLite store with bulk inserts (this measures
the pipeline, not the connectors). Then, in a fresh process per size and variant (so that its
peak resident memory is the pipeline's, not the generator's), pinned to one core, times:

- load: ``load_frames`` (SQL -> frames), the best of two reads (the first also starts SQLite's
  reader process, and is printed too);
- compute: ``compute_frames`` (frames -> every figure, its trends included), and its peak traced
  memory;
- views: every manager's and director's view dict;

and prints the process's peak resident memory (everything above, frames and figures held
together), the SQLite reader process's, and the peak of the two together (sampled every 10 ms).

Each size runs twice on the same company: ``plain`` (no absences, no countries, no make-ups)
and ``away``: ~10% of people out of office for one to two weeks (1% on a twelve-week leave),
each person working in one of four countries and zones (public holidays), 70% of the 1:1s in
someone's absence called off, and ~5% of the other misses made up by a one-off two days later.
The two lines print side by side with the ratio of their compute times and peaks.

Usage: ``python benchmarks/bench_pipeline.py [--people 5000 10000 20000] [--engine pandas]
[--variants plain away]``
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sqlite3
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cadence.config import parse_config
from cadence.frames import StoreFrames
from cadence.jobs.figures import params_for
from cadence.pipeline import HealthResult, Params, compute_frames
from cadence.pipeline.views import director_view, manager_view
from cadence.store import arrow_reads
from cadence.store.database import make_engine, upgrade
from cadence.store.reads import load_frames

AS_OF = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HISTORY_WEEKS = 26
AHEAD_WEEKS = 5
# Where people work in the away variant: (country, zone), drawn per person.
PLACES = [("US", "America/New_York"), ("US-CA", "America/Los_Angeles"),
          ("DE-BY", "Europe/Berlin"), ("GB-SCT", "Europe/London")]  # fmt: skip
MONDAY = pd.Timestamp(AS_OF).normalize() - pd.Timedelta(days=AS_OF.weekday())


def org_chart(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A tree of ``n`` people: each manager gets 3-9 reports, breadth first."""
    emails = np.array([f"p{i:06d}@bench.test" for i in range(n)], dtype=object)
    managers = np.empty(n, dtype=object)
    managers[0] = None
    nxt, boss = 1, 0
    while nxt < n:
        span = int(rng.integers(3, 10))
        end = min(n, nxt + span)
        managers[nxt:end] = emails[boss]
        nxt, boss = end, boss + 1
    return pd.DataFrame({"email": emails, "name": [f"Person {i}" for i in range(n)],
                         "manager_email": managers})  # fmt: skip


def meetings(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One row per occurrence: manager, report, uid, original start, start, outcome draws."""
    pairs = people.dropna(subset=["manager_email"])
    pairs = pairs[rng.random(len(pairs)) < 0.85]
    index = pd.Series(np.arange(len(people)), index=people["email"])
    skip_mgr = people.set_index("email")["manager_email"].reindex(pairs["manager_email"])
    skips = pd.DataFrame({"manager_email": skip_mgr.to_numpy(), "email": pairs["email"].to_numpy()})
    skips = skips.dropna()
    skips = skips[rng.random(len(skips)) < 0.2]
    series = pd.concat(
        [
            pd.DataFrame({"m": pairs["manager_email"], "r": pairs["email"],
                          "every": rng.choice([1, 1, 1, 2], len(pairs))}),
            pd.DataFrame({"m": skips["manager_email"], "r": skips["email"], "every": 4}),
        ],
        ignore_index=True,
    )  # fmt: skip
    series["sid"] = np.arange(len(series))
    weeks = np.arange(-HISTORY_WEEKS, AHEAD_WEEKS)
    occ = series.loc[series.index.repeat(len(weeks))].reset_index(drop=True)
    occ["week"] = np.tile(weeks, len(series))
    occ = occ[occ["week"] % occ["every"] == 0].reset_index(drop=True)
    day = rng.integers(0, 5, len(series))[occ["sid"]]
    hour = rng.integers(8, 17, len(series))[occ["sid"]]
    occ["original_start"] = (
        MONDAY + pd.to_timedelta(occ["week"] * 7 + day, unit="D") + pd.to_timedelta(hour, unit="h")
    )
    draw = rng.random(len(occ))
    occ["cancelled"] = draw < 0.08
    occ["declined_by"] = np.where((draw >= 0.08) & (draw < 0.12), rng.integers(1, 3, len(occ)), 0)
    moved = rng.random(len(occ)) < 0.05
    occ["start"] = occ["original_start"] + pd.to_timedelta(np.where(moved, 26, 0), unit="h")
    occ["organizer_is_report"] = rng.random(len(series))[occ["sid"]] < 0.1
    occ["index_m"] = index.reindex(occ["m"]).to_numpy()
    return occ


def stored(times: pd.Series) -> pd.Series:
    """Instants as SQLite keeps them (cadence.store.models.UTCDateTime): integer microseconds
    since 1970 UTC. The benchmark writes rows with the raw driver, so it converts them itself."""
    t = pd.Series(times)
    if t.dt.tz is None:
        t = t.dt.tz_localize("UTC")
    return t.dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64")


def away_time(
    people: pd.DataFrame, occ: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The away variant: people with a country and zone, their all-day absences (person, start,
    end at UTC midnights, as the connectors store all-day events), the occurrences with the 1:1s
    in an absence mostly called off, and the one-offs that make ~5% of the other misses up."""
    people = people.copy()
    place = rng.integers(0, len(PLACES), len(people))
    people["country"] = [PLACES[i][0] for i in place]
    people["timezone"] = [PLACES[i][1] for i in place]
    away = people[rng.random(len(people)) < 0.10]
    long = rng.random(len(away)) < 0.10
    days = np.where(long, 84, rng.choice([5, 7, 12], len(away)))
    week = rng.integers(-HISTORY_WEEKS, AHEAD_WEEKS, len(away))
    start = MONDAY.tz_localize(None) + pd.to_timedelta(week * 7, unit="D")
    absences = pd.DataFrame(
        {"person": away["email"].to_numpy(), "start": start,
         "end": start + pd.to_timedelta(days, unit="D")}
    )  # fmt: skip
    occ = occ.copy()
    naive = (
        occ["original_start"].dt.tz_localize(None)
        if occ["original_start"].dt.tz
        else (occ["original_start"])
    )
    inside = np.zeros(len(occ), dtype=bool)
    for side in ("m", "r"):
        rows = occ[[side]].reset_index().merge(absences, left_on=side, right_on="person")
        hit = (naive.to_numpy()[rows["index"]] >= rows["start"].to_numpy()) & (
            naive.to_numpy()[rows["index"]] < rows["end"].to_numpy()
        )
        inside[rows["index"].to_numpy()[hit]] = True
    called_off = inside & (rng.random(len(occ)) < 0.7)
    occ["cancelled"] = occ["cancelled"] | called_off
    missed = occ["cancelled"] | (occ["declined_by"] > 0)
    made_up = missed & ~inside & (rng.random(len(occ)) < 0.05)
    one_offs = occ.loc[made_up, ["m", "r", "original_start"]].reset_index(drop=True)
    one_offs["start"] = one_offs.pop("original_start") + pd.Timedelta(days=2)
    one_offs["uid"] = "mu" + pd.Series(np.arange(len(one_offs))).astype(str)
    return people, absences, occ, one_offs


def _extra_rows(
    absences: pd.DataFrame, one_offs: pd.DataFrame, seen: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event and attendee rows of the absences (one calendar, no attendees) and the make-up
    one-offs (both calendars, no series)."""
    fmt = stored
    oof_id = "oof" + pd.Series(np.arange(len(absences))).astype(str)
    events = [pd.DataFrame({
        "source": "g", "mailbox": absences["person"], "event_id": oof_id, "series_id": None,
        "ical_uid": oof_id, "original_start": fmt(absences["start"]),
        "start": fmt(absences["start"]), "end": fmt(absences["end"]), "all_day": 1,
        "event_type": "outOfOffice", "status": "confirmed", "organizer": absences["person"],
        "recurrence": None, "source_updated": seen, "cancelled_at": None,
        "cancel_seen_at": None, "first_seen": seen, "last_seen": seen,
    })]  # fmt: skip
    attendees = []
    start, end = fmt(one_offs["start"]), fmt(one_offs["start"] + pd.Timedelta(minutes=30))
    for mailbox in (one_offs["m"], one_offs["r"]):
        events.append(pd.DataFrame({
            "source": "g", "mailbox": mailbox, "event_id": one_offs["uid"], "series_id": None,
            "ical_uid": one_offs["uid"], "original_start": start, "start": start, "end": end,
            "all_day": 0, "event_type": "default", "status": "confirmed",
            "organizer": one_offs["m"], "recurrence": None, "source_updated": seen,
            "cancelled_at": None, "cancel_seen_at": None, "first_seen": seen, "last_seen": seen,
        }))  # fmt: skip
        for who in (one_offs["m"], one_offs["r"]):
            attendees.append(pd.DataFrame({
                "source": "g", "mailbox": mailbox, "event_id": one_offs["uid"], "email": who,
                "response": "accepted", "is_organizer": (who == one_offs["m"]).astype(int),
                "is_resource": 0, "optional": 0, "response_at": None, "response_seen_at": None,
                "last_seen": seen,
            }))  # fmt: skip
    return pd.concat(events), pd.concat(attendees)


def write_store(
    path: Path,
    people: pd.DataFrame,
    occ: pd.DataFrame,
    absences: pd.DataFrame | None = None,
    one_offs: pd.DataFrame | None = None,
) -> int:
    """Bulk-insert people, events (a copy per calendar) and attendees; returns event rows."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    seen = int(stored(pd.Series([pd.Timestamp("2026-05-01", tz="UTC")])).iloc[0])
    fmt = stored
    ostart, start = fmt(occ["original_start"]), fmt(occ["start"])
    end = fmt(occ["start"] + pd.Timedelta(minutes=30))
    updated = fmt(occ["original_start"] - pd.Timedelta(hours=30))
    organizer = np.where(occ["organizer_is_report"], occ["r"], occ["m"])
    uid = "s" + occ["sid"].astype(str)
    status = np.where(occ["cancelled"], "cancelled", "confirmed")
    rule = np.where(occ["every"] == 1, "RRULE:FREQ=WEEKLY", "RRULE:FREQ=WEEKLY;INTERVAL=2")
    rule = np.where(occ["every"] == 4, "RRULE:FREQ=MONTHLY", rule)
    event_id = uid + "_" + occ["original_start"].dt.strftime("%Y%m%dT%H%M%SZ")
    events, attendees = [], []
    for mailbox in (occ["m"], occ["r"]):
        events.append(pd.DataFrame({
            "source": "g", "mailbox": mailbox, "event_id": event_id, "series_id": uid,
            "ical_uid": uid, "original_start": ostart, "start": start, "end": end,
            "all_day": 0, "event_type": "default", "status": status, "organizer": organizer,
            "recurrence": rule, "source_updated": updated,
            "cancelled_at": np.where(occ["cancelled"], updated, None), "cancel_seen_at": None,
            "first_seen": seen, "last_seen": seen,
        }))  # fmt: skip
        for who, code in ((occ["m"], 1), (occ["r"], 2)):
            declined = occ["declined_by"] == code
            attendees.append(pd.DataFrame({
                "source": "g", "mailbox": mailbox, "event_id": event_id, "email": who,
                "response": np.where(declined, "declined", "accepted"),
                "is_organizer": (who == organizer).astype(int), "is_resource": 0, "optional": 0,
                "response_at": np.where(declined, updated, None), "response_seen_at": None,
                "last_seen": seen,
            }))  # fmt: skip
    if absences is not None and one_offs is not None:
        more_events, more_attendees = _extra_rows(absences, one_offs, seen)
        events.append(more_events)
        attendees.append(more_attendees)
    ev, att = pd.concat(events), pd.concat(attendees)
    columns = [c for c in ("email", "name", "manager_email", "country", "timezone")
               if c in people.columns]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.executemany(
            f"INSERT INTO people ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            people[columns].itertuples(index=False),
        )
        cols = ", ".join(f'"{c}"' for c in ev.columns)
        marks = ", ".join("?" * len(ev.columns))
        conn.executemany(f"INSERT INTO events ({cols}) VALUES ({marks})",
                         ev.itertuples(index=False))  # fmt: skip
        cols = ", ".join(f'"{c}"' for c in att.columns)
        marks = ", ".join("?" * len(att.columns))
        conn.executemany(f"INSERT INTO attendees ({cols}) VALUES ({marks})",
                         att.itertuples(index=False))  # fmt: skip
    return len(ev)


def every_figure(frames: StoreFrames, params: Params, engine_kind: str) -> HealthResult:
    """``compute_frames`` with its trends, which it leaves to be computed on first use."""
    result = compute_frames(frames, params, engine_kind=engine_kind)
    _ = result.trends
    return result


def run(n: int, engine_kind: str, folder: Path, variant: str) -> tuple[float, int]:
    """One size and variant: builds its store here, measures it in a fresh process (so that its
    peak resident memory is the pipeline's alone, not the generator's), prints its line,
    returns the compute time and peak."""
    rng = np.random.default_rng(n)
    people = org_chart(n, rng)
    occ = meetings(people, rng)
    path = folder / f"bench_{n}_{variant}.db"
    absences = one_offs = None
    if variant == "away":
        people, absences, occ, one_offs = away_time(people, occ, np.random.default_rng(n + 1))
    t = time.perf_counter()
    rows = write_store(path, people, occ, absences, one_offs)
    build = time.perf_counter() - t
    occurrences = len(occ)
    del people, occ, absences, one_offs
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        m = pool.submit(measure, path, engine_kind).result()
    print(
        f"{variant:>5} people={n:>6} pairs={m['pairs']:>6} with_1:1s={m['with_1on1']:>6} "
        f"event_rows={rows:>8} missed={m['missed']} made_up={m['made_up']} "
        f"excused={m['excused']} pairs_with_away_time={m['away_pairs']} "
        f"occurrences={occurrences:>7} "
        f"| build {build:6.1f}s | load {m['load']:6.2f}s (first {m['first_load']:.2f}s) "
        f"| compute {m['compute']:6.2f}s (runs {m['runs'][0]:.2f}s, {m['runs'][1]:.2f}s) "
        f"traced peak {m['compute_peak'] / 2**20:6.0f} MiB "
        f"| load+compute {m['load'] + m['compute']:6.2f}s "
        f"| {m['managers']} manager + {m['directors']} director views {m['views']:6.1f}s "
        f"| peak resident {m['rss']:5.0f} MiB, reader {m['reader_rss']:4.0f} MiB, "
        f"both at once {m['together']:5.0f} MiB",
        flush=True,
    )
    return m["compute"], m["compute_peak"]


def measure(path: Path, engine_kind: str) -> dict[str, Any]:
    """In a fresh process: load (best of two reads; the first also starts SQLite's reader
    process), compute (best of two), every view; the process's peak resident memory and the
    reader's."""
    engine = make_engine(f"sqlite:///{path}")
    params = params_for(parse_config({}), AS_OF)
    sampler = ResidentSampler()
    sampler.start()
    loads = []
    frames = None
    for _ in range(2):
        frames = None  # one read's frames held at a time, as in a report run
        t = time.perf_counter()
        frames = load_frames(engine, params.load_since)
        loads.append(time.perf_counter() - t)
    assert frames is not None
    # The machine is shared: the best of two runs is the pipeline's own cost.
    times = []
    result = None
    for _ in range(2):
        result = None
        t = time.perf_counter()
        result = every_figure(frames, params, engine_kind)
        times.append(time.perf_counter() - t)
    result = None
    tracemalloc.start()
    result = every_figure(frames, params, engine_kind)
    _, compute_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    t = time.perf_counter()
    for email in result.managers():
        manager_view(result, email)
    for email in result.directors():
        director_view(result, email)
    views = time.perf_counter() - t
    sampler.stop()
    engine.dispose()
    direct = result.pairs[result.pairs["kind"] == "pair"]
    counts = result.pairs[["missed", "made_up", "excused"]].sum()
    return {
        "pairs": len(direct),
        "with_1on1": int((direct["scheduled"] > 0).sum()),
        "missed": int(counts["missed"]),
        "made_up": int(counts["made_up"]),
        "excused": int(counts["excused"]),
        "away_pairs": int((result.pairs["away_days"] > 0).sum()),
        "load": min(loads),
        "first_load": loads[0],
        "compute": min(times),
        "runs": times,
        "compute_peak": compute_peak,
        "views": views,
        "managers": len(result.managers()),
        "directors": len(result.directors()),
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10,
        "reader_rss": reader_child_peak() or 0.0,
        "together": sampler.peak / 2**20,
    }


class ResidentSampler(threading.Thread):
    """The peak of this process's and the SQLite reader's resident memory together, sampled
    every 10 ms: each process's own peak is reached at a different step (the reader's while it
    reads, this one's while it computes), and the sum of the two peaks overstates what the
    machine needs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.01):
            child = arrow_reads.CHILD._child
            pids = ["self"] + ([str(child.pid)] if child is not None else [])
            self.peak = max(self.peak, sum(resident(pid) for pid in pids))

    def stop(self) -> None:
        self._done.set()
        self.join()


def resident(pid: str, field: str = "VmRSS") -> int:
    """A process's resident memory in bytes: now (``VmRSS``) or at its peak (``VmHWM``); 0 once
    it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=[5000, 10000, 20000])
    parser.add_argument("--engine", default="pandas", choices=["pandas", "dask"])
    parser.add_argument("--variants", nargs="+", default=["plain", "away"],
                        choices=["plain", "away"])  # fmt: skip
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    with tempfile.TemporaryDirectory() as folder:
        for n in args.people:
            got = {v: run(n, args.engine, Path(folder), v) for v in args.variants}
            if len(got) == 2:
                (t0, m0), (t1, m1) = got["plain"], got["away"]
                print(f"  away / plain at {n}: compute {t1 / t0:.2f}x, peak {m1 / m0:.2f}x")


def reader_child_peak() -> float | None:
    """The peak resident memory (MiB) of the process that reads SQLite for cadence, if any."""
    child = arrow_reads.CHILD._child
    return None if child is None else resident(str(child.pid), "VmHWM") / 2**20


if __name__ == "__main__":
    main()
