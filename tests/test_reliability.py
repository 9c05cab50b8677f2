"""Nothing is lost: a nightly killed at random points and rerun ends exactly where an
uninterrupted run does, and no sync token is ever ahead of its events.

Each kill runs ``tests/kill_child.py`` in a child process against both stand-ins; it dies with
``os._exit`` at the k-th kill point (inside a page's transaction, after a page's commit, before
a report file). ``CADENCE_KILL_POINTS`` sets how many random points are tried (default 8).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cadence.config import load_config
from cadence.orgchart import parse_csv
from cadence.sandbox.company import Company, build_company
from cadence.sandbox.demo import GOOGLE, MICROSOFT, Served, serve, write_people
from cadence.sandbox.world import ManualClock, World
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Attendee, Event, SyncState
from cadence.store.people import replace_chart
from live_company import cron_env

CHILD = Path(__file__).with_name("kill_child.py")
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
KILL_POINTS = int(os.environ.get("CADENCE_KILL_POINTS", "8"))


@dataclass
class Stage:
    served: Served
    company: Company
    people: Path

    def fresh_database(self, folder: Path) -> str:
        folder.mkdir()
        url = f"sqlite:///{folder / 'cadence.db'}"
        config = load_config(self.served.config_path, database_url=url)
        engine = make_engine(url)
        upgrade(engine)
        replace_chart(engine, parse_csv(self.people, sources=config.sources))
        engine.dispose()
        return url

    def nightly(self, url: str, kill_at: int) -> subprocess.CompletedProcess[str]:
        env = cron_env(self.served.config_path, url)
        # Each database writes its reports beside itself.
        folder = Path(url.removeprefix("sqlite:///")).parent
        return subprocess.run(
            [sys.executable, str(CHILD), str(kill_at), NOW.isoformat()],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    folder = tmp_path_factory.mktemp("stage")
    world = World(ManualClock(NOW))
    company = build_company(world, size=16, seed=23, sources=(GOOGLE, MICROSOFT))
    people = write_people(folder / "people.csv", company)
    with serve(world, folder) as served:
        # Reports go beside each run's database: a relative out_dir, run from its folder.
        yield Stage(served, company, people)


def snapshot(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        events = sorted(tuple(r) for r in conn.execute(select(Event.__table__)))
        attendees = sorted(tuple(r) for r in conn.execute(select(Attendee.__table__)))
        states = sorted(
            (s["source"], s["mailbox"], s["token"] is not None, s["window_start"], s["window_end"])
            for s in conn.execute(select(SyncState.__table__)).mappings()
        )
    engine.dispose()
    return {"events": events, "attendees": attendees, "states": states}


def reports(url: str) -> dict[str, bytes]:
    root = Path(url.removeprefix("sqlite:///")).parent / "reports"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def reference(stage: Stage, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    url = stage.fresh_database(tmp_path_factory.mktemp("reference") / "db")
    done = stage.nightly(url, kill_at=0)
    assert done.returncode == 0, done.stderr
    return url, int(done.stdout.strip())


def test_kill_anywhere_then_rerun_equals_an_uninterrupted_run(
    stage: Stage, reference: tuple[str, int], tmp_path: Path
) -> None:
    url, points = reference
    expected, expected_reports = snapshot(url), reports(url)
    rng = random.Random(20261125)
    kills = sorted(rng.sample(range(1, points + 1), min(KILL_POINTS, points)))
    for n, kill_at in enumerate(kills):
        killed = stage.fresh_database(tmp_path / f"kill-{n}")
        died = stage.nightly(killed, kill_at)
        assert died.returncode == 137, (kill_at, died.stderr)
        half = snapshot(killed)
        # No token ahead of its events: a mailbox with a token has every event it covers.
        for source, mailbox, has_token, *_ in half["states"]:
            if has_token:
                mine = [e for e in half["events"] if e[:2] == (source, mailbox)]
                assert mine == [e for e in expected["events"] if e[:2] == (source, mailbox)]
        rerun = stage.nightly(killed, kill_at=0)
        assert rerun.returncode == 0, (kill_at, rerun.stderr)
        assert snapshot(killed) == expected, f"killed at point {kill_at} of {points}"
        assert reports(killed) == expected_reports, f"killed at point {kill_at} of {points}"
