"""What the Outlook tests share: a small company on the Graph stand-in, and a config for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from cadence.config import Config, parse_config
from cadence.connectors.outlook import OutlookConnector
from cadence.connectors.outlook_auth import CASession
from cadence.connectors.retry import RetryPolicy
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.normalised import OrgPerson
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.tls import TLSFiles
from cadence.sandbox.world import Recurrence, World
from cadence.store.models import Attendee, Event
from cadence.store.people import replace_chart

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret-Value~with.Specials_42"
SECRET_ENV = "CADENCE_TEST_GRAPH_SECRET"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
MONDAY = datetime(2026, 9, 7, 10, tzinfo=UTC)  # the first 1:1 of ann and bob
HALF_HOUR = timedelta(minutes=30)


def sign_in(graph: GraphStandIn, session: CASession) -> None:
    """Register the test app with ``graph`` and put an app-only bearer token (the client
    credentials grant, as msal asks for it) on ``session``, which trusts the stand-in's CA."""
    graph.register_app(CLIENT_ID, secret=SECRET)
    session.verify = str(graph.ca_file)
    status, body = graph.entra.token(
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "scope": f"{graph.url}/.default",
        },
        graph.token_endpoint,
    )
    assert status == 200
    session.headers["Authorization"] = f"Bearer {body['access_token']}"


def company(world: World, side: str = "outlook") -> None:
    """ann manages bob and cy; weekly 1:1s, an out-of-office day and a one-off."""
    world.add_person("ann@acme.test", "Ann", side=side)
    world.add_person("bob@acme.test", "Bob", "ann@acme.test", side=side)
    world.add_person("cy@acme.test", "Cy", "ann@acme.test", side=side)
    at = MONDAY - timedelta(days=30)
    world.add_series(
        "ann-bob",
        "ann@acme.test",
        ["bob@acme.test"],
        MONDAY,
        HALF_HOUR,
        Recurrence("WEEKLY", byday=("MO",)),
        at=at,
    )
    world.add_series(
        "cy-ann",
        "cy@acme.test",
        ["ann@acme.test"],
        MONDAY + timedelta(days=1, hours=4),
        HALF_HOUR,
        Recurrence("WEEKLY", interval=2),
        at=at,
    )
    world.add_one_off(
        "bob-oof",
        "bob@acme.test",
        [],
        datetime(2026, 11, 20, tzinfo=UTC),
        timedelta(days=1),
        all_day=True,
        event_type="outOfOffice",
        at=at,
    )
    world.add_one_off(
        "ann-bob-extra",
        "ann@acme.test",
        ["bob@acme.test"],
        datetime(2026, 11, 27, 15, tzinfo=UTC),
        timedelta(hours=1),
        at=at,
    )


def chart(world: World, source: str | None = None) -> list[OrgPerson]:
    return [OrgPerson(p.email, p.name, p.manager, source=source) for p in world.people.values()]


@dataclass
class Clock:
    """The runner's clock: when each sync happens."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Sleeps:
    """The retry policy's sleep, recorded instead of slept."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def outlook_config(graph: GraphStandIn, db_url: str, **source: Any) -> Config:
    table = graph.source_config(CLIENT_ID, client_secret_env=SECRET_ENV)
    table.update(source)
    return parse_config(
        {
            "database": {"url": db_url},
            "sync": {"concurrency": 4, "max_retries": 3},
            "sources": {"m365": table},
        }
    )


@dataclass
class Harness:
    """A Graph stand-in serving ``world``, a store, and how to sync one into the other."""

    world: World
    graph: GraphStandIn
    engine: Engine
    config: Config
    clock: Clock = field(default_factory=Clock)
    sleeps: Sleeps = field(default_factory=Sleeps)
    connectors: list[OutlookConnector] = field(default_factory=list)

    def connect(self, config: Config, name: str) -> OutlookConnector:
        source = config.sources[name]
        assert source.kind == "outlook"
        policy = RetryPolicy(max_retries=config.sync.max_retries, sleep=self.sleeps)
        connector = OutlookConnector(config, source, policy)  # type: ignore[arg-type]
        self.connectors.append(connector)
        return connector

    def sync(self, **kw: Any) -> SyncSummary:
        return run_sync(self.config, self.engine, connect=self.connect, now=self.clock, **kw)

    def rows(self, mailbox: str | None = None) -> list[dict[str, Any]]:
        query = select(Event.__table__).order_by(Event.mailbox, Event.event_id)
        if mailbox:
            query = query.where(Event.mailbox == mailbox)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def attendees(self, mailbox: str, event_id: str) -> dict[str, dict[str, Any]]:
        t = Attendee.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t).where(t.c.mailbox == mailbox, t.c.event_id == event_id)
            ).mappings()
            return {r["email"]: dict(r) for r in rows}

    def row(self, mailbox: str, *, ical_uid: str, original_start: datetime) -> dict[str, Any]:
        found = [
            r
            for r in self.rows(mailbox)
            if r["ical_uid"] == ical_uid and r["original_start"] == original_start
        ]
        assert len(found) == 1, (mailbox, ical_uid, original_start, found)
        return found[0]


@contextmanager
def harness(
    engine: Engine, db_url: str, world: World | None = None, tls: TLSFiles | None = None
) -> Iterator[Harness]:
    world = world or World(clock=Clock())
    if not world.people:
        company(world)
    with GraphStandIn(world, tls) as graph:
        graph.register_app(CLIENT_ID, secret=SECRET)
        replace_chart(engine, chart(world))
        yield Harness(world, graph, engine, outlook_config(graph, db_url))
