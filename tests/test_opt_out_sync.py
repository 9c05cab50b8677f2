"""``[org] exclude`` at sync time: an opted-out person's mailbox is never asked for, on Google or
on Microsoft 365, and others' invitations store an anonymous placeholder where their address was.

Real syncs against the Google and Graph stand-ins, whose request counters say which mailboxes
were asked about (the parts of a Graph ``$batch`` included); on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cadence.config import Config, parse_config
from cadence.errors import InputError
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.normalised import OrgPerson
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.graph import GraphStandIn
from cadence.sandbox.tls import TLSFiles
from cadence.sandbox.world import ManualClock, Recurrence, World
from cadence.store.models import Attendee, Event, Mailbox, SyncState
from cadence.store.people import replace_chart
from outlook_support import HALF_HOUR, Clock, company, harness
from test_org_cli import cadence as org_cli
from test_org_cli import directory_servers, workdir  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("graph_secret")

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
START = datetime(2026, 9, 7, 10, tzinfo=UTC)
ANN, BOB, CAT = "ann@acme.test", "bob@acme.test", "cat@acme.test"
CAT_ALIAS = "c.alias@acme.test"
CY = "cy@acme.test"
PLACEHOLDER_END = "@forgotten.invalid"


def opted_out(config: Config, *emails: str) -> Config:
    return replace(config, org=replace(config.org, exclude=emails))


def stored(engine: Engine) -> tuple[set[str], set[str], set[str]]:
    """Every address in the store's calendar tables: (attendees, organizers, mailboxes)."""
    with engine.connect() as conn:
        attendees = set(conn.execute(select(Attendee.email)).scalars())
        organizers = set(conn.execute(select(Event.organizer)).scalars()) - {None}
        mailboxes = set(conn.execute(select(SyncState.mailbox)).scalars())
        mailboxes |= set(conn.execute(select(Mailbox.email)).scalars())
        mailboxes |= set(conn.execute(select(Event.mailbox)).scalars())
    return attendees, organizers, mailboxes  # type: ignore[return-value]


def attendee_lists(engine: Engine, mailbox: str, uid: str) -> list[list[str]]:
    e, a = Event.__table__, Attendee.__table__
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                select(e.c.event_id).where(e.c.mailbox == mailbox, e.c.ical_uid == uid)
            ).scalars()
        )
        return [
            sorted(
                conn.execute(
                    select(a.c.email).where(a.c.mailbox == mailbox, a.c.event_id == i)
                ).scalars()
            )
            for i in ids
        ]


# -- Google ----------------------------------------------------------------------------------------


class Google:
    def __init__(self, stand_in: GoogleStandIn, config: Config, engine: Engine) -> None:
        self.stand_in, self.config, self.engine = stand_in, config, engine
        self.clock = ManualClock(NOW)

    def sync(self, config: Config | None = None, **kw: Any) -> SyncSummary:
        summary = run_sync(config or self.config, self.engine, now=self.clock, **kw)
        assert not summary.failed, summary.failed
        return summary


@pytest.fixture
def google(tmp_path: Path, engine: Engine) -> Iterator[Google]:
    """Ann manages Bob and Cat; Cat (alias c.alias@) organises her 1:1 with Ann and is invited,
    once by her alias, to meetings of three."""
    w = World(ManualClock(NOW))
    w.add_person(ANN, "Ann Boss")
    w.add_person(BOB, "Bob", ANN)
    w.add_person(CAT, "Cat", ANN)
    weekly, at = Recurrence("WEEKLY"), START - timedelta(days=30)
    w.add_series("s-ann-bob", ANN, [BOB], START, HALF_HOUR, weekly, at=at)
    w.add_series("s-cat-ann", CAT, [ANN], START + timedelta(hours=2), HALF_HOUR, weekly, at=at)
    w.add_series("s-three", ANN, [BOB, CAT], START + timedelta(days=2), HALF_HOUR, weekly, at=at)
    w.add_one_off("o-alias", BOB, [ANN, CAT_ALIAS], NOW - timedelta(days=6), HALF_HOUR, at=at)
    with GoogleStandIn(w, undelegated=set()) as stand_in:
        key = stand_in.write_key(tmp_path / "sa.json")
        config = parse_config(
            {
                "database": {"url": str(engine.url)},
                "sources": {
                    "acme": {
                        "kind": "google",
                        "service_account_file": str(key),
                        "admin_email": ANN,
                        "api_endpoint": stand_in.calendar_endpoint,
                        "directory_endpoint": stand_in.directory_endpoint,
                    }
                },
            },
            tmp_path / "cadence.toml",
        )
        replace_chart(
            engine,
            [
                OrgPerson(ANN, "Ann Boss", source="acme"),
                OrgPerson(BOB, "Bob", ANN, source="acme"),
                OrgPerson(CAT, "Cat", ANN, source="acme", aliases=(CAT_ALIAS,)),
            ],
        )
        yield Google(stand_in, config, engine)


def test_an_opted_out_mailbox_gets_no_request_and_others_store_a_placeholder(
    google: Google,
) -> None:
    summary = google.sync(opted_out(google.config, "  CAT@acme.test "))
    assert [r.mailbox for r in summary.results] == [ANN, BOB]
    assert google.stand_in.by_mailbox[CAT] == 0 and google.stand_in.by_mailbox[ANN] > 0
    attendees, organizers, mailboxes = stored(google.engine)
    assert CAT not in attendees | organizers | mailboxes and CAT_ALIAS not in attendees
    # One placeholder for her in this run, whichever of her addresses listed her.
    (organizer,) = {o for o in organizers if o.endswith(PLACEHOLDER_END)}
    # Her 1:1 with Ann, as Ann's calendar holds it: organised by the placeholder, still two.
    for listed in attendee_lists(google.engine, ANN, "s-cat-ann"):
        assert listed == sorted([ANN, organizer])
    for mailbox in (ANN, BOB):
        for listed in attendee_lists(google.engine, mailbox, "s-three"):
            assert listed == sorted([ANN, BOB, organizer])
        assert attendee_lists(google.engine, mailbox, "o-alias") == [sorted([ANN, BOB, organizer])]


def test_naming_an_opted_out_mailbox_is_refused_before_any_request(google: Google) -> None:
    with pytest.raises(InputError, match=r"never synced \(opted out or forgotten\): cat@acme.test"):
        google.sync(opted_out(google.config, CAT), mailboxes=[CAT])
    assert google.stand_in.total == 0


def test_opting_out_later_and_syncing_in_full_rewrites_others_invitations(google: Google) -> None:
    google.sync()
    assert CAT in stored(google.engine)[0]
    google.stand_in.reset_counts()
    google.clock.advance(timedelta(days=1))
    google.sync(opted_out(google.config, CAT), full=True)
    assert google.stand_in.by_mailbox[CAT] == 0
    for mailbox in (ANN, BOB):
        for listed in attendee_lists(google.engine, mailbox, "s-three"):
            assert CAT not in listed and len(listed) == 3


# -- Microsoft 365 -------------------------------------------------------------------------------


def test_graph_sends_no_request_for_an_opted_out_mailbox_not_even_in_a_batch(
    engine: Engine, db_url: str, tls: TLSFiles
) -> None:
    world = World(clock=Clock())
    company(world)  # ann manages bob and cy; cy organises a biweekly 1:1 with ann
    world.add_series(
        "ann-bob-cy",
        ANN,
        [BOB, CY],
        START + timedelta(days=3),
        HALF_HOUR,
        Recurrence("WEEKLY"),
        at=START - timedelta(days=30),
    )
    with harness(engine, db_url, world, tls) as h:
        h.config = opted_out(h.config, CY)
        summary = h.sync()
        assert not summary.failed and [r.mailbox for r in summary.results] == [ANN, BOB]
        assert h.graph.by_mailbox[CY] == 0 and h.graph.by_mailbox[ANN] > 0
        attendees, organizers, mailboxes = stored(engine)
        assert CY not in attendees | organizers | mailboxes
        cy_ann = [r for r in h.rows(ANN) if r["ical_uid"] == "cy-ann"]
        assert cy_ann and {r["organizer"] for r in cy_ann} <= {
            o for o in organizers if o.endswith(PLACEHOLDER_END)
        }
        three = [r for r in h.rows(BOB) if r["ical_uid"] == "ann-bob-cy"]
        assert three
        for row in three:
            listed = sorted(h.attendees(BOB, row["event_id"]))
            assert len(listed) == 3 and listed[:2] == [ANN, BOB]
            assert listed[2].endswith(PLACEHOLDER_END)


def test_org_pull_reads_no_zone_of_someone_who_opted_out(
    directory_servers: tuple[World, GoogleStandIn, GraphStandIn],  # noqa: F811 - the fixture
    workdir: Path,  # noqa: F811 - the fixture
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Pulling the chart asks each person's own calendar (Google) or mailbox settings (Graph)
    for their time zone; for dan (Google) and bob (Microsoft), who opted out, it asks nothing."""
    _world, google, graph = directory_servers
    config = workdir / "cadence.toml"
    config.write_text('[org]\nexclude = ["dan@acme.test", "BOB@acme.test"]\n' + config.read_text())
    code, _out, err = org_cli(capsys, db_url, "org", "pull")
    assert code == 0, err
    assert google.by_mailbox["ann@acme.test"] > 0 and graph.by_mailbox["cat@acme.test"] > 0
    assert google.by_mailbox["dan@acme.test"] == 0
    assert graph.by_mailbox["bob@acme.test"] == 0
