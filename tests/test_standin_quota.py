"""The stand-ins' quota (a source-wide budget of requests a minute, answered in each provider's
shape) seen by the clients the connectors use, and the lean company benchmarks serve.

Buckets that must be exact run on a manual clock; the pacing test runs on the real one, as a
benchmark does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
import pytest
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from hypothesis import given, settings
from hypothesis import strategies as st

from cadence.connectors.outlook_auth import CASession
from cadence.sandbox.company import build_company
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.server import TokenBucket
from cadence.sandbox.world import ManualClock, Recurrence, World
from outlook_support import company as outlook_company
from outlook_support import sign_in

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
ANN, BOB = "ann@acme.test", "bob@acme.test"
WINDOW = "startDateTime=2026-06-01T00:00:00Z&endDateTime=2026-12-31T00:00:00Z"


class Seconds:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the bucket ---------------------------------------------------------------------------------


def test_the_bucket_serves_its_burst_then_what_refills() -> None:
    clock = Seconds()
    bucket = TokenBucket(60, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [None, None, None]
    assert bucket.take() == pytest.approx(1.0)  # a token a second: one second to wait
    clock.now += 0.5
    assert bucket.take() == pytest.approx(0.5)  # refused: nothing spent, half a token there
    clock.now += 0.5
    assert bucket.take() is None
    assert bucket.take() is not None
    clock.now += 3600  # a long pause refills to the burst, no further
    assert [bucket.take() for _ in range(4)] == [None, None, None, pytest.approx(1.0)]
    assert TokenBucket(600).burst == 50  # by default, five seconds' worth


@settings(max_examples=60, deadline=None)
@given(
    per_minute=st.integers(6, 6000),
    server_burst=st.integers(1, 20),
    client_burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=120),
)
def test_a_client_pacing_at_the_budget_with_no_larger_burst_is_never_refused(
    per_minute: int, server_burst: int, client_burst: int, gaps: list[float]
) -> None:
    """The client sends as soon as its own bucket (same rate) allows after each wish to send
    (gaps are in units of the refill interval, zero included: a client eager to send)."""
    client_burst = min(client_burst, server_burst)
    clock = Seconds()
    server = TokenBucket(per_minute, burst=server_burst, clock=clock)
    client = TokenBucket(per_minute, burst=client_burst, clock=clock)
    for gap in gaps:
        clock.now += gap * 60 / per_minute
        while (wait := client.take()) is not None:
            clock.now += wait
        assert server.take() is None


def test_a_client_with_a_larger_burst_than_the_stand_in_is_refused() -> None:
    clock = Seconds()
    server, client = TokenBucket(60, 3, clock), TokenBucket(60, 5, clock)
    refused = 0
    for _ in range(5):
        assert client.take() is None
        refused += server.take() is not None
    assert refused == 2


def test_setting_the_quota_starts_a_full_bucket_and_none_turns_it_off() -> None:
    stand_in = GoogleStandIn(World(), quota_per_minute=120, quota_burst=4)
    assert stand_in.quota is not None and stand_in.quota.burst == 4
    stand_in.quota_per_minute = 600
    assert stand_in.quota_per_minute == 600 and stand_in.quota_burst == 4
    stand_in.quota_burst = None
    assert stand_in.quota_burst == 50
    stand_in.quota_per_minute = None
    assert stand_in.quota is None and GoogleStandIn(World()).quota is None


# -- Google -------------------------------------------------------------------------------------


def small_world(side: str) -> World:
    world = World(ManualClock(NOW))
    world.add_person(ANN, "Ann", side=side)
    world.add_person(BOB, "Bob", ANN, side=side)
    world.add_series(
        "ann-bob",
        ANN,
        [BOB],
        NOW - timedelta(weeks=10),
        timedelta(minutes=30),
        Recurrence("WEEKLY"),
        at=NOW - timedelta(weeks=11),
    )
    return world


def calendar(stand_in: GoogleStandIn, key: Path, subject: str) -> Any:
    """The events resource as the Google connector builds it, for ``subject``'s calendar."""
    creds = service_account.Credentials.from_service_account_file(
        str(key), scopes=[CALENDAR_SCOPE]
    ).with_subject(subject)
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=10))
    service = build(
        "calendar",
        "v3",
        http=http,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": stand_in.calendar_endpoint},
    )
    return service.events()


def listing(events: Any) -> dict[str, Any]:
    """One call of ``events.list`` on ann's calendar, over the weeks around now."""
    request = events.list(
        calendarId=ANN,
        singleEvents=True,
        timeMin=(NOW - timedelta(weeks=4)).isoformat(),
        timeMax=(NOW + timedelta(weeks=4)).isoformat(),
    )
    return dict(request.execute(num_retries=0))


@pytest.fixture
def google(tmp_path: Path) -> Iterator[tuple[GoogleStandIn, Any]]:
    with GoogleStandIn(small_world("google")) as stand_in:
        yield stand_in, calendar(stand_in, stand_in.write_key(tmp_path / "sa.json"), ANN)


def test_google_answers_over_the_quota_with_403_rate_limit_exceeded(
    google: tuple[GoogleStandIn, Any],
) -> None:
    stand_in, events = google
    clock = Seconds()
    stand_in.quota = TokenBucket(60, burst=3, clock=clock)
    for _ in range(3):
        assert listing(events)["items"]
    with pytest.raises(HttpError) as refused:
        listing(events)
    assert refused.value.status_code == 403
    assert refused.value.resp.get("retry-after") is None  # Google gives none
    body = json.loads(refused.value.content)
    assert body["error"]["code"] == 403
    assert body["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    assert body["error"]["errors"][0]["domain"] == "usageLimits"
    # The token endpoint was called and is free: three calls fit a burst of three.
    assert stand_in.by_kind["token"] == 1
    assert (stand_in.by_kind["events.list"], stand_in.quota_refused) == (3, 1)
    clock.now += 1.0
    assert listing(events)["items"]
    assert (stand_in.by_kind["events.list"], stand_in.quota_refused) == (4, 1)


def test_a_client_pacing_at_the_budget_in_real_time_is_never_refused(
    google: tuple[GoogleStandIn, Any],
) -> None:
    stand_in, events = google
    stand_in.quota_burst = 5
    stand_in.quota_per_minute = 600  # ten a second
    listing(events)  # fetches the token
    time.sleep(0.5)  # the burst back
    start = time.monotonic()
    for i in range(25):  # 2.4 s paced: far more than the burst
        time.sleep(max(0.0, start + i / 10 - time.monotonic()))
        listing(events)
    assert stand_in.quota_refused == 0 and stand_in.by_kind["events.list"] == 26
    # The same calls unpaced run into the budget: pacing is what kept them in.
    for _ in range(25):
        try:
            listing(events)
        except HttpError as exc:
            assert exc.status_code == 403
    assert stand_in.quota_refused > 0


def test_latency_is_slept_concurrently_not_one_request_after_another(
    google: tuple[GoogleStandIn, Any],
) -> None:
    stand_in, _ = google
    stand_in.latency = 0.4
    url = f"{stand_in.calendar_endpoint}calendars/{ANN}/events"
    statuses: list[int] = []

    def call() -> None:
        response, _ = httplib2.Http(timeout=10).request(url)
        statuses.append(response.status)

    threads = [threading.Thread(target=call) for _ in range(10)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert statuses == [401] * 10
    assert 0.4 <= elapsed < 2.0  # one after another: 4 s


# -- Graph --------------------------------------------------------------------------------------


@pytest.fixture
def graph() -> Iterator[tuple[GraphStandIn, CASession, Seconds]]:
    world = World()
    outlook_company(world)
    clock = Seconds()
    with GraphStandIn(world) as stand_in, CASession() as session:
        sign_in(stand_in, session)
        stand_in.quota = TokenBucket(60, burst=3, clock=clock)
        yield stand_in, session, clock


def _delta_url(stand_in: GraphStandIn, mailbox: str) -> str:
    return f"{stand_in.graph_url}/users/{mailbox}/calendarView/delta?{WINDOW}"


def test_graph_answers_over_the_quota_with_429_and_retry_after(
    graph: tuple[GraphStandIn, CASession, Seconds],
) -> None:
    stand_in, session, clock = graph
    for _ in range(3):  # the token request before them was free
        assert session.get(_delta_url(stand_in, ANN)).status_code == 200
    refused = session.get(_delta_url(stand_in, ANN))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "TooManyRequests"
    assert (stand_in.by_kind["delta"], stand_in.quota_refused) == (3, 1)
    stand_in.quota = TokenBucket(6, burst=1, clock=clock)  # a token every ten seconds
    assert session.get(_delta_url(stand_in, ANN)).status_code == 200
    assert session.get(_delta_url(stand_in, ANN)).headers["Retry-After"] == "10"
    clock.now += 4.5
    assert session.get(_delta_url(stand_in, ANN)).headers["Retry-After"] == "6"  # rounded up


def test_batch_parts_over_the_quota_fail_one_by_one_inside_a_200(
    graph: tuple[GraphStandIn, CASession, Seconds],
) -> None:
    stand_in, session, clock = graph
    stand_in.quota = TokenBucket(60, burst=5, clock=clock)

    def batch(n: int) -> dict[str, dict[str, Any]]:
        parts = [
            {
                "id": str(i),
                "method": "GET",
                "url": f"/users/{(ANN, BOB)[i % 2]}/calendarView/delta?{WINDOW}",
            }
            for i in range(1, n + 1)
        ]
        r = session.post(f"{stand_in.graph_url}/$batch", json={"requests": parts})
        assert r.status_code == 200
        return {a["id"]: a for a in r.json()["responses"]}

    answers = batch(8)
    served = {i for i, a in answers.items() if a["status"] == 200}
    assert served == {"1", "2", "3", "4", "5"}  # each part one request, in order
    for i in ("6", "7", "8"):
        assert answers[i]["status"] == 429
        assert answers[i]["headers"]["Retry-After"] == "1"
        assert answers[i]["body"]["error"]["code"] == "TooManyRequests"
    assert (stand_in.by_kind["delta"], stand_in.batch_parts, stand_in.quota_refused) == (5, 5, 3)
    assert stand_in.by_kind["batch"] == 1  # the envelope, answered, and charged nothing
    clock.now += 2.0
    answers = batch(4)
    assert sorted(a["status"] for a in answers.values()) == [200, 200, 429, 429]
    assert stand_in.quota_refused == 5
    # An empty budget still answers the batch; every part is refused in it.
    assert [a["status"] for a in batch(3).values()] == [429] * 3
    assert stand_in.quota_refused == 8 and stand_in.by_kind["delta"] == 7


# -- the lean company ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lean() -> World:
    world = World(ManualClock(NOW))
    build_company(world, size=500, seed=3, lean=True)
    return world


def test_the_lean_company_gives_every_mailbox_a_handful_of_one_on_ones(lean: World) -> None:
    assert len(lean.people) == 500
    sides = [p.side for p in lean.people.values()]
    assert sides.count("google") == 250 and sides.count("outlook") == 250
    reports: dict[str, int] = {}
    for p in lean.people.values():
        if p.manager:
            reports[p.manager] = reports.get(p.manager, 0) + 1
    assert max(reports.values()) <= 9  # no manager with a crowd under them
    for email in lean.people:
        pairs = [s for s in lean.series_of(email) if len(s.participants()) == 2]
        assert 2 <= len(pairs) <= 16, email


def test_both_stand_ins_serve_the_lean_company_and_a_no_change_listing_is_empty(
    lean: World, tmp_path: Path
) -> None:
    by_side = {
        side: next(p.email for p in lean.people.values() if p.side == side and p.manager)
        for side in ("google", "outlook")
    }
    elsewhere = next(
        s
        for s in lean.series.values()
        if not s.participants() & set(by_side.values()) and s.recurrence is not None
    )
    with GoogleStandIn(lean) as google, GraphStandIn(lean) as graph, CASession() as session:
        mailbox = by_side["google"]
        events = calendar(google, google.write_key(tmp_path / "sa.json"), mailbox)
        full = events.list(
            calendarId=mailbox,
            singleEvents=True,
            showDeleted=True,
            maxResults=2500,
            timeMin=(NOW - timedelta(days=180)).isoformat(),
            timeMax=(NOW + timedelta(days=35)).isoformat(),
        ).execute(num_retries=0)
        assert len(full["items"]) > 20 and "nextPageToken" not in full

        def google_since(token: str) -> dict[str, Any]:
            return dict(
                events.list(calendarId=mailbox, singleEvents=True, syncToken=token).execute(
                    num_retries=0
                )
            )

        sign_in(graph, session)
        session.headers["Prefer"] = "odata.maxpagesize=1000"
        first = session.get(_delta_url(graph, by_side["outlook"])).json()
        assert len(first["value"]) > 20 and "@odata.deltaLink" in first

        unchanged = google_since(full["nextSyncToken"])
        assert unchanged["items"] == []
        again = session.get(first["@odata.deltaLink"]).json()
        assert again["value"] == []

        # A change in somebody else's calendar is not theirs; one in their own 1:1 is.
        t = elsewhere.original_starts(NOW, NOW + timedelta(days=15))[0]
        lean.cancel_instance(elsewhere.uid, t)
        assert google_since(unchanged["nextSyncToken"])["items"] == []
        assert session.get(again["@odata.deltaLink"]).json()["value"] == []
        for side, mailbox_now in by_side.items():
            own = next(
                s
                for s in lean.series_of(mailbox_now)
                if s.participants() & set(by_side.values()) == {mailbox_now}
                and len(s.participants()) == 2
            )
            lean.cancel_instance(own.uid, own.original_starts(NOW, NOW + timedelta(days=15))[0])
            if side == "google":
                changed = google_since(unchanged["nextSyncToken"])["items"]
                assert [i["status"] for i in changed] == ["cancelled"]
            else:
                changed = session.get(again["@odata.deltaLink"]).json()["value"]
                assert len(changed) == 1
