"""A night of 100,000 mailboxes on a local Dask cluster, at a request budget of 10,000 a minute
per source, beside the quota's floor; and one of 10,000 mailboxes on one process to compare.

Why: past one host, what bounds a night is the providers' quota, not cadence. With the sources'
request budgets shared by every worker (``[sources.NAME] requests_per_minute``), a night should
last its quota's floor (each source's requests / its budget; the sources run side by side, so
the night's floor is the larger) and be refused nothing by the provider. So this prints, for each
night: HTTP requests made, requests in the provider's quota unit (a Graph ``$batch`` counts its
parts), those the stand-ins refused for quota (target 0), the wall time beside the floor and the
ratio (target for the no-change night: within 1.1x), and the workers' CPU time per request, so
one can say how many mailboxes one core keeps busy.

Both stand-ins serve a lean company (a handful of 1:1 series per mailbox, no planted stories)
with a fixed latency per request and the budget as their quota (403 ``rateLimitExceeded`` /
429 ``Retry-After`` beyond it), in this process; the workers are other processes
(``distributed.LocalCluster``), writing into a PostgreSQL database of their own on the server
of ``--postgres-url``: ``cadence_bench_cluster``, dropped and made again each run (never the
database the URL names). Each night is the sync step of ``cadence nightly --scheduler``
(reports are measured by ``bench_reports.py``). The first sync reads ``--lookback-days`` back
(default 28) so that a full night of 100,000 mailboxes fits this machine's disk and patience.

    python benchmarks/bench_cluster.py                      # 100,000 on 3 workers, 10,000 alone
    python benchmarks/bench_cluster.py --mailboxes 2000 --compare 500 --budget 3000
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cadence.config import Config, load_config
from cadence.jobs.cluster import sync_on_cluster
from cadence.jobs.sync import SyncSummary, prepare
from cadence.orgchart import parse_csv
from cadence.sandbox.company import build_company
from cadence.sandbox.demo import GOOGLE, MICROSOFT, Served, serve, write_people
from cadence.sandbox.world import World
from cadence.store.database import make_engine, upgrade
from cadence.store.people import replace_chart

DATABASE = "cadence_bench_cluster"


@dataclass
class Night:
    label: str
    summary: SyncSummary
    wall: float
    http: dict[str, int]  # per source, requests the stand-ins answered, token endpoints aside
    units: dict[str, int]  # per source, in the provider's quota unit
    refused: int
    cpu: float  # seconds of CPU of the processes that synced

    def floor(self, per_minute: int) -> float:
        return max(self.units.values()) / per_minute * 60


def fresh_database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


def counts(served: Served) -> tuple[dict[str, int], dict[str, int], int]:
    """HTTP requests and quota units per source, and quota refusals, so far. The identity
    platforms' calls (tokens, Graph's OpenID configuration) are another service's, and free.
    The Graph stand-in counts each ``$batch`` part as a request of its own (as Graph's limits
    do), and the envelope besides."""
    google, graph = served.google, served.graph
    google_calls = google.total - google.by_kind.get("token", 0)
    graph_served = graph.total - graph.by_kind.get("token", 0) - graph.by_kind.get("openid", 0)
    http = {GOOGLE: google_calls, MICROSOFT: graph_served - graph.batch_parts}
    units = {GOOGLE: google_calls, MICROSOFT: graph_served - graph.by_kind.get("batch", 0)}
    return http, units, google.quota_refused + graph.quota_refused


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_night(
    label: str, served: Served, run: Callable[[], SyncSummary], cpu: Callable[[], float]
) -> Night:
    http0, units0, refused0 = counts(served)
    cpu0 = cpu()
    started = time.perf_counter()
    summary = run()
    wall = time.perf_counter() - started
    http1, units1, refused1 = counts(served)
    units = {k: units1[k] - units0[k] for k in units1}
    http = {k: http1[k] - http0[k] for k in http1}
    return Night(label, summary, wall, http, units, refused1 - refused0, cpu() - cpu0)


def show(night: Night, plan: dict[str, list[str]], args: argparse.Namespace) -> None:
    s = night.summary
    floor = night.floor(args.budget)
    http = sum(night.http.values())
    mailboxes = sum(len(m) for m in plan.values())
    per_source = ", ".join(
        f"{name} {night.http[name]:,} ({night.http[name] / max(1, len(plan[name])):.3f}/mailbox, "
        f"quota units {night.units[name]:,})"
        for name in sorted(plan)
    )
    print(
        f"  {night.label}: {mailboxes:,} mailboxes, "
        f"{len(s.failed)} failed\n"
        f"    HTTP requests {http:,}: {per_source}\n"
        f"    refused by the quota {night.refused}\n"
        f"    wall {night.wall:.1f} s, quota floor {floor:.1f} s, ratio {night.wall / floor:.2f}\n"
        f"    CPU of the syncing processes {night.cpu:.1f} s, "
        f"{night.cpu / max(1, http) * 1000:.2f} ms per HTTP request, "
        f"{night.cpu / max(1, mailboxes) * 1000:.2f} ms per mailbox"
    )


def configured(served: Served, url: str, args: argparse.Namespace) -> Config:
    config = load_config(served.config_path, database_url=url)
    sources = {
        name: replace(source, requests_per_minute=args.budget)
        for name, source in config.sources.items()
    }
    return replace(
        config,
        sources=sources,
        sync=replace(
            config.sync,
            lookback_days=args.lookback_days,
            batch_mailboxes=args.batch,
            concurrency=args.concurrency,
        ),
    )


def load_chart(config: Config, url: str, people: Path) -> Any:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM request_budgets"))
    replace_chart(engine, parse_csv(people, sources=config.sources))
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=100_000)
    parser.add_argument("--compare", type=int, default=10_000, help="mailboxes on one process")
    parser.add_argument("--budget", type=int, default=10_000, help="requests a minute a source")
    parser.add_argument("--workers", type=int, default=3, help="worker processes")
    parser.add_argument(
        "--threads", type=int, default=2, help="batches a worker process syncs at once"
    )
    parser.add_argument("--batch", type=int, default=200, help="[sync] batch_mailboxes")
    parser.add_argument("--concurrency", type=int, default=8, help="threads a batch syncs with")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--lookback-days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "CADENCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; budget {args.budget:,}/min a source")
    for size, on_cluster in ((args.compare, False), (args.mailboxes, True)):
        if size:
            run_size(args, size, on_cluster)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def run_size(args: argparse.Namespace, size: int, on_cluster: bool) -> None:
    """One company's full night then no-change night. "One process" is a cluster of one worker
    process syncing each source as one batch, side by side, as ``cadence nightly`` does on one
    host: the same runner, and its CPU measured apart from the stand-ins'."""
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory(prefix="cadence-bench-cluster-") as tmp:
        folder = Path(tmp)
        world = World()
        started = time.perf_counter()
        company = build_company(
            world, size=size, seed=args.seed, sources=(GOOGLE, MICROSOFT), lean=True
        )
        people = write_people(folder / "people.csv", company)
        where = (
            f"{args.workers} worker processes, {args.threads} batches at once each"
            if on_cluster
            else "one process"
        )
        print(
            f"\n{len(company.people):,} people, {len(world.series):,} series, built in "
            f"{time.perf_counter() - started:.0f} s; {args.latency * 1000:.0f} ms a request; "
            f"{where}, {args.concurrency} threads a batch"
        )
        url = fresh_database(args.postgres_url)
        # A collector's pass over a world this size takes most of a second, and passes come
        # every few thousand requests: the world is frozen out of them.
        gc.freeze()
        with serve(world, folder, latency=args.latency) as served:
            served.google.quota_per_minute = served.graph.quota_per_minute = args.budget
            config = configured(served, url, args)
            if not on_cluster:
                config = replace(config, sync=replace(config.sync, batch_mailboxes=size))
            engine = load_chart(config, url, people)
            plan, _ = prepare(config, engine)
            with (
                LocalCluster(
                    n_workers=args.workers if on_cluster else 1,
                    threads_per_worker=args.threads if on_cluster else len(plan),
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):

                def workers_cpu() -> float:
                    return sum(client.run(cpu_seconds).values())

                def night() -> SyncSummary:
                    return sync_on_cluster(config, engine, plan, cluster.scheduler_address)

                for label in ("full night", "no-change night"):
                    show(one_night(label, served, night, workers_cpu), plan, args)
        engine.dispose()


if __name__ == "__main__":
    main()
