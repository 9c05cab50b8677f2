"""``cadence forget``: a person erased from every table, everyone else's figures as they were, and
later syncs and org imports kept from bringing them back; on SQLite and PostgreSQL.

A small company on the Google stand-in is synced for real; then the store is searched row by row,
column by column, for the forgotten person's addresses and name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from cadence.cli import main
from cadence.config import Config, parse_config
from cadence.errors import LockHeld
from cadence.jobs.figures import compute, results
from cadence.jobs.forget import forget, undo
from cadence.jobs.org import ChartSaved, import_csv
from cadence.jobs.report_all import save_figures
from cadence.jobs.run_log import logged_run
from cadence.jobs.sync import SyncSummary, run_sync
from cadence.sandbox.google import GoogleStandIn
from cadence.sandbox.world import ManualClock, Recurrence, World
from cadence.store.lock import run_lock
from cadence.store.models import Attendee, Base, Event, ForgottenPerson
from cadence.store.people import load_chart
from cadence.store.saved import saved_weeks
from cadence.store.sync_state import record_outcome
from cadence.store.web_sessions import add_session

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
MON = datetime(2026, 11, 23, 10, tzinfo=UTC)
WEEK = timedelta(days=7)
HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)
START = MON - 12 * WEEK
ZED, ANN, BOB, CAT = "zed@acme.test", "ann@acme.test", "bob@acme.test", "cat@acme.test"
DAN, EVE = "dan@acme.test", "eve@acme.test"
CATHY = "cathy@acme.test"  # Cat's alias
CAT_NAME = "Catherine Forgettable"
TRACES = (CAT, CATHY, CAT_NAME.lower())

CHART = f"""\
email,name,manager_email,source,aliases
{ZED},Zed Top,,acme,
{ANN},Ann Boss,{ZED},acme,
{BOB},Bob Report,{ANN},acme,
{CAT},{CAT_NAME},{ANN},acme,{CATHY}
{DAN},Dan Report,{ANN},acme,
{EVE},Eve Report,{CATHY},acme,
"""


def build_world(clock: ManualClock) -> World:
    """Zed manages Ann; Ann manages Bob, Cat and Dan; Cat manages Eve. Weekly 1:1s of every
    pair, and meetings of three that Cat is in: none of them may ever count as a 1:1."""
    w = World(clock)
    for email, name, manager in (
        (ZED, "Zed Top", None),
        (ANN, "Ann Boss", ZED),
        (BOB, "Bob Report", ANN),
        (CAT, CAT_NAME, ANN),
        (DAN, "Dan Report", ANN),
        (EVE, "Eve Report", CAT),
    ):
        w.add_person(email, name, manager)
    at = START - WEEK
    weekly = Recurrence("WEEKLY")
    w.add_series("s-zed-ann", ZED, [ANN], START, HALF_HOUR, weekly, at=at)
    w.add_series("s-ann-bob", ANN, [BOB], START + HOUR, HALF_HOUR, weekly, at=at)
    w.add_series("s-ann-cat", CAT, [ANN], START + 2 * HOUR, HALF_HOUR, weekly, at=at)
    w.add_series(
        "s-ann-dan", ANN, [DAN], START + 24 * HOUR, HALF_HOUR, Recurrence("WEEKLY", 2), at=at
    )
    w.add_series("s-cat-eve", CAT, [EVE], START + 26 * HOUR, HALF_HOUR, weekly, at=at)
    # Three people each: Ann's with Bob and Cat, Cat's with Ann and Dan (Cat organises), and a
    # one-off of Bob's that invites Cat by her alias.
    w.add_series("s-ann-bob-cat", ANN, [BOB, CAT], START + 48 * HOUR, HALF_HOUR, weekly, at=at)
    w.add_series("s-cat-ann-dan", CAT, [ANN, DAN], START + 73 * HOUR, HALF_HOUR, weekly, at=at)
    w.add_one_off("o-bob-ann-cathy", BOB, [ANN, CATHY], MON - WEEK + 75 * HOUR, HOUR, at=at)
    w.cancel_instance("s-ann-bob", START + 9 * WEEK + HOUR, at=START + 9 * WEEK)
    w.cancel_instance("s-ann-dan", START + 8 * WEEK + 24 * HOUR, at=START + 8 * WEEK)
    return w


@dataclass
class Company:
    world: World
    stand_in: GoogleStandIn
    clock: ManualClock
    config: Config
    engine: Engine
    folder: Path

    def sync(self, **kw: Any) -> SyncSummary:
        summary = run_sync(self.config, self.engine, now=self.clock, **kw)
        assert not summary.failed, summary.failed
        return summary

    def import_chart(self, text: str = CHART) -> ChartSaved:
        path = self.folder / "people.csv"
        path.write_text(text)
        return import_csv(lambda: self.engine, self.config, path)


@pytest.fixture
def company(tmp_path: Path, engine: Engine) -> Iterator[Company]:
    """The company synced once, with what else the store keeps of people: a failed sync's
    error and a run summary that name Cat, her web session, and a saved week of reports."""
    clock = ManualClock(NOW)
    world = build_world(clock)
    with GoogleStandIn(world, undelegated=set()) as stand_in:
        key = stand_in.write_key(tmp_path / "sa.json")
        config = parse_config(
            {
                "database": {"url": str(engine.url)},
                "sources": {
                    "acme": {
                        "kind": "google",
                        "service_account_file": str(key),
                        "admin_email": ZED,
                        "api_endpoint": stand_in.calendar_endpoint,
                        "directory_endpoint": stand_in.directory_endpoint,
                    }
                },
            },
            tmp_path / "cadence.toml",
        )
        c = Company(world, stand_in, clock, config, engine, tmp_path)
        c.import_chart()
        c.sync()
        record_outcome(
            engine, "acme", BOB, ran_at=NOW, error=f"could not read {CAT.upper()} ({CAT_NAME})"
        )
        with logged_run(engine, "sync", clock) as run:
            run.summary = {"note": f"{CATHY} and {CAT} were slow", "requests": 3}
        add_session(engine, "f" * 64, CAT, NOW)
        add_session(engine, "b" * 64, BOB, NOW)
        save_figures(engine, config, NOW, results(engine, config, NOW, None))
        yield c


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two dumps are equal when nothing changed."""
    with engine.connect() as conn:
        return {
            t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
            for t in Base.metadata.sorted_tables
        }


def traces(engine: Engine, needles: tuple[str, ...] = TRACES) -> list[str]:
    """Every (table, column, value) in which a needle shows, case-insensitively."""
    found = []
    for table, rows in dump(engine).items():
        names = [c.name for c in Base.metadata.tables[table].columns]
        for row in rows:
            for column, value in zip(names, row, strict=True):
                text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                if any(n in text.lower() for n in needles):
                    found.append(f"{table}.{column}: {text[:80]!r}")
    return found


def pair_figures(c: Company) -> pd.DataFrame:
    """Every pair's and skip-level pair's figures, by (kind, manager, report)."""
    pairs = compute(c.engine, c.config, NOW).pairs
    return pairs.reset_index(drop=True).set_index(["kind", "manager", "report"]).sort_index()


def attendees_of(engine: Engine, mailbox: str, uid: str) -> list[list[str]]:
    """The attendee lists of ``mailbox``'s copies of ``uid``'s events."""
    e, a = Event.__table__, Attendee.__table__
    with engine.connect() as conn:
        ids = conn.execute(
            select(e.c.event_id).where(e.c.mailbox == mailbox, e.c.ical_uid == uid)
        ).scalars()
        return [
            sorted(
                conn.execute(
                    select(a.c.email).where(a.c.mailbox == mailbox, a.c.event_id == i)
                ).scalars()
            )
            for i in ids
        ]


def organizers_of(engine: Engine, mailbox: str, uid: str) -> set[str | None]:
    e = Event.__table__
    with engine.connect() as conn:
        query = select(e.c.organizer).where(e.c.mailbox == mailbox, e.c.ical_uid == uid)
        return set(conn.execute(query).scalars())


def test_forget_leaves_no_trace_and_every_other_pair_as_it_was(company: Company) -> None:
    c = company
    assert traces(c.engine), "the setup must hold Cat somewhere"
    before = pair_figures(c)
    involved = [CAT in (m, r) for _, m, r in before.index]
    assert any(involved) and not all(involved)

    done = forget(c.engine, CATHY)  # by her alias: the chart knows the rest

    assert done.email == CAT and done.aliases == (CATHY,)
    assert traces(c.engine) == []
    after = pair_figures(c)
    # Every pair with Cat on a side (and Ann's skip-level pair with Eve, through Cat) is gone;
    # every other pair's figures are exactly what they were.
    kept = before[[not gone for gone in involved]].drop(index=("skip", ANN, EVE), errors="ignore")
    pd.testing.assert_frame_equal(after.drop(columns="via"), kept.drop(columns="via"))
    assert (ANN, BOB) in [(m, r) for _, m, r in after.index]
    # Eve's manager was Cat: she is now at the top of her own line.
    chart = {p.email: p for p in load_chart(c.engine)}
    assert CAT not in chart and chart[EVE].manager_email is None
    # The meetings of three still list three people, one of them anonymous, on every copy.
    for mailbox in (ANN, BOB):
        for listed in attendees_of(c.engine, mailbox, "s-ann-bob-cat"):
            assert len(listed) == 3 and listed[:2] == [ANN, BOB]
            assert listed[2].startswith("forgotten-") and listed[2].endswith("@forgotten.invalid")
    for listed in attendees_of(c.engine, BOB, "o-bob-ann-cathy"):
        assert len(listed) == 3
    # One placeholder for Cat throughout this run, whichever address listed her.
    organizers = organizers_of(c.engine, DAN, "s-cat-ann-dan")
    (placeholder,) = organizers
    assert placeholder in attendees_of(c.engine, BOB, "o-bob-ann-cathy")[0]
    # Only hashes are kept, one per address; and the saved weeks are gone.
    with c.engine.connect() as conn:
        hashes = conn.execute(select(ForgottenPerson.email_hash)).scalars().all()
    assert len(hashes) == 2 and all(len(h) == 64 for h in hashes)
    assert saved_weeks(c.engine) == []
    assert done.erasure.deleted["saved_views"] > 0


def test_forgetting_twice_changes_nothing_the_second_time_and_says_so(company: Company) -> None:
    forget(company.engine, CAT)
    first = dump(company.engine)
    again = forget(company.engine, CAT.upper())
    assert dump(company.engine) == first
    assert again.lines() == [f"{CAT} is already forgotten: nothing left to erase, nothing changed"]


def test_a_dry_run_changes_nothing_and_counts_what_forget_then_does(company: Company) -> None:
    before = dump(company.engine)
    dry = forget(company.engine, CAT, dry_run=True)
    assert dump(company.engine) == before
    assert dry.lines()[-1] == "nothing was changed"
    done = forget(company.engine, CAT)
    assert dry.erasure == done.erasure
    tables = {name for name, _, _ in dry.erasure.tables()}
    assert {"people", "aliases", "events", "attendees", "sync_state", "mailboxes"} <= tables
    assert {"runs", "saved_views", "web_sessions"} <= tables


def test_later_syncs_and_imports_do_not_bring_them_back(company: Company) -> None:
    c = company
    forget(c.engine, CAT)
    # Cat keeps being invited, and the chart file still lists her.
    c.clock.advance(timedelta(days=1))
    c.world.add_one_off("o-dan-cat-eve", DAN, [CAT, EVE], MON + 3 * WEEK, HALF_HOUR)
    saved = c.import_chart()
    assert saved.people == 5 and saved.forgotten == 1 and saved.unmanaged == 1
    assert saved.line().endswith(
        "; left out 1 forgotten person; 1 person whose manager was forgotten has no manager now"
    )
    assert CAT not in saved.line()
    assert {p.email for p in load_chart(c.engine)} == {ZED, ANN, BOB, DAN, EVE}
    c.stand_in.reset_counts()
    c.sync()
    c.sync(full=True)  # every event listed again, with its attendees
    assert c.stand_in.by_mailbox[CAT] == 0
    assert traces(c.engine) == []
    new = attendees_of(c.engine, DAN, "o-dan-cat-eve")
    assert len(new) == 1 and len(new[0]) == 3 and CAT not in new[0]


def test_undo_lets_a_later_import_bring_them_back(company: Company) -> None:
    c = company
    forget(c.engine, CAT)
    assert undo(c.engine, CATHY) == 2  # the alias lifts both addresses forgotten together
    c.import_chart()
    chart = {p.email: p for p in load_chart(c.engine)}
    assert chart[CAT].aliases == (CATHY,) and chart[EVE].manager_email == CAT
    c.sync()
    assert c.stand_in.by_mailbox[CAT] > 0


def test_forget_does_not_run_beside_a_sync_but_a_dry_run_does(company: Company) -> None:
    before = dump(company.engine)
    with run_lock(company.engine, "nightly"):
        with pytest.raises(LockHeld, match="nightly"):
            forget(company.engine, CAT)
        assert forget(company.engine, CAT, dry_run=True).erasure.found > 0
    assert dump(company.engine) == before


def test_someone_unknown_is_blocked_ahead_of_time(company: Company) -> None:
    c = company
    newcomer = "neo@acme.test"
    done = forget(c.engine, newcomer)
    assert done.erasure.found == 0 and done.erasure.added == 1
    assert "nowhere in the store" in done.lines()[0]
    saved = c.import_chart(CHART + f"{newcomer},Neo Newcomer,{ANN},acme,\n")
    assert saved.forgotten == 1 and newcomer not in {p.email for p in load_chart(c.engine)}


# -- the command line ----------------------------------------------------------------------------


def cadence(capsys: pytest.CaptureFixture[str], c: Company, *args: str) -> tuple[int, str, str]:
    """The real entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--database-url", str(c.engine.url)])
    out, err = capsys.readouterr()
    code = exit_.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CADENCE_* variable leaking in, and no config file: the defaults and the URL given."""
    for key in list(os.environ):
        if key.startswith("CADENCE_"):
            monkeypatch.delenv(key)
    empty = tmp_path / "cwd"
    empty.mkdir()
    monkeypatch.chdir(empty)


@pytest.mark.usefixtures("clean_env")
def test_cli_dry_run_lists_counts_per_table_then_forget_and_undo(
    company: Company, capsys: pytest.CaptureFixture[str]
) -> None:
    c = company
    before = dump(c.engine)
    code, out, err = cadence(capsys, c, "forget", CAT, "--dry-run")
    assert code == 0, err
    assert dump(c.engine) == before
    heading, *lines = out.splitlines()
    assert (
        heading == f"dry run: forgetting {CAT} (aliases: {CATHY}) would change, in one transaction:"
    )
    counts = dict(
        line.split(None, 1) for line in lines if line.startswith("  ") and "hash" not in line
    )
    assert counts["people"] == "1 deleted, 1 changed"  # her row; Eve's manager
    assert counts["aliases"] == "1 deleted"
    assert counts["events"].endswith("changed") and "deleted" in counts["events"]
    assert lines[-1] == "nothing was changed"

    code, out, err = cadence(capsys, c, "forget", CAT)
    assert code == 0 and err.startswith(f"forgot {CAT}")
    code, out, err = cadence(capsys, c, "forget", CAT)
    assert code == 0 and "already forgotten" in err

    code, out, err = cadence(capsys, c, "forget", "--undo", CAT)
    assert code == 0 and err.startswith("2 addresses no longer forgotten")
    code, out, err = cadence(capsys, c, "forget", "--undo", CAT)
    assert code == 2 and err.strip() == f"Error: {CAT} is not forgotten: nothing to undo"


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("bad", ["not-an-email", "", "ann@", "a b@acme.test"])
def test_cli_refuses_what_is_not_an_address_in_one_line(
    company: Company, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    before = dump(company.engine)
    code, out, err = cadence(capsys, company, "forget", bad)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "is not an email address" in err
    assert dump(company.engine) == before
