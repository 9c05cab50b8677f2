"""The Outlook connector against the Graph stand-in: real msal, real requests, over TLS.

Each test drives ``run_sync`` (what ``cadence sync`` runs) and checks what a user would see in
the store or in ``cadence status``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, select

from cadence.connectors.outlook_auth import CASession
from cadence.sandbox.tls import TLSFiles, make_client_certificate
from cadence.sandbox.world import Recurrence
from cadence.store.models import SyncState
from outlook_support import (
    CLIENT_ID,
    HALF_HOUR,
    MONDAY,
    NOW,
    SECRET,
    SECRET_ENV,
    Harness,
    harness,
    outlook_config,
)

ANN, BOB, CY = "ann@acme.test", "bob@acme.test", "cy@acme.test"
CANCELLED = datetime(2026, 11, 30, 10, tzinfo=UTC)
DECLINED = datetime(2026, 12, 7, 10, tzinfo=UTC)
MOVED = datetime(2026, 12, 14, 10, tzinfo=UTC)
MOVED_TO = datetime(2026, 12, 15, 11, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("graph_secret")


@pytest.fixture
def h(engine: Engine, db_url: str, tls: TLSFiles) -> Iterator[Harness]:
    with harness(engine, db_url, tls=tls) as h:
        yield h


@pytest.fixture
def hs(sqlite_url: str, tls: TLSFiles) -> Iterator[Harness]:
    """The same, on SQLite only, for tests where the database does not matter."""
    from cadence.store.database import make_engine

    engine = make_engine(sqlite_url)
    with harness(engine, sqlite_url, tls=tls) as h:
        yield h
    engine.dispose()


def _states(h: Harness) -> dict[str, SyncState]:
    with h.engine.connect() as conn:
        rows = conn.execute(select(SyncState.__table__)).mappings()
        return {r["mailbox"]: r for r in rows}  # type: ignore[misc]


def test_first_sync_reads_every_mailbox_with_one_token(h: Harness) -> None:
    summary = h.sync()
    assert [r.error for r in summary.results] == [None, None, None]
    # One msal app for the run: its cache served every worker after the first token.
    assert h.graph.token_requests == 1
    # Each series' master is fetched once, by the first of its participants' mailboxes.
    assert h.graph.by_kind["event"] == 2
    window_start = NOW - timedelta(days=180)
    window_end = NOW + timedelta(days=35)
    weekly = [
        t for t in (MONDAY + timedelta(weeks=i) for i in range(30)) if window_start < t < window_end
    ]
    ann_bob = [r for r in h.rows(ANN) if r["ical_uid"] == "ann-bob"]
    assert sorted(r["original_start"] for r in ann_bob) == weekly
    assert {r["recurrence"] for r in ann_bob} == {"RRULE:FREQ=WEEKLY;BYDAY=MO"}
    # The attendee's calendar holds the same occurrences, with the same identity.
    assert {r["ical_uid"] for r in ann_bob} == {
        r["ical_uid"] for r in h.rows(BOB) if r["ical_uid"] == "ann-bob"
    }
    oof = h.row(BOB, ical_uid="bob-oof", original_start=datetime(2026, 11, 20, tzinfo=UTC))
    assert (oof["event_type"], oof["all_day"], oof["recurrence"]) == ("outOfOffice", True, None)
    biweekly = h.rows(CY)[0]
    assert biweekly["recurrence"] == "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"
    first = h.attendees(ANN, ann_bob[0]["event_id"])
    assert {e: (a["response"], a["is_organizer"]) for e, a in first.items()} == {
        ANN: ("accepted", True),
        BOB: ("needsAction", False),
    }
    states = _states(h)
    assert all(s["token"] and "$deltatoken=" in s["token"] for s in states.values())
    assert {s["window_end"] for s in states.values()} == {window_end}


def test_incremental_sync_sees_a_cancel_from_both_sides_a_decline_a_move_and_a_new_series(
    h: Harness,
) -> None:
    h.sync()
    cancel_at = NOW + timedelta(hours=2)
    h.world.cancel_instance("ann-bob", CANCELLED, at=cancel_at)
    h.world.decline("ann-bob", BOB, DECLINED, at=cancel_at + timedelta(minutes=5))
    h.world.move_instance("ann-bob", MOVED, MOVED_TO, at=cancel_at)
    h.world.add_series(
        "ann-cy-new",
        ANN,
        [CY],
        datetime(2026, 12, 1, 9, tzinfo=UTC),
        HALF_HOUR,
        Recurrence("WEEKLY", interval=2, byday=("TU",)),
        at=cancel_at,
    )
    h.clock.now = NOW + timedelta(days=1)
    summary = h.sync()
    assert not summary.failed

    # Gone from the organizer's calendar view (@removed): cancelled, first seen by this sync.
    ann_copy = h.row(ANN, ical_uid="ann-bob", original_start=CANCELLED)
    assert ann_copy["status"] == "cancelled"
    assert ann_copy["cancel_seen_at"] == h.clock.now
    assert ann_copy["start"] == CANCELLED  # what the first sync knew is kept
    # Still in the attendee's, isCancelled: cancelled, at the source's lastModifiedDateTime.
    bob_copy = h.row(BOB, ical_uid="ann-bob", original_start=CANCELLED)
    assert (bob_copy["status"], bob_copy["cancelled_at"]) == ("cancelled", cancel_at)

    declined = h.row(ANN, ical_uid="ann-bob", original_start=DECLINED)
    bob = h.attendees(ANN, declined["event_id"])[BOB]
    assert declined["status"] == "confirmed"
    assert (bob["response"], bob["response_at"]) == ("declined", cancel_at + timedelta(minutes=5))

    for mailbox in (ANN, BOB):
        moved = h.row(mailbox, ical_uid="ann-bob", original_start=MOVED)
        assert (moved["start"], moved["status"]) == (MOVED_TO, "confirmed")

    new = [r for r in h.rows(CY) if (r["ical_uid"] or "").startswith("ann-cy-new")]
    assert new and {r["recurrence"] for r in new} == {"RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"}
    assert min(r["original_start"] for r in new) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    # Nothing else changed: the other occurrences still stand as confirmed.
    others = [r for r in h.rows(ANN) if r["original_start"] not in (CANCELLED,)]
    assert {r["status"] for r in others} == {"confirmed"}


def test_the_master_s_cancelled_occurrences_count_as_cancelled(hs: Harness) -> None:
    """An occurrence a copy still shows as live, but its master lists as cancelled."""
    hs.sync()
    hs.world.cancel_instance("ann-bob", CANCELLED, at=NOW)
    # The attendee's copy loses its isCancelled flag (the case the master's list covers).
    original = hs.graph._entry

    def without_flag(*args: object, **kw: object) -> dict:
        entry = original(*args, **kw)  # type: ignore[arg-type]
        entry["isCancelled"] = False
        return entry

    hs.graph._entry = without_flag  # type: ignore[method-assign]
    hs.clock.now = NOW + timedelta(days=1)
    assert not hs.sync().failed
    assert hs.row(BOB, ical_uid="ann-bob", original_start=CANCELLED)["status"] == "cancelled"


def test_a_no_change_round_costs_less_than_a_request_per_mailbox(hs: Harness) -> None:
    hs.sync()
    before = hs.graph.http_requests
    hs.clock.now = NOW + timedelta(hours=1)
    summary = hs.sync()
    assert not summary.failed and summary.events_saved == 0
    graph_calls = hs.graph.http_requests - before - 2  # less the new run's OpenID + token
    assert graph_calls == 1 == summary.requests  # one $batch for the three mailboxes


def test_an_expired_delta_link_starts_a_new_full_round(hs: Harness) -> None:
    hs.sync()
    tokens = {m: s["token"] for m, s in _states(hs).items()}
    rows = hs.rows()
    hs.graph.expire_delta_links()
    hs.clock.now = NOW + timedelta(hours=1)
    summary = hs.sync()
    assert not summary.failed
    after = _states(hs)
    assert all(after[m]["token"] != tokens[m] for m in tokens)
    assert {m: s["window_start"] for m, s in after.items()} == dict.fromkeys(
        tokens, hs.clock.now - timedelta(days=180)
    )
    strip = ("first_seen", "last_seen")
    assert [{k: v for k, v in r.items() if k not in strip} for r in hs.rows()] == [
        {k: v for k, v in r.items() if k not in strip} for r in rows
    ]


def test_a_sync_state_refused_with_400_also_starts_a_full_round(hs: Harness) -> None:
    hs.sync()
    invalid = {"error": {"code": "SyncStateInvalid", "message": "Invalid sync state."}}
    hs.graph.fault(kind="delta", mailbox=BOB, status=400, body=invalid)
    hs.clock.now = NOW + timedelta(hours=1)
    summary = hs.sync()
    assert not summary.failed
    assert _states(hs)[BOB]["window_start"] == hs.clock.now - timedelta(days=180)
    assert _states(hs)[ANN]["window_start"] == NOW - timedelta(days=180)


def test_a_cancel_hidden_by_an_expired_delta_link_is_still_seen(hs: Harness) -> None:
    """The organizer's @removed went with the expired link: the full round notices the gap."""
    hs.sync()
    hs.world.cancel_instance("ann-bob", CANCELLED, at=NOW)
    hs.graph.expire_delta_links()
    hs.clock.now = NOW + timedelta(hours=1)
    assert not hs.sync().failed
    for mailbox in (ANN, BOB):
        assert hs.row(mailbox, ical_uid="ann-bob", original_start=CANCELLED)["status"] == (
            "cancelled"
        )
    assert {r["status"] for r in hs.rows(ANN) if r["original_start"] != CANCELLED} == {"confirmed"}


def test_429_retry_after_is_honoured_for_a_request_and_for_a_batch_part(hs: Harness) -> None:
    throttled = {"error": {"code": "ApplicationThrottled", "message": "too many"}}
    hs.graph.fault(kind="delta", mailbox=BOB, status=429, retry_after="7", body=throttled)
    assert not hs.sync().failed
    assert hs.sleeps.waits == [7.0]
    hs.graph.fault(kind="delta", mailbox=CY, status=429, retry_after="3", body=throttled)
    hs.clock.now = NOW + timedelta(hours=1)
    assert not hs.sync().failed
    assert hs.sleeps.waits == [7.0, 3.0]


def test_other_faults_fail_their_mailbox_only(hs: Harness) -> None:
    denied = {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}
    hs.graph.fault(kind="delta", mailbox=CY, status=403, body=denied, times=None)
    hs.graph.fault(kind="delta", mailbox=BOB, status=503, body=None, times=None)
    hs.graph.fault(kind="delta", mailbox=ANN, action="drop", times=1)
    summary = hs.sync()
    errors = {r.mailbox: r.error for r in summary.results}
    assert errors[ANN] is None  # a dropped connection is retried
    assert errors[CY] is not None and "Calendars.Read" in errors[CY] and CY in errors[CY]
    assert errors[BOB] is not None and "gave up after 4 attempts" in errors[BOB]
    assert BOB in errors[BOB] and "503" in errors[BOB]
    states = _states(hs)
    assert states[ANN]["outcome"] == "ok" and states[ANN]["token"]
    assert (states[CY]["outcome"], states[CY]["token"]) == ("failed", None)
    assert hs.rows(ANN) and not hs.rows(CY) and not hs.rows(BOB)


def test_a_round_killed_between_pages_then_rerun_equals_an_uninterrupted_one(
    engine: Engine, db_url: str, sqlite_template: Path, tmp_path: Path, tls: TLSFiles
) -> None:
    from cadence.store.database import make_engine

    clean_db = tmp_path / "uninterrupted.db"
    shutil.copy(sqlite_template, clean_db)
    sqlite_url = f"sqlite:///{clean_db}"

    def small_pages(h: Harness) -> None:
        original = h.connect

        def connect(config, name):  # type: ignore[no-untyped-def]
            c = original(config, name)
            c.prefer = 'outlook.timezone="UTC", odata.maxpagesize=5'
            return c

        h.connect = connect  # type: ignore[method-assign]

    with harness(engine, db_url, tls=tls) as broken:
        small_pages(broken)
        # Every page after ann's second one fails: the round stops half-way, with no token.
        broken.graph.fault(kind="delta", mailbox=ANN, action="drop", skip=2, times=None)
        first = broken.sync()
        assert [r.mailbox for r in first.failed] == [ANN]
        assert len(broken.rows(ANN)) > 0
        assert _states(broken)[ANN]["token"] is None
        broken.graph.clear_faults()
        assert not broken.sync().failed
        interrupted = broken.rows()
    other = make_engine(sqlite_url)
    with harness(other, sqlite_url, tls=tls) as clean:
        small_pages(clean)
        assert not clean.sync().failed
        uninterrupted = clean.rows()
    other.dispose()

    def comparable(rows: list[dict]) -> list[dict]:
        # Event ids and times of day are the same by construction; first/last seen differ only
        # by the clock, which both runs share.
        return [{k: v for k, v in r.items() if k not in ("first_seen", "last_seen")} for r in rows]

    assert comparable(interrupted) == comparable(uninterrupted)


def test_a_master_one_mailbox_cannot_fetch_fails_that_mailbox_only(hs: Harness) -> None:
    # One worker: ann (first) claims the series' masters, fails, and the others fetch them.
    hs.config = replace(hs.config, sync=replace(hs.config.sync, concurrency=1))
    hs.graph.fault(kind="event", mailbox=ANN, status=500, body=None, times=None)
    summary = hs.sync()
    assert [r.mailbox for r in summary.failed] == [ANN]
    bob = hs.row(BOB, ical_uid="ann-bob", original_start=MONDAY)
    assert bob["recurrence"] == "RRULE:FREQ=WEEKLY;BYDAY=MO"


def test_a_wrong_secret_is_one_line_without_the_secret(
    hs: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Not-The-Secret-9f8e7d"
    monkeypatch.setenv(SECRET_ENV, wrong)
    summary = hs.sync()
    assert len(summary.failed) == 3
    assert hs.graph.token_requests == 1  # refused once: not asked again for every mailbox
    for r in summary.failed:
        assert r.error is not None
        assert "\n" not in r.error and wrong not in r.error and SECRET not in r.error
        assert "invalid_client" in r.error and "AADSTS7000215" in r.error
        assert CLIENT_ID in r.error and r.mailbox in r.error


def test_certificate_credentials_sign_in(hs: Harness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cert = make_client_certificate()
    hs.graph.register_app("cert-app", certificate=cert.certificate)
    pem = tmp_path / "cadence-app.pem"
    pem.write_text(cert.private_key_pem + cert.certificate_pem)
    hs.config = outlook_config(
        hs.graph,
        str(hs.engine.url),
        client_id="cert-app",
        client_secret_env="",
        certificate_file=str(pem),
        certificate_thumbprint=cert.thumbprint,
    )
    assert not hs.sync().failed
    # A certificate the app did not register is refused, naming neither key nor thumbprint's key.
    stranger = make_client_certificate()
    pem.write_text(stranger.private_key_pem)
    hs.config = outlook_config(
        hs.graph,
        str(hs.engine.url),
        client_id="cert-app",
        client_secret_env="",
        certificate_file=str(pem),
        certificate_thumbprint=stranger.thumbprint,
    )
    failed = hs.sync().failed
    assert len(failed) == 3 and "AADSTS700027" in (failed[0].error or "")
    assert "PRIVATE KEY" not in (failed[0].error or "")


def test_a_fifth_concurrent_request_to_one_mailbox_is_throttled(hs: Harness) -> None:
    hs.graph.latency = 0.3
    app_token = hs.graph.entra.token(
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "scope": f"{hs.graph.url}/.default",
        },
        hs.graph.token_endpoint,
    )[1]["access_token"]
    url = (
        f"{hs.graph.graph_url}/users/{ANN}/calendarView/delta"
        "?startDateTime=2026-11-01T00:00:00Z&endDateTime=2026-11-08T00:00:00Z"
    )
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def call() -> None:
        with CASession() as s:
            s.verify = str(hs.graph.ca_file)
            r = s.get(url, headers={"Authorization": f"Bearer {app_token}"}, timeout=10)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 200, 200, 429]
    assert next(r for r in answers if r.status_code == 429).headers["Retry-After"] == "1"


def test_graph_refuses_a_made_up_token(hs: Harness) -> None:
    with CASession() as s:
        s.verify = str(hs.graph.ca_file)
        r = s.get(f"{hs.graph.graph_url}/users", headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401


def test_the_stand_in_s_certificate_is_not_trusted_without_its_ca(hs: Harness) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{hs.graph.graph_url}/users", timeout=5)


def test_the_directory_is_read_page_by_page_with_managers(
    hs: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadence.connectors import outlook

    hs.world.add_person("Dee@Acme.test", "Dee", "cy@acme.test", side="outlook")
    hs.world.add_person("gone@acme.test", "Gone", "ann@acme.test", side="outlook", suspended=True)
    hs.world.add_person("gus@acme.test", "Gus", "ann@acme.test", side="google")
    monkeypatch.setattr(outlook, "USERS_PAGE", 2)
    people = hs.connect(hs.config, "m365").fetch_directory().people
    assert sorted((p.email, p.manager_email, p.source) for p in people) == [
        (ANN, None, "m365"),
        (BOB, ANN, "m365"),
        (CY, ANN, "m365"),
        ("dee@acme.test", CY, "m365"),
    ]
    assert hs.graph.by_kind["users"] == 3  # five users on the tenant, two a page
    assert hs.graph.by_kind["mailboxSettings"] == 4  # each listed user's time zone, once
