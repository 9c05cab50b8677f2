"""How ``cadence serve`` holds up under 50 signed-in people browsing a 20,000-person company.

Why: a page must come back quickly even on Monday morning, when every manager opens theirs; a
page reads one saved row and renders it, and this measures that under load on loopback.

The company is bench_reports.py's (same generator, same seed), in SQLite (``--sqlite-db FILE``
keeps it between runs); ``report all`` saves its week, as the nightly would. The app is served
by uvicorn in this process; the load comes from a second process (the machine has two cores:
one for each), where each of ``--users`` people (managers, and some directors) signs in through
the real OpenID Connect flow against the loopback stand-in and then, for ``--seconds``, opens
their pages: their report as HTML, as JSON, and (directors) a sub-org page.

Two loads: **browsing**, where people arrive ``--spawn-rate`` a second (as a load tool such as
locust starts its users) and each reads a page for 1 to 3 seconds (``--think``) before opening
the next, as people do; and **flat out**, no pause at all, which finds what one server
process can answer. The **floor** of each, measured in the same run with the same client,
people and pauses: ``/healthz``, which goes through the same server, middleware and client but
reads almost nothing. The table gives requests per second, median and p99 latency and errors,
and the ratios of pages to floor.

Usage: ``python benchmarks/bench_serve.py [--people N] [--users 50] [--seconds 60]
[--sqlite-db FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_reports import AS_OF, build_company, sqlite_store, store_company
from cadence.config import parse_config
from cadence.jobs.report_all import publish_all
from cadence.sandbox.oidc import Account, SignInStandIn
from cadence.store.saved import saved_subjects, saved_view
from cadence.web.app import create_app
from cadence.web.server import ServerThread, bind
from cadence.weeks import week_label

CLIENT_ID = "bench"


async def _sign_in(client: httpx.AsyncClient, base: str, email: str) -> None:
    login = await client.get(f"{base}/login")
    authorize = login.headers["location"]
    parts = urlsplit(authorize)
    picked = f"{parts.scheme}://{parts.netloc}/authorize/choose?{parts.query}&email={quote(email)}"
    chosen = await client.get(picked)
    done = await client.get(chosen.headers["location"])
    if done.status_code != 302:
        raise RuntimeError(f"sign-in of {email} failed: {done.status_code}")


async def _browse(
    base: str,
    users: list[tuple[str, list[str]]],
    seconds: float,
    floor: bool,
    think: float,
    spawn_rate: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    clients = [httpx.AsyncClient(timeout=30) for _ in users]
    for client, (email, _) in zip(clients, users, strict=True):
        await _sign_in(client, base, email)
    deadline = time.perf_counter() + seconds

    async def user(client: httpx.AsyncClient, paths: list[str], arrives: float) -> None:
        nonlocal errors
        rng = random.Random(hash(id(client)))
        await asyncio.sleep(arrives)
        while time.perf_counter() < deadline:
            path = "/healthz" if floor else rng.choice(paths)
            started = time.perf_counter()
            try:
                answer = await client.get(base + path)
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1
            if think:
                await asyncio.sleep(rng.uniform(think / 3, think))

    began = time.perf_counter()
    # Browsing, people arrive spawn_rate a second; flat out, all at once.
    arrivals = [i / spawn_rate if think else 0.0 for i in range(len(users))]
    await asyncio.gather(
        *(
            user(c, paths, arrives)
            for c, (_, paths), arrives in zip(clients, users, arrivals, strict=True)
        )
    )
    elapsed = time.perf_counter() - began
    for client in clients:
        await client.aclose()
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def _client(base: str, users: list[tuple[str, list[str]]], load: tuple[Any, ...], out: Any) -> None:
    out.put(asyncio.run(_browse(base, users, *load)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sqlite-db", type=Path)
    parser.add_argument("--spawn-rate", type=float, default=10, help="people arriving a second")
    parser.add_argument(
        "--think", type=float, default=3.0, help="longest pause between pages, browsing (s)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cadence-serve-bench-"))
    store = sqlite_store(args.sqlite_db or folder / "company.db", args.people)
    if store.built:
        print(f"building the {args.people:,}-person company ...", flush=True)
        store_company(store.engine, build_company(args.people))
    engine = store.engine
    config = parse_config({})
    week = week_label(AS_OF, config.tz)
    if not saved_subjects(engine, week):
        started = time.perf_counter()
        publish_all(
            engine, config, as_of=AS_OF, window_weeks=None, formats=["json"], out_dir=folder
        )
        print(f"report all saved week {week} in {time.perf_counter() - started:.1f} s", flush=True)
    subjects = saved_subjects(engine, week)
    managers = [s for k, s in subjects if k == "manager"]
    directors = [s for k, s in subjects if k == "director"]
    rng = random.Random(5)
    n_directors = max(1, args.users // 5)
    chosen = rng.sample(directors, n_directors) + rng.sample(managers, args.users - n_directors)
    users: list[tuple[str, list[str]]] = []
    for email in chosen:
        kind = "director" if email in directors else "manager"
        page = f"/{kind}/{quote(email, safe='@')}/{week}"
        paths = [page, page + ".json"]
        if kind == "director":
            view = json.loads(saved_view(engine, week, "director", email) or "{}")
            heads = [s["head"]["email"] for s in view.get("sub_orgs", []) if s["head"]]
            paths += [f"{page}/sub-org/{quote(head, safe='@')}" for head in heads[:1]]
        users.append((email, paths))
    secret = secrets.token_urlsafe(16)
    accounts = [Account(email, email) for email, _ in users]
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    with SignInStandIn(accounts, client_id=CLIENT_ID, client_secret=secret) as issuer:
        serve_config = parse_config(
            {"serve": {"base_url": base, "oidc": {"issuer": issuer.issuer, "client_id": CLIENT_ID}}}
        )
        app = create_app(
            serve_config,
            engine,
            session_key=secrets.token_bytes(32),
            client_secret=secret,
            now=lambda: AS_OF,
        )
        results = {}
        with ServerThread(app, port=port):
            context = multiprocessing.get_context("spawn")
            for label, floor, think in (
                ("browsing: floor /healthz", True, args.think),
                ("browsing: pages", False, args.think),
                ("flat out: floor /healthz", True, 0.0),
                ("flat out: pages", False, 0.0),
            ):
                queue = context.Queue()
                child = context.Process(
                    target=_client,
                    args=(base, users, (args.seconds, floor, think, args.spawn_rate), queue),
                )
                child.start()
                results[label] = queue.get()
                child.join()
    load = os.getloadavg()
    print(
        f"\n{args.users} signed-in users, {args.seconds:.0f} s each run, {args.people:,} people; "
        f"load average {load[0]:.2f}"
    )
    print("| run | requests | req/s | median ms | p99 ms | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, r in results.items():
        print(
            f"| {label} | {r['requests']:,} | {r['rps']:.0f} | {r['median_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['errors']} |"
        )
    for load_kind in ("browsing", "flat out"):
        floor, pages = results[f"{load_kind}: floor /healthz"], results[f"{load_kind}: pages"]
        print(
            f"| {load_kind}: pages / floor | | {pages['rps'] / floor['rps']:.2f}x | "
            f"{pages['median_ms'] / floor['median_ms']:.2f}x | "
            f"{pages['p99_ms'] / floor['p99_ms']:.2f}x | |"
        )


if __name__ == "__main__":
    main()
