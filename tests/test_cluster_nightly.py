"""The nightly on a Dask cluster: a worker killed mid-sync loses nothing, and the store and the
reports end as after an uninterrupted nightly on one process; the sources' request budgets are
shared by every process; bad use is refused."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from cadence.config import Config, load_config
from cadence.errors import UsageError
from cadence.jobs.cluster import by_team
from cadence.jobs.nightly import run_nightly
from cadence.orgchart import parse_csv
from cadence.sandbox.company import build_company
from cadence.sandbox.demo import GOOGLE, MICROSOFT, SECRET_ENV, Served, serve, write_people
from cadence.sandbox.world import World
from cadence.store.budget import open_budget
from cadence.store.database import make_engine, upgrade
from cadence.store.people import replace_chart

distributed = pytest.importorskip("distributed")

# Noon on a Wednesday: both nights see the same instant, so what they store can be compared.
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
now = partial(datetime.fromtimestamp, NOW.timestamp(), UTC)  # picklable for the workers


def _new_database(admin_url: str) -> Iterator[str]:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"cadence_cluster_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def two_databases(postgres_url: str) -> Iterator[tuple[str, str]]:
    first = _new_database(postgres_url)
    second = _new_database(postgres_url)
    yield next(first), next(second)
    for made in (first, second):
        next(made, None)


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    folder = tmp_path_factory.mktemp("cluster")
    world = World(clock=lambda: NOW)
    built = build_company(world, size=24, seed=5, sources=(GOOGLE, MICROSOFT))
    people = write_people(folder / "people.csv", built)
    # Each request takes a while, so a batch is still running when its worker is killed.
    with serve(world, folder, latency=0.03) as served:
        yield served, people


def _config(served: Served, url: str, out: Path) -> Config:
    config = load_config(served.config_path, database_url=url)
    return replace(
        config,
        sync=replace(config.sync, batch_mailboxes=3, concurrency=2),
        report=replace(config.report, formats=("json",), out_dir=str(out)),
    )


def _store(url: str, config: Config, people: Path) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    replace_chart(engine, parse_csv(people, sources=config.sources))
    return engine


def _configured_store(
    company: tuple[Served, Path], url: str, tmp_path: Path
) -> tuple[Config, Engine]:
    served, people = company
    config = _config(served, url, tmp_path / "out")
    return config, _store(url, config, people)


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row the sync writes, but what only counts this run's work (requests made, events
    changed by the round that finished a mailbox), the run log, and the saved token's text:
    Graph hands out a new opaque delta link for each listing, so only its presence is kept."""
    queries = {
        "events": "SELECT * FROM events ORDER BY source, mailbox, event_id",
        "attendees": "SELECT * FROM attendees ORDER BY source, mailbox, event_id, email",
        "sync_state": (
            "SELECT source, mailbox, token IS NOT NULL, window_start, window_end, first_synced_at, "
            "last_run_at, last_success_at, outcome, error FROM sync_state ORDER BY 1, 2"
        ),
        "saved_views": "SELECT kind, subject, week, as_of, body FROM saved_views ORDER BY 1, 2, 3",
    }
    with engine.connect() as conn:
        return {name: [tuple(r) for r in conn.execute(text(q))] for name, q in queries.items()}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_worker_killed_mid_sync_loses_nothing(
    company: tuple[Served, Path], two_databases: tuple[str, str], tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    served, people = company
    alone_url, cluster_url = two_databases
    alone_config = _config(served, alone_url, tmp_path / "alone")
    alone = run_nightly(alone_config, _store(alone_url, alone_config, people), now=now)
    assert not alone.sync.failed and alone.sync.ok

    cluster_config = _config(served, cluster_url, tmp_path / "cluster")
    cluster_store = _store(cluster_url, cluster_config, people)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as watcher,
    ):
        pids = watcher.run(os.getpid)
        killed: list[tuple[str, list[str]]] = []
        lock = threading.Lock()

        def kill_a_busy_worker(done: int, total: int, failed: int) -> None:
            with lock:
                if killed:
                    return
                busy = {a: list(k) for a, k in watcher.processing().items() if k and a in pids}
                if busy:
                    address, keys = next(iter(busy.items()))
                    os.kill(pids[address], signal.SIGKILL)
                    killed.append((address, keys))

        on_cluster = run_nightly(
            cluster_config,
            cluster_store,
            scheduler=cluster.scheduler_address,
            progress=kill_a_busy_worker,
            now=now,
        )
    assert killed and killed[0][1], "a worker was killed while it synced a batch"
    assert not on_cluster.sync.failed
    assert sorted(r.mailbox for r in on_cluster.sync.ok) == sorted(r.mailbox for r in alone.sync.ok)
    got, want = _dump(cluster_store), _dump(make_engine(alone_url))
    for table in want:
        differ = [(a, b) for a, b in zip(got[table], want[table], strict=True) if a != b]
        assert not differ, (table, differ[:2])
    alone_files = _files(tmp_path / "alone")
    assert alone_files and any(name.endswith(".json") for name in alone_files)
    assert _files(tmp_path / "cluster") == alone_files


def test_a_cluster_needs_postgresql_and_no_shard(
    company: tuple[Served, Path], tmp_path: Path, sqlite_url: str
) -> None:
    config, engine = _configured_store(company, sqlite_url, tmp_path)
    with pytest.raises(UsageError, match="must be PostgreSQL"):
        run_nightly(config, engine, scheduler="tcp://127.0.0.1:1", now=now)
    with pytest.raises(UsageError, match="--scheduler or --shard, not both"):
        run_nightly(config, engine, scheduler="tcp://127.0.0.1:1", shard=(1, 2), now=now)


def test_an_unreachable_scheduler_is_one_line(
    company: tuple[Served, Path], postgres_url: str, tmp_path: Path
) -> None:
    served, people = company
    config = _config(served, postgres_url, tmp_path / "out")
    engine = _store(postgres_url, config, people)
    with pytest.raises(
        UsageError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"
    ):
        run_nightly(config, engine, scheduler="tcp://127.0.0.1:9", now=now)


def test_the_budget_is_one_bucket_for_every_process(postgres_url: str) -> None:
    """Two processes' budgets of 600 a minute (10 a second) on one database: together they take
    no more than the bucket's second plus 10 a second."""
    engine = make_engine(postgres_url)
    source = f"budget-{uuid.uuid4().hex[:8]}"
    first, second = open_budget(engine, source, 600), open_budget(engine, source, 600)
    assert first is not None and second is not None
    taken = 0
    started = time.monotonic()
    while time.monotonic() - started < 1.5:
        for budget in (first, second):
            budget.take(1)
            taken += 1
    elapsed = time.monotonic() - started
    # The bucket holds a second's worth (10), each process may hold one block of a quarter
    # second (3 at most) besides; the rest is the refill, 10 a second.
    assert taken <= 10 + 2 * 3 + 10 * elapsed + 1
    assert taken >= 10 * 1.5 - 2  # and it does hand out what the budget allows


def test_no_budget_is_no_wait(sqlite_url: str) -> None:
    assert open_budget(make_engine(sqlite_url), "any", 0) is None


def _forget_secret() -> None:
    os.environ.pop(SECRET_ENV, None)


def test_a_secret_missing_on_the_workers_fails_their_mailboxes_by_name(
    company: tuple[Served, Path], postgres_url: str, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster

    config, engine = _configured_store(company, postgres_url, tmp_path)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_forget_secret)
        night = run_nightly(config, engine, scheduler=cluster.scheduler_address, now=now)
    failed = {r.source for r in night.sync.failed}
    assert failed == {MICROSOFT}, "only the source whose secret the worker lacks"
    assert all(r.source == GOOGLE for r in night.sync.ok) and night.sync.ok
    reason = night.sync.failed[0].error or ""
    assert "on worker" in reason and SECRET_ENV in reason
    assert os.environ[SECRET_ENV] not in reason


def test_a_workers_batches_share_the_series_they_fetch(
    company: tuple[Served, Path], two_databases: tuple[str, str], tmp_path: Path
) -> None:
    """A 1:1's two people are rarely in one batch: on one worker, its series is still fetched
    once a night, as on one host, not once a batch."""
    from distributed import Client, LocalCluster

    served, _ = company
    alone_url, cluster_url = two_databases

    def series_fetched() -> int:
        return served.google.by_kind["events.get"] + served.graph.by_kind["event"]

    config, engine = _configured_store(company, alone_url, tmp_path / "alone")
    before = series_fetched()
    run_nightly(config, engine, now=now)
    alone = series_fetched() - before
    config, engine = _configured_store(company, cluster_url, tmp_path / "cluster")
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        before = series_fetched()
        run_nightly(config, engine, scheduler=cluster.scheduler_address, now=now)
    assert alone > 0 and series_fetched() - before == alone


def test_batches_hold_whole_teams_their_manager_first() -> None:
    manager_of: dict[str, str | None] = {
        "ceo@a.test": None,
        "ann@a.test": "ceo@a.test",
        "zed@a.test": "ceo@a.test",
        "bob@a.test": "ann@a.test",
        "cy@a.test": "ann@a.test",
        "dee@a.test": "zed@a.test",
    }
    ordered = by_team(sorted(manager_of), manager_of)
    assert sorted(ordered) == sorted(manager_of)
    assert ordered == [
        "ann@a.test",  # Ann's team: Ann, then her reports
        "bob@a.test",
        "cy@a.test",
        "ceo@a.test",  # the CEO (Ann and Zed, her reports, each lead a team of their own)
        "zed@a.test",
        "dee@a.test",
    ]
    only_some = by_team(["dee@a.test", "bob@a.test", "zed@a.test"], manager_of)
    assert only_some == ["bob@a.test", "zed@a.test", "dee@a.test"]
