"""The Graph stand-in's own contract, as a client sees it over HTTPS: time zones, $batch limits
and per-part failures, delta links that expire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cadence.connectors.outlook_auth import CASession
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.world import World
from outlook_support import company, sign_in

WINDOW = "startDateTime=2026-11-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z"


@pytest.fixture
def graph() -> Iterator[tuple[GraphStandIn, CASession]]:
    world = World()
    company(world)
    with GraphStandIn(world) as g, CASession() as session:
        sign_in(g, session)
        yield g, session


def _delta(g: GraphStandIn, s: CASession, mailbox: str, prefer: str = "") -> dict[str, Any]:
    url = f"{g.graph_url}/users/{mailbox}/calendarView/delta?{WINDOW}"
    r = s.get(url, headers={"Prefer": prefer} if prefer else {})
    assert r.status_code == 200
    return dict(r.json())


def test_times_come_in_the_zone_the_client_prefers(graph: tuple[GraphStandIn, CASession]) -> None:
    g, s = graph
    utc = _delta(g, s, "ann@acme.test")["value"]
    paris = _delta(g, s, "ann@acme.test", 'outlook.timezone="Europe/Paris"')["value"]
    first_utc = next(e for e in utc if e["type"] != "singleInstance")
    first_paris = next(e for e in paris if e["id"] == first_utc["id"])
    assert first_utc["start"]["timeZone"] == "UTC"
    assert first_paris["start"]["timeZone"] == "Europe/Paris"
    assert first_utc["start"]["dateTime"][:13] == "2026-11-02T10"
    assert first_paris["start"]["dateTime"][:13] == "2026-11-02T11"


def test_pages_follow_the_preferred_size(graph: tuple[GraphStandIn, CASession]) -> None:
    g, s = graph
    body = _delta(g, s, "ann@acme.test", "odata.maxpagesize=2")
    seen = len(body["value"])
    assert seen == 2 and "@odata.nextLink" in body
    while "@odata.nextLink" in body:
        body = s.get(body["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}).json()
        seen += len(body["value"])
    assert seen == len(_delta(g, s, "ann@acme.test")["value"])
    assert "$deltatoken=" in body["@odata.deltaLink"]


def test_batch_parts_stand_alone_and_twenty_is_the_limit(
    graph: tuple[GraphStandIn, CASession],
) -> None:
    g, s = graph

    def part(i: int, mailbox: str) -> dict[str, Any]:
        return {
            "id": str(i),
            "method": "GET",
            "url": f"/users/{mailbox}/calendarView/delta?{WINDOW}",
        }

    too_many = s.post(
        f"{g.graph_url}/$batch", json={"requests": [part(i, "ann@acme.test") for i in range(21)]}
    )
    assert too_many.status_code == 400
    g.fault(
        kind="delta",
        mailbox="bob@acme.test",
        status=429,
        retry_after="2",
        body={"error": {"code": "TooManyRequests"}},
    )
    r = s.post(
        f"{g.graph_url}/$batch",
        json={
            "requests": [
                part(1, "ann@acme.test"),
                part(2, "bob@acme.test"),
                part(3, "nobody@acme.test"),
            ]
        },
    )
    assert r.status_code == 200
    answers = {a["id"]: a for a in r.json()["responses"]}
    assert answers["1"]["status"] == 200 and answers["1"]["body"]["value"]
    assert (answers["2"]["status"], answers["2"]["headers"]["Retry-After"]) == (429, "2")
    assert answers["3"]["status"] == 404
    assert g.http_requests == 2  # two $batch POSTs, whatever their parts


def test_an_expired_delta_link_answers_410(graph: tuple[GraphStandIn, CASession]) -> None:
    g, s = graph
    link = _delta(g, s, "bob@acme.test")["@odata.deltaLink"]
    assert s.get(link).json()["value"] == []
    g.expire_delta_links("bob@acme.test")
    gone = s.get(link)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"


def test_a_person_on_google_has_no_mailbox_here(graph: tuple[GraphStandIn, CASession]) -> None:
    g, s = graph
    g.world.add_person("gus@acme.test", "Gus", side="google")
    r = s.get(f"{g.graph_url}/users/gus@acme.test/calendarView/delta?{WINDOW}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "ErrorInvalidUser"
