"""How fast the org chart is read, checked, stored and queried, for a company of N people.

Builds a random chart of N people (default 20,000; managers with 3 to 12 reports, about six
levels, a third of people with an alias, managers sometimes given by alias), writes it as a CSV
and times each step: ``parse_csv`` (read and validate), ``build_hierarchy``, every director's
``org_of``, ``skip_level_pairs``, then ``replace_chart`` twice (the second replaces the first)
and ``load_chart`` on SQLite and on PostgreSQL. Everything here should be well under a second
at 20,000 people: no step is quadratic.

``--shape chain`` makes the deepest chart instead: one reporting line N people long, where every
walk of the chart (who is below whom) is longest; the walk must stay linear in what it returns
(N * (N - 1) / 2 (person, ancestor) rows). Each run also times the floor: reading the same CSV
with the csv module alone, and prints build_hierarchy's time as a ratio of it.

Usage: ``python benchmarks/bench_orgchart.py [--people N] [--shape tree|chain]
[--only sqlite|postgresql]``.
PostgreSQL is reached at ``$CADENCE_TEST_POSTGRES_URL`` (default: the local server, database
``test``, used only to create and drop the benchmark's own database); it is skipped with a
message when no server answers.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cadence.normalised import OrgPerson
from cadence.orgchart import build_hierarchy, parse_csv
from cadence.store.database import make_engine, upgrade
from cadence.store.people import load_chart, replace_chart

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T = TypeVar("T")


def timed(label: str, f: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = f()
    print(f"  {label:<40} {time.perf_counter() - start:8.3f} s")
    return result


def write_chart(path: Path, n: int, seed: int = 7) -> None:
    """A random company of ``n`` people as an org CSV."""
    rng = random.Random(seed)
    emails = [f"person{i}@acme.example" for i in range(n)]
    aliases = {e: f"alt.{e}" for e in emails if rng.random() < 0.33}
    rows = [
        "email,name,manager_email,team,aliases",
        f"{emails[0]},Person 0,,top,{aliases.get(emails[0], '')}",
    ]
    managers = [emails[0]]
    room = {emails[0]: rng.randint(3, 12)}
    for i in range(1, n):
        boss = managers[0]
        room[boss] -= 1
        if room[boss] == 0:
            managers.pop(0)  # breadth first: fill each manager, then the next level
        given = aliases.get(boss, boss) if rng.random() < 0.2 else boss
        rows.append(f"{emails[i]},Person {i},{given},team{i % 50},{aliases.get(emails[i], '')}")
        managers.append(emails[i])
        room[emails[i]] = rng.randint(3, 12)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def write_chain(path: Path, n: int) -> None:
    """One reporting line of ``n`` people: person 0 manages person 1, who manages person 2..."""
    rows = ["email,name,manager_email", "person0@acme.example,Person 0,"]
    rows += [f"person{i}@acme.example,Person {i},person{i - 1}@acme.example" for i in range(1, n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def read_plain(path: Path) -> int:
    """The floor: the same rows read by the fastest plain means, the csv module."""
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f))


def materialise(people: int, rows: int) -> float:
    """The other floor: seconds to build a frame of ``rows`` (person, ancestor) email pairs, the
    least any walk that returns them must spend."""
    import numpy as np
    import pandas as pd

    names = np.asarray([f"person{i}@acme.example" for i in range(people)], dtype=object)
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, people, rows), rng.integers(0, people, rows)
    start = time.perf_counter()
    order = np.lexsort((a, b))
    pd.DataFrame({"person": names[a[order]], "ancestor": names[b[order]]})
    return time.perf_counter() - start


def store(name: str, url: str, people: list[OrgPerson]) -> None:
    print(f"{name}:")
    engine = make_engine(url)
    upgrade(engine)
    timed("replace_chart (empty store)", lambda: replace_chart(engine, people))
    timed("replace_chart (re-import)", lambda: replace_chart(engine, people))
    loaded = timed("load_chart", lambda: load_chart(engine))
    assert len(loaded) == len(people)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--shape", choices=["tree", "chain"], default="tree")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "people.csv"
        (write_chain if args.shape == "chain" else write_chart)(csv_path, args.people)
        print(f"{args.people} people ({args.shape}):")
        start = time.perf_counter()
        read_plain(csv_path)
        floor = time.perf_counter() - start
        print(f"  {'floor: csv.reader over the file':<40} {floor:8.3f} s")
        people = timed("parse_csv (read + validate)", lambda: parse_csv(csv_path))
        start = time.perf_counter()
        h = build_hierarchy(people)
        walk = time.perf_counter() - start
        below = len(h.lines.below)
        rows_floor = materialise(len(people), below)
        print(f"  {'floor: the walk output as a frame':<40} {rows_floor:8.3f} s  ({below} rows)")
        print(
            f"  {'build_hierarchy (every walk)':<40} {walk:8.3f} s"
            f"  = {walk / floor:.1f}x reading the CSV, {walk / rows_floor:.1f}x making its output"
        )
        directors = h.directors()
        sizes = timed(
            f"org_of for all {len(directors)} directors",
            lambda: [len(h.org_of(d)) for d in directors],
        )
        skips = timed("skip_level_pairs", h.skip_level_pairs)
        print(
            f"  ({len(h.managers())} managers, {len(skips)} skip-level pairs, "
            f"largest org {max(sizes, default=0)})"
        )
        if args.only != "postgresql":
            store("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", people)
    if args.only == "sqlite":
        return
    admin_url = os.environ.get("CADENCE_TEST_POSTGRES_URL", DEFAULT_PG)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        print(
            f"postgresql skipped: not reachable at {make_url(admin_url).render_as_string()}: {exc}"
        )
        return
    name = f"cadence_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        store("postgresql", url, people)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
