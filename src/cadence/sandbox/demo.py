"""``cadence demo``: the whole path on a synthetic company, with no account and no network.

It builds a company (:mod:`cadence.sandbox.company`), serves its calendars from the Google and
Microsoft Graph stand-ins on loopback, writes a config and an org chart CSV into the demo folder,
imports the chart, syncs every mailbox through the real connectors into SQLite, lets a few things
happen "this morning" and syncs again (incrementally), then writes every manager's and director's
report and picks three findings worth a look from the figures.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cadence.config import FORMATS, load_config, resolve_database_url
from cadence.errors import UsageError
from cadence.jobs.figures import results
from cadence.jobs.report_all import publish_all
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.orgchart import parse_csv
from cadence.pipeline import HealthResult
from cadence.pipeline.views import manager_view
from cadence.sandbox.company import Company, build_company
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.tls import make_tls
from cadence.sandbox.world import World
from cadence.store.database import make_engine, upgrade
from cadence.store.people import replace_chart

GOOGLE, MICROSOFT = "acme-google", "acme-m365"
CLIENT_ID = "cadence-demo-app"
SECRET_ENV = "CADENCE_DEMO_M365_SECRET"  # noqa: S105 - the variable's name, not a secret

Say = Callable[[str], None]


@dataclass(frozen=True)
class Highlight:
    """One finding: its sentence, and whom it is about (the manager, and the report when it is
    about one pair)."""

    text: str
    manager: str
    report: str | None = None


@dataclass
class DemoRun:
    folder: Path
    config_path: Path
    reports: Path
    index: Path
    company: Company
    first_sync: SyncSummary
    second_sync: SyncSummary
    reports_written: int
    findings: list[str]
    seconds: float
    highlights: list[Highlight] = field(default_factory=list)


# What a demo writes into its folder, and so all it may remove there before a new run; the
# marker says that the folder is a demo's, so that a run never deletes what it did not make.
MARKER = ".cadence-demo"
WRITTEN = (
    MARKER,
    "cadence.toml",
    "people.csv",
    "google-service-account.json",
    "cadence.db",
    "cadence.db-journal",
    "cadence.db-wal",
    "cadence.db-shm",
    "cadence.db.lock",
    "reports",
    "tls",
)


def prepare_folder(folder: Path, *, force: bool = False) -> Path:
    """``folder``, made ready for a new demo run: created if missing; in a folder an earlier
    demo made, what that demo wrote is removed. A folder that holds anything else and has no
    marker is refused (``force``: used anyway, and still only the demo's own names removed)."""
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir {folder}: not a folder")
    ours = (folder / MARKER).is_file()
    if folder.is_dir() and not ours and not force:
        present = sorted(p.name for p in folder.iterdir())
        if present:
            shown = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
            raise UsageError(
                f"--dir {folder} holds files the demo did not write ({shown}): choose a new or "
                "empty folder, or pass --force to use it anyway (the demo then replaces only "
                "its own files: " + ", ".join(WRITTEN[1:]) + ")"
            )
    folder.mkdir(parents=True, exist_ok=True)
    for name in WRITTEN:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    (folder / MARKER).write_text("written by `cadence demo`: it may replace this folder's files\n")
    return folder


def run_demo(
    folder: Path, *, size: int = 200, seed: int = 7, say: Say = print, force: bool = False
) -> DemoRun:
    """Run the demo into ``folder`` (its database and reports are made anew each time); see
    :func:`prepare_folder` for which folders it refuses."""
    started = time.monotonic()
    folder = prepare_folder(folder, force=force)

    world = World()
    company = build_company(world, size=size, seed=seed, sources=(GOOGLE, MICROSOFT))
    say(
        f"built a company of {len(company.people)} people ({len(company.managers)} managers, "
        f"{len(company.directors)} directors), half on Google and half on Microsoft 365"
    )
    people_csv = write_people(folder / "people.csv", company)
    with serve(world, folder) as served:
        config = load_config(served.config_path)
        engine = make_engine(resolve_database_url(config))
        upgrade(engine)
        replace_chart(engine, parse_csv(people_csv, sources=config.sources))
        say(f"imported the org chart from {people_csv}")
        first = run_sync(config, engine, command="demo")
        say(
            f"first sync: {len(first.ok)} mailboxes, {first.events_saved} events, "
            f"{first.requests} requests in {first.seconds:.1f} s"
        )
        happened = _this_morning(world, company)
        second = run_sync(config, engine, command="demo")
        say(
            f"this morning {happened}; incremental sync: {second.events_saved} events changed, "
            f"{second.requests} requests in {second.seconds:.1f} s"
        )
    as_of = datetime.now(UTC)
    out_dir = config.resolve(config.report.out_dir)
    current, previous = results(engine, config, as_of, None)
    summary, _ = publish_all(
        engine,
        config,
        as_of=as_of,
        window_weeks=None,
        formats=FORMATS,
        out_dir=out_dir,
        computed=(current, previous),
    )
    found = highlights(current)
    engine.dispose()
    return DemoRun(
        folder=folder,
        config_path=folder / "cadence.toml",
        reports=summary.folder,
        index=summary.folder / "index.html",
        company=company,
        first_sync=first,
        second_sync=second,
        reports_written=len(summary.written),
        findings=[h.text for h in found],
        seconds=time.monotonic() - started,
        highlights=found,
    )


def write_people(path: Path, company: Company) -> Path:
    """The company's org chart as the CSV ``cadence org import`` reads."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "name", "manager_email", "team", "source", "country", "timezone"])
        for p in company.people:
            w.writerow(
                [
                    p.email,
                    p.name,
                    p.manager_email or "",
                    p.team or "",
                    p.source or "",
                    p.country or "",
                    p.timezone or "",
                ]
            )
    return path


@dataclass(frozen=True)
class Served:
    """The stand-ins serving a world, and the config that points cadence at them."""

    config_path: Path
    google: GoogleStandIn
    graph: GraphStandIn


@contextmanager
def serve(world: World, folder: Path, *, latency: float = 0.0) -> Iterator[Served]:
    """Serve ``world`` from both stand-ins while the block runs, with a ``cadence.toml`` in
    ``folder`` whose two sources point at them (``acme-google`` and ``acme-m365``), and a SQLite
    database, reports and the org CSV beside it.

    The Graph app's secret is put in this process's environment (``SECRET_ENV``), as a real
    deployment would; a child process inherits it.
    """
    os.environ[SECRET_ENV] = secrets.token_urlsafe(24)
    tls = make_tls(folder / "tls")
    with (
        GoogleStandIn(world, latency=latency) as google,
        GraphStandIn(world, tls, latency=latency) as graph,
    ):
        graph.register_app(CLIENT_ID, secret=os.environ[SECRET_ENV])
        key = google.write_key(folder / "google-service-account.json")
        outlook = graph.source_config(CLIENT_ID, client_secret_env=SECRET_ENV)
        lines = [
            "# Written by `cadence demo`. The sources point at the demo's stand-ins, which stop",
            "# when the demo ends; the database and reports stay. Try:",
            "#   cadence --config THIS_FILE report manager EMAIL",
            "",
            "[database]",
            'url = "sqlite:///cadence.db"',
            "",
            "[org]",
            'csv = "people.csv"',
            "",
            "[report]",
            'out_dir = "reports"',
            'formats = ["md", "html", "json", "csv"]',
            "",
            f"[sources.{GOOGLE}]",
            'kind = "google"',
            f'service_account_file = "{key.name}"',
            f'api_endpoint = "{google.calendar_endpoint}"',
            f'directory_endpoint = "{google.directory_endpoint}"',
            "",
            f"[sources.{MICROSOFT}]",
            *(f"{k} = {_toml(v)}" for k, v in outlook.items()),
            "",
        ]
        path = folder / "cadence.toml"
        path.write_text("\n".join(lines), encoding="utf-8")
        yield Served(path, google, graph)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _this_morning(world: World, company: Company) -> str:
    """A few changes after the first sync, so the second one has something to pick up."""
    now = world.clock()
    manager = company.cancelling_manager
    cancelled = 0
    for (m, _report), uid in sorted(company.one_on_ones.items()):
        if m != manager:
            continue
        s = world.series[uid]
        upcoming = s.original_starts(now, now + timedelta(days=7))
        if upcoming:
            if s.organizer == manager:
                world.cancel_instance(uid, upcoming[0], at=now)
            else:
                world.decline(uid, manager, upcoming[0], at=now)
            cancelled += 1
    return f"{cancelled} upcoming 1:1s were called off by one manager"


def highlights(result: HealthResult) -> list[Highlight]:
    """Three findings worth a look, from the figures: who cancels most, whose 1:1s stopped,
    and whose reports miss most.

    Misses that were made up or excused (away time, holidays) are not in the counts the
    pipeline gives, and a pair away at as-of (``away_until`` set) is named for stopping or
    missing only when every pair that qualifies is away (a day that is a public holiday
    everywhere): whoever is on leave or vacation now is not the finding.
    """
    views = [manager_view(result, email) for email in result.managers()]
    entries = [(v, r) for v in views for r in v["reports"]]
    found: list[Highlight] = []
    cancels = [v for v in views if v["summary"]["manager_cancel_share"]]
    if cancels:
        v = max(
            cancels,
            key=lambda v: (
                sum(r["cancelled_by_manager"] for r in v["reports"]),
                v["summary"]["manager_cancel_share"],
            ),
        )
        by_manager = sum(r["cancelled_by_manager"] for r in v["reports"])
        missed = sum(r["missed"] for r in v["reports"])
        found.append(
            Highlight(
                f"{v['manager']['name']} called off {by_manager} of the {missed} missed 1:1s "
                f"with their reports ({v['summary']['manager_cancel_share']:.0%} of the misses "
                "were theirs).",
                v["manager"]["email"],
            )
        )
    # A stale pair with nothing on the calendar has stopped; one with a 1:1 ahead has a gap.
    stale = [(v, r) for v, r in entries if "stale" in r["reasons"]]
    if stale:
        v, r = max(
            stale,
            key=lambda vr: (
                not vr[1].get("away_until"),
                vr[1]["next_scheduled"] is None,
                vr[1]["days_since_last_held"] or 0,
            ),
        )
        ending = ": it quietly stopped" if r["next_scheduled"] is None else ", though one is booked"
        found.append(
            Highlight(
                f"{v['manager']['name']} and {r['name']} have not held a 1:1 for "
                f"{r['days_since_last_held']} days{ending}.",
                v["manager"]["email"],
                r["email"],
            )
        )
    declines = [(v, r) for v, r in entries if r["declined"]]
    if declines:
        v, r = max(
            declines,
            key=lambda vr: (
                not vr[1].get("away_until"),
                vr[1]["cancelled_by_report"],
                vr[1]["declined"],
            ),
        )
        found.append(
            Highlight(
                f"{r['name']} missed {r['cancelled_by_report']} of {r['scheduled']} 1:1s with "
                f"{v['manager']['name']} ({r['declined']} declined).",
                v["manager"]["email"],
                r["email"],
            )
        )
    return found[:3]


def find_highlights(result: HealthResult) -> list[str]:
    """The sentences of :func:`highlights`."""
    return [h.text for h in highlights(result)]
