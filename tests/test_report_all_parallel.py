"""``report all`` on several processes writes exactly what it writes on one: the same files,
byte for byte, the same index and the same saved figures, in the same order."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cadence.config import parse_config
from cadence.jobs import report_all
from cadence.jobs.figures import results
from cadence.jobs.report_all import publish_all
from cadence.store.database import make_engine
from cadence.store.saved import saved_subjects, saved_view
from pipeline.builders import AS_OF, add_people, at, changed, store, weekly


def _org() -> list[tuple[str, str, str | None]]:
    """Three levels: a top, six managers of four each (m0 and m1, below the top, manage the
    other four managers)."""
    rows: list[tuple[str, str, str | None]] = [("top@acme.test", "Top", None)]
    for m in range(6):
        boss = "top@acme.test" if m < 2 else f"m{m % 2}@acme.test"
        rows.append((f"m{m}@acme.test", f"Manager {m}", boss))
        rows += [(f"r{m}-{i}@acme.test", f"Report {m}.{i}", f"m{m}@acme.test") for i in range(4)]
    return rows


@pytest.fixture
def db(sqlite_url: str) -> Engine:
    engine = make_engine(sqlite_url)
    rows = _org()
    add_people(engine, rows)
    meetings = []
    for n, (email, _, manager) in enumerate(rows):
        if manager:
            status = "cancelled" if n % 5 == 0 else "confirmed"
            meetings += weekly(f"s-{email}", at(70), 12, people=(manager, email), organizer=manager)
            meetings[-3] = changed(meetings[-3], status=status)
    store(engine, meetings)
    return engine


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))}


def test_many_processes_write_what_one_does(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config({"report": {"min_group_size": 2}})
    computed = results(db, config, AS_OF, None)
    outputs = {}
    saved = {}
    seen: dict[int, list[str]] = {}
    for workers in (1, 2):
        # Chunks of two reports, and more than one process from the smallest run.
        monkeypatch.setattr(report_all, "CHUNK", 2)
        monkeypatch.setattr(report_all, "PARALLEL_FROM", 2)
        seen[workers] = []
        summary, _ = publish_all(
            db,
            config,
            as_of=AS_OF,
            window_weeks=None,
            formats=["md", "html", "json", "csv"],
            out_dir=tmp_path / f"w{workers}",
            computed=computed,
            workers=workers,
            progress=lambda w, n=workers: seen[n].append(w.email),
        )
        outputs[workers] = _files(summary.folder)
        week = summary.folder.name
        saved[workers] = {s: saved_view(db, week, *s) for s in saved_subjects(db, week)}
    # Four formats of 3 directors (top, m0, m1) and 7 managers, and the index in two.
    assert len(outputs[1]) == 4 * (3 + 7) + 2
    assert outputs[2] == outputs[1]
    assert saved[2] == saved[1]
    assert seen[2] == seen[1] and len(seen[1]) == 10
