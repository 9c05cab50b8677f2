"""How fast ``cadence sync`` reads a Microsoft 365 tenant: full sync, then a no-change incremental.

The same company as ``bench_google_sync.py`` (its :func:`build_company`: N people, about 7 reports
a manager, 26 weeks plus the 5-week horizon of 1:1s with cancellations, declines and moves,
skip-levels, team meetings, ad-hoc meetings, out-of-office days), everyone's mailbox on Microsoft
365. The Graph stand-in serves it over TLS from a separate process (so its work does not compete
with the sync for this process's GIL) with a fixed latency per request (default 50 ms). The real
connector (msal, requests) then syncs every mailbox into a fresh SQLite database.

Prints, for the full sync and for an incremental sync with nothing changed: wall time, HTTP
requests per mailbox (Graph calls, and sign-in requests apart; a ``$batch`` is one request), how
full the ``$batch`` requests were, and the ideal wall time ``requests x latency / concurrency``.
Targets: the no-change incremental makes one request per 20 mailboxes (0.050 a mailbox: every
``$batch`` but the last carries 20 delta links, whatever ``--concurrency`` is); the full sync's
wall time is within 1.5x of its ideal.

Usage: ``python benchmarks/bench_graph_sync.py [--people N] [--latency S] [--concurrency C]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench_google_sync import NOW, build_company
from cadence.config import parse_config
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.tls import make_tls
from cadence.store.database import make_engine, upgrade
from cadence.store.models import Person

CLIENT_ID = "bench-app"
SECRET = "bench-secret"
SECRET_ENV = "CADENCE_BENCH_GRAPH_SECRET"
SIGN_IN = ("openid", "token")


def serve(conn: Connection, people: int, latency: float, tls_dir: str) -> None:
    """The stand-in's process: build the world, serve it, answer the parent's questions."""
    world = build_company(people)
    for email, person in list(world.people.items()):
        world.people[email] = replace(person, side="outlook")
    with GraphStandIn(world, make_tls(Path(tls_dir)), latency=latency) as graph:
        graph.register_app(CLIENT_ID, secret=SECRET)
        conn.send(
            (graph.source_config(CLIENT_ID, client_secret_env=SECRET_ENV), sorted(world.people))
        )
        while True:
            command = conn.recv()
            if command == "counts":
                counts = dict(graph.by_kind)
                counts["http"] = graph.http_requests
                counts["parts"] = graph.batch_parts
                counts["cpu"] = time.process_time()
                conn.send(counts)
                graph.reset_counts()
                graph.batch_parts = 0
            elif command == "stop":
                return


def report(
    label: str,
    summary: SyncSummary,
    counts: dict[str, Any],
    latency: float,
    concurrency: int,
    server_cpu: float,
    client_cpu: float,
) -> None:
    mailboxes = len(summary.results)
    sign_in = sum(counts.get(k, 0) for k in SIGN_IN)
    api = counts["http"] - sign_in
    ideal = counts["http"] * latency / concurrency
    # Each $batch part counts against Graph's throttling as a request would; by calls, the
    # ideal does not shrink when batching and bigger pages save round trips.
    calls = counts.get("delta", 0) + counts.get("event", 0) + sign_in
    batches = counts.get("batch", 0)
    fill = f" of {counts['parts'] / batches:.1f} parts on average" if batches else ""
    ideal_calls = calls * latency / concurrency
    print(
        f"{label}: {summary.seconds:.1f} s wall for {mailboxes} mailboxes "
        f"({len(summary.failed)} failed); {api / mailboxes:.3f} Graph requests per mailbox "
        f"({api} requests: $batch {batches}{fill}, direct delta "
        f"{counts.get('delta', 0)} and event {counts.get('event', 0)} calls including batch "
        f"parts) + {sign_in} sign-in requests; "
        f"ideal {ideal:.1f} s (requests x {latency * 1000:.0f} ms / {concurrency}); "
        f"ratio {summary.seconds / ideal if ideal else float('nan'):.2f}; by API calls "
        f"({calls}) ideal {ideal_calls:.1f} s, ratio "
        f"{summary.seconds / ideal_calls if ideal_calls else float('nan'):.2f}; "
        f"{summary.events_saved} events saved; "
        f"CPU: sync {client_cpu:.1f} s, stand-in {server_cpu:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    if summary.failed:
        print("  first failure:", summary.failed[0].mailbox, summary.failed[0].error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    os.environ[SECRET_ENV] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        parent, child = mp.Pipe()
        started = time.monotonic()
        proc = mp.get_context("spawn").Process(
            target=serve, args=(child, args.people, args.latency, str(Path(tmp) / "tls"))
        )
        proc.start()
        source, emails = parent.recv()
        print(
            f"Graph stand-in up at {source['graph_url']} with {args.people} people in "
            f"{time.monotonic() - started:.1f} s"
        )
        db = f"sqlite:///{tmp}/cadence.db"
        engine = make_engine(db)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(Person.__table__.insert(), [{"email": e, "name": e} for e in emails])
        config = parse_config(
            {
                "database": {"url": db},
                "sync": {"concurrency": args.concurrency},
                "sources": {"m365": source},
            },
            Path(tmp) / "cadence.toml",
        )
        try:
            parent.send("counts")
            cpu = parent.recv()["cpu"]
            mine = time.process_time()
            full = run_sync(config, engine, now=lambda: NOW)
            mine = time.process_time() - mine
            parent.send("counts")
            counts = parent.recv()
            args_ = (args.latency, args.concurrency, counts["cpu"] - cpu, mine)
            report("full sync", full, counts, *args_)
            cpu, mine = counts["cpu"], time.process_time()
            incremental = run_sync(config, engine, now=lambda: NOW + timedelta(hours=1))
            mine = time.process_time() - mine
            parent.send("counts")
            counts = parent.recv()
            args_ = (args.latency, args.concurrency, counts["cpu"] - cpu, mine)
            report("no-change incremental", incremental, counts, *args_)
        finally:
            parent.send("stop")
            proc.join()
            engine.dispose()


if __name__ == "__main__":
    main()
