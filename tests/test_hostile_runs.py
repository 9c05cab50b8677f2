"""Failures look like failures: a nightly that breaks while writing reports is recorded as failed,
with its step, in `cadence status` (which then exits 1), and two syncs (or a sync during the
nightly) never run at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cadence.store.database import make_engine
from cadence.store.lock import run_lock
from live_company import Live, start


@pytest.fixture
def live(tmp_path: Path, db_url: str) -> Iterator[Live]:
    yield from start(tmp_path, db_url)


def _week_folder(live: Live) -> Path:
    year, week, _ = datetime.now(UTC).isocalendar()
    return live.folder / "reports" / f"{year}-W{week:02d}"


def _block_reports_with_a_file(live: Live) -> None:
    (live.folder / "reports").write_text("not a folder")


def _block_the_week_with_a_file(live: Live) -> None:
    week = _week_folder(live)
    week.parent.mkdir(parents=True, exist_ok=True)
    week.write_text("not a folder")


@pytest.mark.parametrize(
    "block", [_block_reports_with_a_file, _block_the_week_with_a_file], ids=["out-dir", "week"]
)
def test_a_nightly_that_fails_writing_reports_is_recorded_as_failed(live: Live, block) -> None:
    block(live)
    result = live.cadence("nightly", "--quiet")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    status = live.cadence("status", "--json")
    assert status.returncode == 1, status.stdout
    run = json.loads(status.stdout)["last_run"]
    assert run["command"] == "nightly" and run["finished_at"] is not None
    summary = run["summary"]
    assert summary["outcome"] == "failed" and summary["failed_step"] == "reports"
    assert "\n" not in summary["error"] and str(live.folder / "reports") in summary["error"]
    # The sync before it did its work, and says so.
    assert summary["mailboxes_synced"] == len(live.company.people)
    table = live.cadence("status")
    assert table.returncode == 1 and "failed in reports" in table.stdout


def test_a_nightly_that_went_well_is_ok(live: Live) -> None:
    assert live.cadence("nightly", "--quiet").returncode == 0
    status = live.cadence("status", "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["last_run"]["summary"]["outcome"] == "ok"


@pytest.mark.parametrize("holder", ["nightly", "sync"])
def test_a_sync_while_another_run_holds_the_lock_is_refused(live: Live, holder: str) -> None:
    engine = make_engine(live.database_url)
    try:
        with run_lock(engine, holder):
            result = live.cadence("sync")
    finally:
        engine.dispose()
    assert result.returncode == 1, result.stderr
    assert f"cadence {holder} pid" in result.stderr and "Traceback" not in result.stderr
    assert live.served.google.total == 0 and live.served.graph.total == 0
    # Refused before it started: no run was recorded.
    assert json.loads(live.cadence("status", "--json").stdout)["last_run"] is None


def test_a_nightly_while_a_sync_runs_is_refused(live: Live) -> None:
    engine = make_engine(live.database_url)
    try:
        with run_lock(engine, "sync"):
            result = live.cadence("nightly")
    finally:
        engine.dispose()
    assert result.returncode == 1 and "cadence sync pid" in result.stderr
    assert live.served.google.total == 0


def test_an_empty_shard_says_so(live: Live) -> None:
    from cadence.jobs.sync import in_shard

    emails = [p.email for p in live.company.people]
    count = 200
    empty = next(i for i in range(1, count + 1) if not any(in_shard(e, (i, count)) for e in emails))
    result = live.cadence("nightly", "--shard", f"{empty}/{count}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"shard {empty}/{count} holds none of the {len(emails)} mailboxes" in result.stderr
    assert "load the org chart" not in result.stderr
    assert live.served.google.total == 0 and live.served.graph.total == 0
