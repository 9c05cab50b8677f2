"""``cadence nightly`` against both stand-ins: sync then reports, exit codes, JSON logs, the
lock between concurrent runs, and shards that split the mailboxes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadence.jobs.sync import in_shard
from cadence.sandbox.demo import GOOGLE, SECRET_ENV
from cadence.sandbox.server import Fault
from cadence.store.database import make_engine
from live_company import CADENCE, Live, cron_env, start


@pytest.fixture
def live(tmp_path: Path, sqlite_url: str) -> Iterator[Live]:
    yield from start(tmp_path, sqlite_url)


def test_nightly_syncs_then_writes_every_report(live: Live) -> None:
    result = live.cadence("nightly")
    assert result.returncode == 0, result.stderr
    people = len(live.company.people)
    assert f"nightly: {people} mailboxes synced, 0 failed" in result.stderr
    reports = list((live.folder / "reports").glob("*/index.html"))
    assert len(reports) == 1
    managers = len(list(reports[0].parent.glob("manager-*.html")))
    assert managers == len(live.company.managers)
    status = live.cadence("status", "--json")
    assert status.returncode == 0
    run = json.loads(status.stdout)["last_run"]
    assert run["command"] == "nightly"
    assert run["summary"]["mailboxes_synced"] == people
    assert run["summary"]["reports_written"] == len(live.company.managers) + len(
        live.company.directors
    )


def test_failed_mailboxes_are_named_and_exit_3(live: Live) -> None:
    victim = next(p.email for p in live.company.people if p.source == GOOGLE)
    live.served.google.fault(
        Fault(status=403, kind="events.list", mailbox=victim, times=None, body={"error": {}})
    )
    result = live.cadence("nightly", "--quiet")
    assert result.returncode == 3
    assert f"{GOOGLE}: {victim}:" in result.stderr
    assert "reports written" not in result.stderr  # --quiet: only the errors
    assert list((live.folder / "reports").glob("*/index.html")), "the reports still go out"
    status = live.cadence("status", "--failed")
    assert status.returncode == 3 and victim in status.stdout


def test_json_logs_are_one_object_a_line(live: Live) -> None:
    result = live.cadence("nightly", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    summary = next(e for e in entries if e.get("event") == "summary")
    assert summary["mailboxes_synced"] == len(live.company.people)
    assert summary["level"] == "info" and summary["logger"] == "cadence.nightly"
    secret = os.environ[SECRET_ENV]
    assert secret not in result.stderr


def test_a_missing_secret_fails_before_any_mailbox_is_read(live: Live) -> None:
    env_secret = os.environ.pop(SECRET_ENV)
    try:
        result = live.cadence("nightly")
    finally:
        os.environ[SECRET_ENV] = env_secret
    assert result.returncode == 2
    assert "client_secret_env names $CADENCE_DEMO_M365_SECRET, which is not set" in result.stderr
    assert live.served.google.total == 0 and live.served.graph.total == 0


def test_concurrent_nightly_runs_one_runs_one_refuses(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy import text

    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        for table in ("attendees", "events", "sync_state", "mailboxes", "runs", "aliases"):
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    for live in start(tmp_path, postgres_url, latency=0.15):
        env = cron_env(live.served.config_path, postgres_url)
        runs = [
            subprocess.Popen(
                [*CADENCE, "nightly"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outcomes = sorted((p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in runs)
        (ok, ok_err), (refused, refused_err) = outcomes
        assert ok == 0, ok_err
        assert refused == 1
        assert "another run holds the database lock: cadence nightly pid" in refused_err


def test_sharded_nightly_syncs_its_share_and_leaves_reports(live: Live) -> None:
    first = live.cadence("nightly", "--shard", "1/2")
    second = live.cadence("nightly", "--shard", "2/2")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    synced = [int(r.stderr.split("nightly: ")[1].split(" ")[0]) for r in (first, second)]
    assert sum(synced) == len(live.company.people) and all(synced)
    assert "run `cadence report all` once every shard is done" in first.stderr
    assert not (live.folder / "reports").exists()
    bad = live.cadence("nightly", "--shard", "3/2")
    assert bad.returncode == 2 and "--shard" in bad.stderr


@given(st.lists(st.emails(), min_size=1, max_size=50), st.integers(1, 8))
def test_shards_split_mailboxes_exactly_once(mailboxes: list[str], count: int) -> None:
    for mailbox in mailboxes:
        owners = [i for i in range(1, count + 1) if in_shard(mailbox, (i, count))]
        assert len(owners) == 1


def test_a_source_that_is_down_fails_fast_and_the_other_still_syncs(live: Live) -> None:
    """Every Google mailbox fails: after the first ten, the rest are not tried, each named."""
    from dataclasses import replace

    from cadence.config import load_config
    from cadence.connectors.kinds import connect
    from cadence.connectors.retry import RetryPolicy
    from cadence.jobs.sync import run_sync

    config = load_config(live.served.config_path, database_url=live.database_url)
    config = replace(config, sync=replace(config.sync, concurrency=1))
    no_wait = RetryPolicy(max_retries=2, sleep=lambda _: None)
    live.served.google.fault(Fault(action="drop", kind="events.list", times=None))
    engine = make_engine(live.database_url)
    summary = run_sync(config, engine, connect=lambda c, name: connect(c, name, no_wait))
    engine.dispose()
    google = sorted(p.email for p in live.company.people if p.source == GOOGLE)
    assert sorted(r.mailbox for r in summary.failed) == google
    skipped = [r for r in summary.failed if (r.error or "").startswith("not tried: ")]
    assert len(skipped) == len(google) - 10 and all(r.requests == 0 for r in skipped)
    assert "none succeeded (last: " in (skipped[0].error or "")
    assert len(summary.ok) == len(live.company.people) - len(google)
    # The stand-in never heard from the mailboxes that were not tried.
    assert all(live.served.google.by_mailbox[r.mailbox] == 0 for r in skipped)


def test_a_cluster_nightly_on_sqlite_is_one_line_and_reads_nothing(live: Live) -> None:
    result = live.cadence("nightly", "--scheduler", "tcp://127.0.0.1:9")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "must be PostgreSQL to sync on a cluster" in lines[0]
    assert "Traceback" not in result.stderr
    assert live.served.google.total == 0 and live.served.graph.total == 0
