"""Benchmark ``cadence nightly`` end to end: a synthetic company served by both stand-ins with a
fixed latency per request, synced into a fresh SQLite database, then every report written; run
once in full and once more with nothing changed.

    python benchmarks/bench_nightly.py                 # 2,000 mailboxes, 50 ms per request
    python benchmarks/bench_nightly.py --size 300 --latency 0.02

Prints, for each run: wall time, the sync's share of it, requests (and per mailbox), events
saved, reports written.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cadence.config import load_config, resolve_database_url
from cadence.jobs.nightly import NightlySummary, run_nightly
from cadence.orgchart import parse_csv
from cadence.sandbox.company import build_company
from cadence.sandbox.demo import GOOGLE, MICROSOFT, serve, write_people
from cadence.sandbox.world import World
from cadence.store.database import make_engine, upgrade
from cadence.store.people import replace_chart


def show(label: str, s: NightlySummary, wall: float, mailboxes: int) -> None:
    print(
        f"{label:>10}: wall {wall:7.1f} s | sync {s.sync.seconds:7.1f} s | "
        f"{s.sync.requests:6d} requests ({s.sync.requests / mailboxes:5.2f} per mailbox) | "
        f"{s.sync.events_saved:7d} events | {s.reports_written} reports | "
        f"{len(s.sync.failed)} failed"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="people (= mailboxes)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cadence-bench-nightly-") as tmp:
        folder = Path(tmp)
        world = World()
        started = time.perf_counter()
        company = build_company(world, size=args.size, seed=args.seed, sources=(GOOGLE, MICROSOFT))
        people = write_people(folder / "people.csv", company)
        print(
            f"company: {len(company.people)} people, {len(world.series)} series, built in "
            f"{time.perf_counter() - started:.1f} s; latency {args.latency * 1000:.0f} ms"
        )
        with serve(world, folder, latency=args.latency) as served:
            config = load_config(served.config_path)
            engine = make_engine(resolve_database_url(config))
            upgrade(engine)
            replace_chart(engine, parse_csv(people, sources=config.sources))
            for label in ("full", "no change"):
                t0 = time.perf_counter()
                summary = run_nightly(config, engine, now=lambda: datetime.now(UTC))
                show(label, summary, time.perf_counter() - t0, len(company.people))
            print(
                f"concurrency {config.sync.concurrency} per source, both sources side by side; "
                f"google served {served.google.total} requests, graph {served.graph.total}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
