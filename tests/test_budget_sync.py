"""A sync within its sources' request budgets: the stand-ins, given the same budget as their
quota, refuse nothing, on SQLite (the bucket in the process) and PostgreSQL (a row every host
shares); a budget of 0 sends at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cadence.config import load_config
from cadence.jobs.sync import run_sync
from cadence.store.database import make_engine
from live_company import Live, start

PER_MINUTE = 600  # 10 a second


@pytest.fixture
def live(tmp_path: Path, db_url: str) -> Iterator[Live]:
    yield from start(tmp_path, db_url)


def test_a_sync_within_its_budget_is_refused_nothing(live: Live) -> None:
    # The stand-ins' burst is two seconds of the budget (cadence's own is one): any client
    # faster than 10 a second past its first 20 requests is refused.
    _quota(live)
    config = load_config(live.served.config_path, database_url=live.database_url)
    sources = {n: replace(s, requests_per_minute=PER_MINUTE) for n, s in config.sources.items()}
    config = replace(config, sources=sources)
    started = time.monotonic()
    summary = run_sync(config, _engine(live))
    elapsed = time.monotonic() - started
    assert not summary.failed
    assert live.served.google.quota_refused == 0 and live.served.graph.quota_refused == 0
    google_calls = live.served.google.total - live.served.google.by_kind["token"]
    assert google_calls > 4 * PER_MINUTE / 60, "enough calls that an unpaced sync is refused"
    # Paced: the calls past the first second's came at no more than 10 a second.
    assert elapsed >= (google_calls - PER_MINUTE / 60) / (PER_MINUTE / 60) - 0.5


def test_unpaced_the_same_sync_is_refused(live: Live) -> None:
    """The control: the stand-ins' quota as above, cadence's budgets off."""
    _quota(live)
    config = load_config(live.served.config_path, database_url=live.database_url)
    sources = {n: replace(s, requests_per_minute=0) for n, s in config.sources.items()}
    config = replace(config, sources=sources, sync=replace(config.sync, max_retries=0))
    run_sync(config, _engine(live))
    assert live.served.google.quota_refused + live.served.graph.quota_refused > 0


def _quota(live: Live) -> None:
    for stand_in in (live.served.google, live.served.graph):
        stand_in.quota_per_minute = PER_MINUTE
        stand_in.quota_burst = 2 * PER_MINUTE / 60


def _engine(live: Live) -> Engine:
    return make_engine(live.database_url)
