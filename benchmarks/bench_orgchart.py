"""How fast the org chart is read, checked, stored and queried, for a company of N people.

Builds a random chart of N people (default 20,000; managers with 3 to 12 reports, about six
levels, a third of people with an alias, managers sometimes given by alias), writes it as a CSV
and times each step: ``parse_csv`` (read and validate), ``build_hierarchy``, every director's
``org_of``, ``skip_level_pairs``, then ``replace_chart`` twice (the second replaces the first)
and ``load_chart`` on SQLite and on PostgreSQL. Everything here should be well under a second
at 20,000 people: no step is quadratic.

Usage: ``python benchmarks/bench_orgchart.py [--people N] [--only sqlite|postgresql]``.
PostgreSQL is reached at ``$CADENCE_TEST_POSTGRES_URL`` (default: the local server, database
``test``, used only to create and drop the benchmark's own database); it is skipped with a
message when no server answers.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "people.csv"
        write_chart(csv_path, args.people)
        print(f"{args.people} people:")
        people = timed("parse_csv (read + validate)", lambda: parse_csv(csv_path))
        h = timed("build_hierarchy", lambda: build_hierarchy(people))
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
