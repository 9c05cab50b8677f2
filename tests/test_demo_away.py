"""The demo company's misses that are nobody's fault: vacations, a parental leave, public holidays
in two countries and four time zones, and 1:1s cancelled and rebooked a few days later.

The first tests check what the builder plants, on fixed dates (a world with a manual clock), with
the ``holidays`` package as the judge of what a holiday is. The last ones run the demo's path
(stand-ins, connectors, store, pipeline), the demo itself today and the same path on the fixed
dates, and check that the figures tell these misses apart: the planted absences come out excused,
the rebooked 1:1s made up, and no finding is about an absence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

from cadence.config import load_config, resolve_database_url
from cadence.jobs.figures import compute
from cadence.jobs.sync import run_sync
from cadence.orgchart import parse_csv
from cadence.pipeline import HealthResult
from cadence.pipeline.views import manager_view
from cadence.sandbox.company import Absence, Company, build_company
from cadence.sandbox.demo import (
    GOOGLE,
    MICROSOFT,
    DemoRun,
    Highlight,
    highlights,
    run_demo,
    serve,
    write_people,
)
from cadence.sandbox.world import ManualClock, Occurrence, World
from cadence.store.database import make_engine, upgrade
from cadence.store.people import replace_chart

SIZE, SEED = 60, 11
WEEK = timedelta(weeks=1)
WINDOW = 12 * WEEK  # the demo's report window ([report] window_weeks)
# A Wednesday after US Thanksgiving and Saint Andrew's Day; a Wednesday after Easter (Good Friday
# and Easter Monday in Bavaria and Scotland, Presidents' Day in the US); a Monday in August.
DATES = [
    datetime(2026, 12, 2, 10, 30, tzinfo=UTC),
    datetime(2027, 4, 14, 16, 0, tzinfo=UTC),
    datetime(2027, 8, 9, 7, 45, tzinfo=UTC),
]


def built(now: datetime) -> tuple[World, Company]:
    world = World(ManualClock(now))
    return world, build_company(world, size=SIZE, seed=SEED)


@pytest.fixture(scope="module", params=DATES, ids=lambda d: d.date().isoformat())
def planted(request: pytest.FixtureRequest) -> tuple[World, Company]:
    return built(request.param)


def zone(company: Company, email: str) -> ZoneInfo:
    return ZoneInfo(company.person(email).timezone or "UTC")


def occurrence(world: World, company: Company, pair: tuple[str, str], t: datetime) -> Occurrence:
    return world.occurrence(world.series[company.one_on_ones[pair]], t)


def called_off_by(o: Occurrence, email: str) -> bool:
    """Cancelled by ``email`` as organizer, or declined by ``email``."""
    if o.cancelled:
        return o.series.organizer == email
    return any(g.email == email and g.response == "declined" for g in o.guests)


def missed(o: Occurrence) -> bool:
    return o.cancelled or any(g.response == "declined" for g in o.guests if not g.resource)


def pairs_of(company: Company, email: str) -> list[tuple[str, str]]:
    return sorted(pair for pair in company.one_on_ones if email in pair)


def holiday_name(company: Company, email: str, t: datetime) -> str | None:
    country = company.person(email).country
    assert country is not None
    code, _, sub = country.partition("-")
    listed = holidays.country_holidays(code, subdiv=sub or None, years=t.year)
    return listed.get(t.astimezone(zone(company, email)).date())


# --- what the builder plants ----------------------------------------------------------------------


def test_people_work_in_two_countries_and_four_time_zones(
    planted: tuple[World, Company], tmp_path: Path
) -> None:
    _, company = planted
    sites = {(p.country, p.timezone) for p in company.people}
    assert sites == {
        ("US", "America/New_York"),
        ("US-CA", "America/Los_Angeles"),
        ("DE-BY", "Europe/Berlin"),
        ("GB-SCT", "Europe/London"),
    }
    # The org chart the demo writes carries them, and the import accepts them as they are.
    chart = parse_csv(write_people(tmp_path / "people.csv", company))
    assert {(p.email, p.country, p.timezone) for p in chart} == {
        (p.email, p.country, p.timezone) for p in company.people
    }


def test_out_of_office_events_are_in_their_own_calendars(planted: tuple[World, Company]) -> None:
    world, company = planted
    assert {a.person for a in company.absences} == {p.email for p in company.people}
    for a in company.absences:
        s = world.series[a.uid]
        assert s.event_type == "outOfOffice" and s.recurrence is None
        assert s.organizer == a.person and s.participants() == {a.person}
        assert (s.start, s.start + s.duration, s.all_day) == (a.start, a.end, a.all_day)
        assert a.told < a.start


def test_a_manager_takes_a_week_off_and_a_report_three_weeks_past_now(
    planted: tuple[World, Company],
) -> None:
    world, company = planted
    now = world.clock()
    week, three = company.vacations
    assert week.person == company.vacationing_manager
    assert week.person not in (company.cancelling_manager, *company.directors)
    assert week.all_day and week.start.weekday() == 0 and week.end - week.start == timedelta(5)
    assert now - WINDOW < week.start < week.end < now
    assert three.all_day and three.start.weekday() == 0 and three.end - three.start == 3 * WEEK
    assert three.covers(now, zone(company, three.person))
    # Every 1:1 of the manager's week is cancelled by the manager, who organizes them all.
    reports = [r for m, r in company.one_on_ones if m == week.person]
    assert reports
    for report in reports:
        pair = (week.person, report)
        s = world.series[company.one_on_ones[pair]]
        assert s.organizer == week.person
        (t,) = s.original_starts(week.start, week.end)
        o = occurrence(world, company, pair, t)
        # A holiday that week is called off for the holiday, by whoever has it.
        assert o.cancelled or (missed(o) and holiday_name(company, report, t) is not None)


def test_the_long_leave_is_a_timed_absence_from_local_midnight(
    planted: tuple[World, Company],
) -> None:
    world, company = planted
    now = world.clock()
    leave = company.long_leave
    assert leave is not None and not leave.all_day
    tz = zone(company, leave.person)
    start, end = leave.start.astimezone(tz), leave.end.astimezone(tz)
    assert start.time() == end.time() == time(0) and start.weekday() == end.weekday() == 0
    assert (end.date() - start.date()).days == 12 * 7
    assert leave.start < now < leave.end
    manager = company.manager_of(leave.person)
    s = world.series[company.one_on_ones[(manager, leave.person)]]
    assert s.organizer == manager  # so that the report's leave declines it
    declined = s.original_starts(leave.start, leave.end)
    assert len(declined) >= 11
    for t in declined:
        o = world.occurrence(s, t)
        if any(holiday_name(company, e, t) for e in (manager, leave.person)):
            assert missed(o)  # called off for the holiday, by whoever has it
        else:
            assert not o.cancelled and called_off_by(o, leave.person)


def test_every_1_1_in_an_absence_is_called_off_by_the_absent_person(
    planted: tuple[World, Company],
) -> None:
    world, company = planted
    now = world.clock()
    for a in company.absences:
        if a.told > now:
            continue  # not in the calendar yet
        for pair in pairs_of(company, a.person):
            s = world.series[company.one_on_ones[pair]]
            for t in s.original_starts(a.start - timedelta(days=1), a.end + timedelta(days=1)):
                if not a.covers(t, zone(company, a.person)):
                    continue
                o = world.occurrence(s, t)
                other = next(e for e in pair if e != a.person)
                assert called_off_by(o, a.person) or called_off_by(o, other), (a, t)


def test_holiday_misses_fall_on_a_holiday_where_that_person_works(
    planted: tuple[World, Company],
) -> None:
    world, company = planted
    now = world.clock()
    assert company.holiday_misses
    for h in company.holiday_misses:
        assert h.person in (h.manager, h.report) and h.original_start < now
        assert company.person(h.person).country == h.country
        assert holiday_name(company, h.person, h.original_start) == h.holiday
        o = occurrence(world, company, (h.manager, h.report), h.original_start)
        assert missed(o)
    recent = {h.country for h in company.holiday_misses if h.original_start > now - WINDOW}
    assert len(recent) >= 2, "holidays of two countries in the report window"


def test_every_past_1_1_on_a_holiday_is_called_off(planted: tuple[World, Company]) -> None:
    world, company = planted
    now = world.clock()
    listed = {(h.manager, h.report, h.original_start) for h in company.holiday_misses}
    for pair, uid in company.one_on_ones.items():
        s = world.series[uid]
        for t in s.original_starts(now - 26 * WEEK, now):
            if any(holiday_name(company, e, t) for e in pair):
                assert (*pair, t) in listed
                assert missed(world.occurrence(s, t))


def test_rebooked_1_1s_meet_again_within_half_the_cadence(
    planted: tuple[World, Company],
) -> None:
    world, company = planted
    now = world.clock()
    assert len(company.rebooked) == 4
    for r in company.rebooked:
        pair = (r.manager, r.report)
        s = world.series[company.one_on_ones[pair]]
        assert s.recurrence is not None and s.recurrence.interval == 1
        assert (
            now - WINDOW < r.missed < now and occurrence(world, company, pair, r.missed).cancelled
        )
        one_off = world.series[r.uid]
        assert one_off.recurrence is None and not one_off.all_day
        assert one_off.event_type == "default" and one_off.participants() == set(pair)
        assert one_off.start == r.one_off and one_off.start.weekday() < 5
        assert timedelta(days=1) <= r.one_off - r.missed <= timedelta(days=3)
        assert r.one_off - r.missed <= 7 * s.recurrence.interval * timedelta(days=1) / 2
        assert not world.occurrence(one_off, one_off.start).cancelled
    assert len([r for r in company.rebooked if r.one_off > now]) == 1


def test_the_stories_that_must_be_findings_are_not_away_now(
    planted: tuple[World, Company],
) -> None:
    world, company = planted
    now = world.clock()
    people = {company.cancelling_manager, *company.new_hires, *company.decliners}
    people |= {e for pair in company.stopped for e in pair}
    people |= {company.manager_of(r) for r in [*company.new_hires, *company.decliners]}
    for a in company.absences:
        if a.person in people:
            assert not a.covers(now, zone(company, a.person)), a
    for email in people:
        assert holiday_name(company, email, now) is None


def test_a_seed_builds_the_same_company() -> None:
    (w1, c1), (w2, c2) = built(DATES[0]), built(DATES[0])
    assert c1 == c2
    assert [(c.uid, c.original_start) for c in w1.log] == [
        (c.uid, c.original_start) for c in w2.log
    ]


@pytest.mark.parametrize("size", [12, 13, 14, 15, 24])
def test_small_companies_plant_what_they_can(size: int) -> None:
    now = DATES[0]
    world = World(ManualClock(now))
    company = build_company(world, size=size, seed=7)
    assert company.vacationing_manager is not None
    assert company.vacations[0].person == company.vacationing_manager
    assert all(r.one_off - r.missed <= timedelta(days=3) for r in company.rebooked)


# --- what the pipeline makes of it (needs the made-up and excused figures) -----------------------


@dataclass
class Figures:
    company: Company
    result: HealthResult
    highlights: list[Highlight]
    today: bool = False


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(tmp_path_factory.mktemp("demo"), size=SIZE, seed=SEED, say=lambda _: None)


def figures_today(demo: DemoRun) -> Figures:
    """The demo's own run, today: its company, and its figures recomputed from its store."""
    config = load_config(demo.config_path)
    engine = make_engine(resolve_database_url(config))
    result = compute(engine, config, as_of=datetime.now(UTC))
    engine.dispose()
    return Figures(demo.company, result, demo.highlights, today=True)


def figures_at(now: datetime, folder: Path) -> Figures:
    """The demo's path on a fixed date: the company built and served as of ``now``, synced by
    the real connectors and computed at ``now``, so that the holidays are the same every day."""
    world = World(ManualClock(now))
    company = build_company(world, size=SIZE, seed=SEED, sources=(GOOGLE, MICROSOFT))
    people = write_people(folder / "people.csv", company)
    with serve(world, folder) as served:
        config = load_config(served.config_path)
        engine = make_engine(resolve_database_url(config))
        upgrade(engine)
        replace_chart(engine, parse_csv(people, sources=config.sources))
        synced = run_sync(config, engine, command="demo", now=lambda: now)
        assert synced.failed == []
    result = compute(engine, config, as_of=now)
    engine.dispose()
    return Figures(company, result, highlights(result))


@pytest.fixture(
    scope="module",
    params=["today", *DATES],
    ids=lambda p: p if isinstance(p, str) else p.date().isoformat(),
)
def figures(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Figures:
    if request.param == "today":
        return figures_today(request.getfixturevalue("demo"))
    return figures_at(request.param, tmp_path_factory.mktemp("at"))


def entry(result: HealthResult, manager: str, report: str) -> dict[str, Any]:
    return next(r for r in manager_view(result, manager)["reports"] if r["email"] == report)


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def outcome(e: dict[str, Any], original_start: datetime) -> dict[str, Any]:
    return next(o for o in e["timeline"] if at(o["original_start"]) == original_start)


def local_end(a: Absence, company: Company) -> datetime:
    """When an all-day absence ends where its person is: local midnight after its last date."""
    return datetime.combine(a.end.date(), time(), tzinfo=zone(company, a.person)).astimezone(UTC)


def test_the_manager_s_week_off_is_excused_not_cancelling(figures: Figures) -> None:
    manager = figures.company.vacationing_manager
    assert manager is not None
    for e in manager_view(figures.result, manager)["reports"]:
        assert e["excused"] > 0, e["email"]
        assert e["cancelled_by_manager"] == 0 and "manager_cancels" not in e["reasons"]


def test_three_weeks_away_show_as_away_until_they_end(figures: Figures) -> None:
    company = figures.company
    three = company.vacations[1]
    e = entry(figures.result, company.manager_of(three.person), three.person)
    assert e["excused"] > 0 and e["missed"] == 0
    until = at(e["away_until"])
    assert until is not None and until >= local_end(three, company)
    assert not {"cancel_streak", "high_cancellation", "manager_cancels"} & set(e["reasons"])


def test_a_parental_leave_is_not_a_stopped_1_1(figures: Figures) -> None:
    company = figures.company
    leave = company.long_leave
    assert leave is not None
    e = entry(figures.result, company.manager_of(leave.person), leave.person)
    assert e["excused"] >= 8 and e["declined"] == 0
    assert not {"cancel_streak", "stale", "no_one_on_one"} & set(e["reasons"])
    assert e["status"] != "unhealthy"
    until = at(e["away_until"])
    assert until is not None and until >= leave.end


def test_holiday_misses_in_the_window_are_excused(figures: Figures) -> None:
    as_of = figures.result.as_of
    recent = [h for h in figures.company.holiday_misses if h.original_start > as_of - WINDOW]
    assert recent
    for h in recent:
        o = outcome(entry(figures.result, h.manager, h.report), h.original_start)
        assert o["outcome"] == "excused", h


def test_rebooked_1_1s_are_made_up(figures: Figures) -> None:
    assert len(figures.company.rebooked) >= 3
    for r in figures.company.rebooked:
        e = entry(figures.result, r.manager, r.report)
        assert e["made_up"] >= 1
        o = outcome(e, r.missed)
        assert o["outcome"] == "made_up" and at(o["made_up_by"]) == r.one_off, r


def test_no_finding_is_about_an_absence(figures: Figures) -> None:
    company = figures.company
    assert len(figures.highlights) == 3
    cancels, stopped, declines = figures.highlights
    assert cancels.manager == company.cancelling_manager != company.vacationing_manager
    assert (stopped.manager, stopped.report) in company.stopped
    assert "quietly stopped" in stopped.text
    away = {a.person for a in company.vacations}
    if company.long_leave is not None:
        away.add(company.long_leave.person)
    entries = [
        r for m in figures.result.managers() for r in manager_view(figures.result, m)["reports"]
    ]
    qualifying = [
        (stopped, [r for r in entries if "stale" in r["reasons"]]),
        (declines, [r for r in entries if r["declined"]]),
    ]
    for h, candidates in qualifying:
        assert h.report is not None and h.report not in away
        if entry(figures.result, h.manager, h.report)["away_until"] is not None:
            # Only today, if today is a public holiday wherever the company works, may the
            # finding be about a pair that is away: every pair that qualifies is.
            assert figures.today and all(r["away_until"] for r in candidates)


def test_the_demo_s_findings_are_its_highlights(demo: DemoRun) -> None:
    assert [h.text for h in demo.highlights] == demo.findings
