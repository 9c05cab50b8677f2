"""Mailbox addresses and ids in the URLs cadence calls: each one is one path segment.

An org chart is written by people, and a careless or hostile row such as
``../users/bob@acme.test`` used to climb out of its own ``/users/{mailbox}`` and sync Bob's
calendar into that row, while an honest address holding ``/`` (``a/b@acme.test``) failed every
night. These tests run the real connectors against the stand-ins, which resolve ``..`` and
decode each segment once, as Google's and Graph's front ends do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2 import service_account

from cadence.connectors.outlook_auth import CASession
from cadence.errors import SyncError
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.normalised import OrgPerson
from cadence.sandbox import graph as graph_module
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.tls import TLSFiles
from cadence.sandbox.world import ManualClock, Recurrence, World
from cadence.store.database import make_engine
from cadence.store.people import replace_chart
from outlook_support import (
    CLIENT_ID,
    SECRET,
    Clock,
    Harness,
    chart,
    company,
    harness,
)
from test_google_sync import NOW as GOOGLE_NOW
from test_google_sync import build_world, make_config, rows

ANN, BOB, CY = "ann@acme.test", "bob@acme.test", "cy@acme.test"
TUESDAY = datetime(2026, 9, 8, 15, tzinfo=UTC)
NEXT_TUESDAY = datetime(2026, 12, 1, 15, tzinfo=UTC)  # after the harness's now, in the horizon

# Addresses whose `/` and `..` climb out of /users/{mailbox} when left unencoded, to Bob's
# calendar (the client resolves the dot segments before the request leaves).
CLIMBERS = [
    "../users/bob@acme.test",
    "cy@acme.test/../../users/bob@acme.test",
    "../../v1.0/users/bob@acme.test",
]
# Honest addresses holding characters a path must encode (`/` is allowed in an address).
SLASHED = ["a/b@acme.test", "team/../lead@acme.test", "o'neil/x+tag@acme.test"]


pytestmark = pytest.mark.usefixtures("graph_secret")


@pytest.fixture
def graph_world() -> World:
    world = World(clock=Clock())
    company(world)
    return world


@pytest.fixture
def hs(sqlite_url: str, tls: TLSFiles, graph_world: World) -> Iterator[Harness]:
    engine = make_engine(sqlite_url)
    with harness(engine, sqlite_url, graph_world, tls) as h:
        yield h
    engine.dispose()


def with_person(h: Harness, email: str) -> None:
    """The org chart as the stand-in's world has it, plus ``email`` reporting to Ann."""
    replace_chart(h.engine, [*chart(h.world), OrgPerson(email, "Mallory", ANN)])


# -- Microsoft Graph ------------------------------------------------------------------------


@pytest.mark.parametrize("mailbox", CLIMBERS)
def test_a_graph_mailbox_that_climbs_its_path_reads_no_one_else_s_calendar(
    hs: Harness, mailbox: str
) -> None:
    with_person(hs, mailbox)
    summary = hs.sync()
    failed = {r.mailbox: r.error for r in summary.failed}
    assert list(failed) == [mailbox], failed
    assert "not found in the tenant" in (failed[mailbox] or "")
    assert "ErrorInvalidUser" in (failed[mailbox] or "")
    assert hs.rows(mailbox) == [], "another person's calendar was stored under this row"
    assert {r.mailbox for r in summary.ok} == {ANN, BOB, CY}
    assert hs.rows(BOB), "Bob's own calendar still syncs"


@pytest.mark.parametrize("mailbox", SLASHED)
def test_a_graph_address_holding_a_slash_reads_its_own_calendar_night_after_night(
    hs: Harness, mailbox: str
) -> None:
    hs.world.add_person(mailbox, "Slash", ANN, side="outlook")
    at = TUESDAY - timedelta(days=30)
    uid = f"slash-ann-{len(mailbox)}"
    hs.world.add_series(
        uid, mailbox, [ANN], TUESDAY, timedelta(minutes=30), Recurrence("WEEKLY"), at=at
    )
    replace_chart(hs.engine, chart(hs.world))
    first = hs.sync()
    assert not first.failed, first.failed
    own = hs.rows(mailbox)
    assert own and all(r["mailbox"] == mailbox for r in own)
    # The series master was fetched through /users/{mailbox}/events/{id}: the recurrence is kept.
    assert all((r["recurrence"] or "").startswith("RRULE:FREQ=WEEKLY") for r in own)
    # The next night continues from the delta link the stand-in gave for this address.
    hs.world.cancel_instance(uid, NEXT_TUESDAY, at=hs.clock.now)
    hs.clock.now += timedelta(hours=1)
    second = hs.sync()
    assert not second.failed, second.failed
    cancelled = hs.row(mailbox, ical_uid=uid, original_start=NEXT_TUESDAY)
    assert cancelled["status"] == "cancelled"


@pytest.fixture
def slashed_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Graph ids with ``/``, ``+`` and ``=`` in them, as Exchange's base64 ids may have."""
    encode, decode = graph_module._b64, graph_module._unb64

    def b64(text: str) -> str:
        return "AAMk/" + encode(text)[4:] + "+="

    def unb64(ident: str) -> list[str] | None:
        if not (ident.startswith("AAMk/") and ident.endswith("+=")):
            return None
        return decode("AAMk" + ident[5:-2])

    monkeypatch.setattr(graph_module, "_b64", b64)
    monkeypatch.setattr(graph_module, "_unb64", unb64)


@pytest.mark.usefixtures("slashed_ids")
def test_graph_event_and_series_ids_holding_slashes_fetch_their_series(hs: Harness) -> None:
    summary = hs.sync()
    assert not summary.failed, summary.failed
    weekly = [r for r in hs.rows(ANN) if r["series_id"]]
    assert weekly and all("/" in r["series_id"] for r in weekly)
    # Each series' recurrence comes from its master, fetched by that id ($batch and alone).
    assert all((r["recurrence"] or "").startswith("RRULE:FREQ=WEEKLY") for r in weekly)


def test_the_graph_stand_in_routes_batch_parts_as_graph_does(hs: Harness) -> None:
    """A $batch part's relative URL is resolved as any request path is (``..`` climbs; an
    assumption for Graph's $batch, where no client resolves it first), and ``%2F`` stays in its
    segment: why cadence encodes every segment rather than rely on the client."""
    token = hs.graph.entra.token(
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "scope": f"{hs.graph.url}/.default",
        },
        hs.graph.token_endpoint,
    )[1]["access_token"]
    week = "?startDateTime=2026-11-01T00:00:00Z&endDateTime=2026-11-08T00:00:00Z"
    parts = [
        {
            "id": "1",
            "method": "GET",
            "url": f"/users/ann%40acme.test/../bob%40acme.test/calendarView/delta{week}",
        },
        {
            "id": "2",
            "method": "GET",
            "url": f"/users/..%2Fusers%2Fbob%40acme.test/calendarView/delta{week}",
        },
    ]
    with CASession() as s:
        s.verify = str(hs.graph.ca_file)
        r = s.post(
            f"{hs.graph.graph_url}/$batch",
            json={"requests": parts},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    answers = {a["id"]: a for a in r.json()["responses"]}
    assert answers["1"]["status"] == 200  # resolved to Bob's calendar, as Graph would
    assert answers["2"]["status"] == 404  # one segment: no such user
    assert answers["2"]["body"]["error"]["code"] == "ErrorInvalidUser"


# -- Google ---------------------------------------------------------------------------------


@pytest.fixture
def google(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[GoogleStandIn, World, str]]:
    world = build_world(ManualClock(GOOGLE_NOW))
    with GoogleStandIn(world) as stand_in:
        yield stand_in, world, sqlite_url


Stored = dict[tuple[str, str], dict[str, Any]]


def google_sync(
    tmp_path: Path, stand_in: GoogleStandIn, db_url: str, people: list[OrgPerson]
) -> tuple[SyncSummary, Stored]:
    """``cadence sync`` of these people on the Google stand-in: its summary and what it stored."""
    config = make_config(tmp_path, stand_in, db_url)
    engine = make_engine(db_url)
    replace_chart(engine, [OrgPerson(p.email, p.name, p.manager_email, "acme") for p in people])
    try:
        return run_sync(config, engine, now=lambda: GOOGLE_NOW), rows(engine)
    finally:
        engine.dispose()


def google_chart(world: World) -> list[OrgPerson]:
    return [OrgPerson(p.email, p.name, p.manager) for p in world.people.values()]


@pytest.mark.parametrize("mailbox", CLIMBERS)
def test_a_google_mailbox_that_climbs_is_refused_and_reads_nothing(
    tmp_path: Path, google: tuple[GoogleStandIn, World, str], mailbox: str
) -> None:
    stand_in, world, url = google
    people = [*google_chart(world), OrgPerson(mailbox, "Mallory", ANN)]
    summary, stored = google_sync(tmp_path, stand_in, url, people)
    assert [r.mailbox for r in summary.failed] == [mailbox]
    assert "cannot impersonate this mailbox" in (summary.failed[0].error or "")
    assert not [key for key in stored if key[0] == mailbox]
    assert not stand_in.by_mailbox[mailbox], "a calendar was listed for this row"


@pytest.mark.parametrize("mailbox", SLASHED)
def test_a_google_address_holding_a_slash_reads_its_own_calendar(
    tmp_path: Path, google: tuple[GoogleStandIn, World, str], mailbox: str
) -> None:
    stand_in, world, url = google
    world.add_person(mailbox, "Slash", ANN)
    uid = f"slash-ann-{len(mailbox)}"
    start = GOOGLE_NOW - timedelta(days=60)
    world.add_series(
        uid,
        mailbox,
        [ANN],
        start,
        timedelta(minutes=30),
        Recurrence("WEEKLY"),
        at=start - timedelta(days=1),
    )
    summary, stored = google_sync(tmp_path, stand_in, url, google_chart(world))
    assert not summary.failed, summary.failed
    own = [v for k, v in stored.items() if k[0] == mailbox]
    assert own and all(v["ical_uid"] == uid for v in own)
    # events.get of the series, on this calendar, gave the recurrence.
    assert all((v["recurrence"] or "").startswith("RRULE:FREQ=WEEKLY") for v in own)


def test_the_google_stand_in_routes_paths_as_google_does(
    tmp_path: Path, google: tuple[GoogleStandIn, World, str]
) -> None:
    stand_in, _, _ = google
    key = stand_in.write_key(tmp_path / "sa.json")
    creds = service_account.Credentials.from_service_account_file(
        str(key), scopes=["https://www.googleapis.com/auth/calendar.readonly"]
    ).with_subject(ANN)
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=5))
    base = stand_in.calendar_endpoint + "calendars/"
    climbed, _ = authed.request(
        base + "bob%40acme.test/../ann%40acme.test/events?singleEvents=true"
    )
    assert climbed.status == 200  # `..` resolved: Ann's own calendar
    one, body = authed.request(base + "..%2Fann%40acme.test/events?singleEvents=true")
    assert one.status == 404 and json.loads(body)["error"]["code"] == 404  # one unknown id


# -- the rule itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b@acme.test", "a%2Fb%40acme.test"),
        ("../users/x@acme.test", "..%2Fusers%2Fx%40acme.test"),
        ("AAMk/x+y=", "AAMk%2Fx%2By%3D"),
        ("q?x#y%z", "q%3Fx%23y%25z"),
    ],
)
def test_a_path_segment_encodes_everything_that_would_split_it(value: str, segment: str) -> None:
    from cadence.connectors.base import path_segment

    assert path_segment(value) == segment


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_what_cannot_be_one_segment_is_refused(value: str) -> None:
    from cadence.connectors.base import one_segment, path_segment

    with pytest.raises(SyncError, match="cannot be one segment of a URL path"):
        path_segment(value)
    with pytest.raises(SyncError):
        one_segment(value)
