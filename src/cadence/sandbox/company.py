"""A synthetic company whose 1:1s behave as real ones do, for the demo, tests and benchmarks.

:func:`build_company` fills a :class:`~cadence.sandbox.world.World` with people in a few levels
(half of them on Google, half on Microsoft) and half a year of meetings: steady weekly and
biweekly 1:1s with the odd cancellation, decline and move; a manager who keeps cancelling; reports
who keep declining; pairs that reschedule a lot; new hires with no 1:1 yet; pairs whose 1:1s
quietly stopped; 15- to 60-minute habits; and the meetings around them that must not count as
1:1s (team meetings, three-person meetings, focus time, all-day events).

It also has the misses that are nobody's fault, so that the reports can be seen telling them
apart from the ones that are: people work in two countries and four time zones (New York and Los
Angeles, Bavaria and Scotland), and a 1:1 falling on a public holiday of either person is called
off; everyone takes a week out of office, and their 1:1s that week are called off; one manager
takes a week off and cancels their 1:1s with every report; one report is away for three weeks
that run past now, and another on twelve weeks of parental leave, their 1:1s declined; and a few
pairs cancel a 1:1 and meet one to three days later instead, one of them after now.

What was planted is returned as :class:`Company`, so tests can check that the pipeline finds it;
nothing here computes a figure (the ``holidays`` package only chooses the dates).

``build_company(..., lean=True)`` makes another kind of company, for benchmarks of a night of
100,000 mailboxes: the full one takes minutes to plant its stories at that size (holidays and
absences checked for every occurrence of every series), and a night's sync needs none of them.
The lean company's people are made as the full one's (names, sites, half on each side), in an
org as deep as it takes for each manager to have 3 to 9 reports (the full company's three levels
would put 2,000 directors under one person, and their team meeting in every director's
calendar); and it has only what a sync reads: each pair's weekly or biweekly 1:1 with a few
cancellations, declines and moves, a biweekly peer 1:1 organized by every person, and each
manager's team meeting, so every mailbox holds a handful of series. It plants no story: its
:class:`Company` lists the people, the levels and the pairs' 1:1s, and nothing else. A process
that serves 100,000 of them should call ``gc.freeze()`` once they are built: the world is
millions of objects that live as long as it does, and each full pass of the cyclic collector
would otherwise walk them all (most of a second at that size, and every few thousand requests).
"""

from __future__ import annotations

import itertools
import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import overload
from zoneinfo import ZoneInfo

import holidays

from cadence.normalised import OrgPerson
from cadence.sandbox.world import Guest, Recurrence, Series, World, all_day_start

DOMAIN = "acme.test"
FIRST = tuple(
    "Ada Ben Chloé Dev Emeka Farah Goran Hana Ivan Jun Kofi Lena Mateo Nadia Omar Priya "
    "Quinn Rosa Sven Tariq Uma Vera Wei Ximena Yusuf Zoë Aiko Bruno Carmen Dmitri Elif Finn "
    "Greta Hugo Ines Jonas Kai Luca Maya Nils Olga Pablo Rania Sami Talia Ugo Valentina Wren "
    "Yara".split()
)
LAST = tuple(
    "Abara Berg Costa Dubois Eriksen Fischer Garcia Haddad Ito Jensen Kowalski Larsen Moreau "
    "Nakamura Okafor Petrov Quispe Rossi Silva Tanaka Ueda Varga Weber Xu Yilmaz Zimmermann "
    "O'Brien Nguyen Haas Lindqvist Mensah Novak Park Singh".split()
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
DURATIONS = (15, 30, 30, 30, 45, 60)

# Each director's org works at one of two home sites; every fifth report works remotely at the
# other site on the same side of the Atlantic, with other holidays and another zone.
HOMES = (("US", "America/New_York"), ("DE-BY", "Europe/Berlin"))
REMOTE = {"US": ("US-CA", "America/Los_Angeles"), "DE-BY": ("GB-SCT", "Europe/London")}
REMOTE_EVERY = 5
# The UTC hours of a working day at each site (local 8 or 9 to 15 or 16, daylight saving or
# not). Any of them falls on the same date in UTC and in every zone above, so a 1:1 on a
# holiday's date is on that holiday for both people, wherever they are.
HOURS = {
    "America/New_York": (14, 15, 16, 17, 18, 19, 20),
    "America/Los_Angeles": (16, 17, 18, 19, 20, 21, 22),
    "Europe/Berlin": (8, 9, 10, 11, 13, 14, 15),
    "Europe/London": (8, 9, 10, 11, 13, 14, 15),
}

ROUTINE_WEEK = timedelta(days=5)  # everyone's week off, Monday to Friday
MANAGER_WEEK = timedelta(days=5)
REPORT_WEEKS = timedelta(weeks=3)
LEAVE_WEEKS = 12
# Stories that must show in the figures happen inside the report window (12 weeks by default),
# with a week to spare.
WINDOW = timedelta(weeks=11)
# An upcoming make-up starts this long after the builder's now at least, so that it is still
# upcoming when a large demo finishes syncing and computes its figures.
UPCOMING_MARGIN = timedelta(hours=3)
# The fewest misses the cancelling manager and each decliner make in the window, so that their
# stories show whatever the dice and however many of their 1:1s fell on days off.
STORY_MISSES = 3
# The lean company: what becomes of each past occurrence of a 1:1 (the organizer cancels it, the
# other declines it, it is moved), and how many peer 1:1s each person organizes.
LEAN_CANCEL, LEAN_DECLINE, LEAN_MOVE = 0.02, 0.015, 0.015
LEAN_PEERS = 1
LEAN_TEAM = (3, 9)  # how many reports each manager of the lean company has, at random


@dataclass(frozen=True)
class Absence:
    """An out-of-office event in ``person``'s calendar, from ``start`` to ``end`` in UTC (an
    all-day one from the UTC midnight of its first date to the one after its last date, as the
    world stores it), put in the calendar at ``told``."""

    person: str
    uid: str
    start: datetime
    end: datetime
    all_day: bool
    told: datetime

    def covers(self, t: datetime, zone: ZoneInfo) -> bool:
        """Whether ``t`` falls in it; an all-day absence holds whole dates in ``zone``."""
        if not self.all_day:
            return self.start <= t < self.end
        return self.start.date() <= t.astimezone(zone).date() < self.end.date()


@dataclass(frozen=True)
class HolidayMiss:
    """A pair's 1:1 called off because it fell on ``person``'s public holiday."""

    manager: str
    report: str
    original_start: datetime
    person: str
    country: str
    holiday: str


@dataclass(frozen=True)
class Rebooked:
    """A pair's weekly 1:1 cancelled (``missed``: its original start) and replaced by a one-off
    1:1 of the same two people starting at ``one_off`` (event ``uid``)."""

    manager: str
    report: str
    missed: datetime
    one_off: datetime
    uid: str


@dataclass
class Company:
    """The people, and which pairs were given which story (manager email, report email).

    A lean company (``build_company(..., lean=True)``) has no stories: ``cancelling_manager`` is
    empty, as are the lists of stories."""

    people: list[OrgPerson]
    top: str
    directors: list[str]
    managers: list[str]
    cancelling_manager: str
    decliners: list[str] = field(default_factory=list)
    reschedulers: list[tuple[str, str]] = field(default_factory=list)
    new_hires: list[str] = field(default_factory=list)
    stopped: list[tuple[str, str]] = field(default_factory=list)
    one_on_ones: dict[tuple[str, str], str] = field(default_factory=dict)  # pair -> series uid
    # A manager who never cancels but for their week off, when they cancel every 1:1.
    vacationing_manager: str | None = None
    # The manager's week off, then a report's three weeks (running past now).
    vacations: list[Absence] = field(default_factory=list)
    long_leave: Absence | None = None  # a report's parental leave, a timed out-of-office event
    absences: list[Absence] = field(default_factory=list)  # every out-of-office event planted
    holiday_misses: list[HolidayMiss] = field(default_factory=list)
    rebooked: list[Rebooked] = field(default_factory=list)  # one one-off after now, if it fits

    def side_of(self, email: str) -> str:
        return next(p.source for p in self.people if p.email == email) or "google"

    def person(self, email: str) -> OrgPerson:
        return next(p for p in self.people if p.email == email)

    def manager_of(self, email: str) -> str:
        manager = self.person(email).manager_email
        if manager is None:
            raise ValueError(f"{email} has no manager")
        return manager


def _levels(size: int) -> tuple[int, int]:
    """How many directors and managers a company of ``size`` has (about 6 reports a manager)."""
    directors = max(2, round(size / 45))
    managers = max(directors * 2, round(size / 7))
    return directors, managers


@cache
def _holidays(country: str, first_year: int, last_year: int) -> dict[date, str]:
    code, _, sub = country.partition("-")
    listed = holidays.country_holidays(
        code, subdiv=sub or None, years=range(first_year, last_year + 1)
    )
    return dict(listed)


@dataclass
class _Plan:
    """When each person is away, known before any 1:1 is written, so that the stories can
    avoid one another's days."""

    now: datetime
    begin: datetime
    end: datetime
    people: dict[str, OrgPerson]
    away: dict[str, list[Absence]] = field(default_factory=dict)

    def zone(self, email: str) -> ZoneInfo:
        return ZoneInfo(self.people[email].timezone or "UTC")

    def holiday(self, email: str, t: datetime) -> tuple[str, str] | None:
        """(country, holiday's name) when ``t`` is on a public holiday where ``email`` works."""
        country = self.people[email].country
        if country is None:
            return None
        day = t.astimezone(self.zone(email)).date()
        name = _holidays(country, self.begin.year, self.end.year).get(day)
        return None if name is None else (country, name)

    def absence(self, email: str, t: datetime) -> Absence | None:
        zone = self.zone(email)
        return next((a for a in self.away.get(email, ()) if a.covers(t, zone)), None)

    def free(self, t: datetime, *emails: str) -> bool:
        """Nobody of ``emails`` is out of office or on a public holiday at ``t``."""
        return all(self.holiday(e, t) is None and self.absence(e, t) is None for e in emails)

    def weekday_holidays(self, country: str, since: date, until: date) -> list[date]:
        listed = _holidays(country, self.begin.year, self.end.year)
        return sorted(d for d in listed if since <= d < until and d.weekday() < len(WEEKDAYS))


def build_company(
    world: World,
    *,
    size: int = 200,
    seed: int = 7,
    weeks_back: int = 26,
    weeks_ahead: int = 5,
    sources: tuple[str, str] = ("google", "outlook"),
    lean: bool = False,
) -> Company:
    """Fill ``world`` with a company of about ``size`` people, reproducibly from ``seed``.

    ``sources`` names the two sides (the config's source names): person *i* is on the first or
    the second at random, about half each. Every date is relative to the world's clock: the
    company's half year ends ``weeks_ahead`` after it. ``lean``: the company for benchmarks of
    many mailboxes (see the module's docstring), with 1:1s and no stories.
    """
    if size < 12:
        raise ValueError("a company needs at least 12 people to have directors and managers")
    rng = random.Random(seed)
    if lean:
        return _lean_company(world, rng, size, seed, weeks_back, sources)
    now = world.clock()
    begin = _monday(now - timedelta(weeks=weeks_back))
    this_week = _monday(now)
    people = _org(rng, size, sources)
    by_manager = _into_world(world, people, sources)
    top = next(p.email for p in people if p.manager_email is None)
    managers = sorted(by_manager)
    directors = sorted(m for m in managers if any(r in by_manager for r in by_manager[m]))
    line_managers = [m for m in managers if m not in directors]
    # The cancelling manager needs a team for the story to show; in the smallest companies no
    # line manager has three reports, and the one with the largest team plays the part.
    teams_of_three = [m for m in line_managers if len(by_manager[m]) >= 3]
    largest = max(line_managers, key=lambda m: (len(by_manager[m]), m))
    reports = [p.email for p in people if p.manager_email and p.email not in by_manager]
    plan = _Plan(now, begin, now + timedelta(weeks=weeks_ahead), {p.email: p for p in people})

    company = Company(
        people=people,
        top=top,
        directors=directors,
        managers=managers,
        cancelling_manager=rng.choice(teams_of_three or [largest]),
    )
    manager_of = {p.email: p.manager_email or "" for p in people}
    others = [m for m in line_managers if m != company.cancelling_manager]
    if others:
        company.vacationing_manager = rng.choice(
            [m for m in others if len(by_manager[m]) >= 2] or others
        )
    # Neither of those two managers' reports gets a story of their own: theirs is the team's.
    pool = [
        r
        for r in reports
        if manager_of[r] not in (company.cancelling_manager, company.vacationing_manager)
    ]
    rng.shuffle(pool)
    # The stories that must be findings today go to pairs that have no holiday today, so that
    # they are not away (a demo run on the 25th of December has no choice).
    pool.sort(key=lambda r: not plan.free(now, r, manager_of[r]))
    company.new_hires = pool[:2]
    company.decliners = pool[2:4]
    company.reschedulers = [(manager_of[r], r) for r in pool[4:6]]
    company.stopped = [(manager_of[r], r) for r in pool[6:8]]
    traveller = pool[8] if len(pool) > 8 else None
    parent = pool[9] if len(pool) > 9 else None
    # One pair makes up its last 1:1 after now: the first whose manager's hours allow it (a
    # Monday holiday can leave no weekday within three days after the last 1:1 before now).
    rest = pool[10:]
    later = next((r for r in rest if _can_rebook_later(plan, manager_of[r], r)), None)
    rebooking = [r for r in rest if r != later][:3] + ([later] if later else [])
    ordinary = [r for r in rest if r not in rebooking]

    n = 0

    def uid() -> str:
        nonlocal n
        n += 1
        return f"demo-{seed}-{n:06d}@{DOMAIN}"

    # Away time first, so that every 1:1 written after it knows who is away.
    steady = {company.cancelling_manager}
    for r in [*company.new_hires, *company.decliners, *(r for _, r in company.stopped)]:
        steady |= {r, manager_of[r]}
    if company.vacationing_manager is not None:
        start = this_week - timedelta(weeks=4)
        week = _absence(uid(), company.vacationing_manager, start, MANAGER_WEEK, weeks_told=3)
        company.vacations.append(week)
    if traveller is not None:
        start = this_week - timedelta(weeks=1)
        company.vacations.append(_absence(uid(), traveller, start, REPORT_WEEKS, weeks_told=4))
    if parent is not None:
        zone = plan.zone(parent)
        first = (this_week - timedelta(weeks=LEAVE_WEEKS - 2)).date()
        start = _local_midnight(first, zone)
        end = _local_midnight(first + timedelta(weeks=LEAVE_WEEKS), zone)
        told = start - timedelta(weeks=8)
        company.long_leave = Absence(parent, uid(), start, end, all_day=False, told=told)
    planted = [*company.vacations, *([company.long_leave] if company.long_leave else [])]
    company.absences = list(planted)
    now_week = (this_week - begin) // timedelta(weeks=1)
    for p in people:
        if any(a.person == p.email for a in planted):
            continue
        weeks = range(1, weeks_back + weeks_ahead)
        week_no = rng.choice([w for w in weeks if w != now_week or p.email not in steady])
        start = begin + timedelta(weeks=week_no)
        company.absences.append(_absence(uid(), p.email, start, ROUTINE_WEEK, weeks_told=3))
    for a in company.absences:
        plan.away.setdefault(a.person, []).append(a)
        world.add_one_off(
            a.uid,
            a.person,
            [],
            a.start,
            a.end - a.start,
            all_day=a.all_day,
            event_type="outOfOffice",
            at=a.told,
        )

    # Pairs whose 1:1 day is chosen: one on a recent holiday of each country, where the pool
    # allows; the last rebooking pair on a day just before now.
    wanted: dict[str, Callable[[str, int], bool]] = {}
    holiday_pairs = _holiday_days(plan, ordinary, manager_of, this_week - WINDOW, now)
    for report, holiday in holiday_pairs.items():
        wanted[report] = _on_weekday(holiday.weekday())
    if later is not None:
        wanted[later] = _rebookable(plan, manager_of[later], later)
    clean = {r for r in (traveller, parent) if r}
    weekly = {*rebooking, *holiday_pairs, *company.decliners, *clean}
    by_manager_only = {parent} if parent else set()
    before = {r for r in rebooking if r != later}
    stories = _Stories(weekly, by_manager_only, before, [later] if later else [], clean)
    for manager in managers:
        habit = rng.choice(DURATIONS)
        hours = HOURS[plan.people[manager].timezone or "Europe/London"]
        slots = [(d, h) for d in WEEKDAYS for h in hours]
        rng.shuffle(slots)
        team = by_manager[manager]
        _steer(slots, team, wanted)
        # The team meeting: never a 1:1, even in a team of one plus the manager's own manager.
        world.add_series(
            uid(),
            manager,
            team,
            _at(begin, "MO", hours[0] - 1),
            timedelta(minutes=45),
            Recurrence("WEEKLY", byday=("MO",)),
            at=begin - timedelta(days=30),
        )
        for report, (day, hour) in zip(team, slots, strict=False):
            if report in company.new_hires:
                continue
            _one_on_one(
                world, rng, company, plan, stories, uid, (manager, report), day, hour, habit
            )
        skips = [r for d in team if d in by_manager for r in by_manager[d]]
        for report in rng.sample(skips, min(2, len(skips))):
            # A monthly skip-level: reported apart from the pair figures.
            world.add_series(
                uid(),
                manager,
                [report],
                _at(begin, "TH", hours[-1] + 1),
                timedelta(minutes=30),
                Recurrence("WEEKLY", interval=4, byday=("TH",)),
                at=begin - timedelta(days=20),
            )

    emails = [p.email for p in people]
    for i, p in enumerate(people):
        _surroundings(world, rng, uid, p, _AllBut(emails, i), begin)
    _call_off(world, rng, plan, company)
    return company


@dataclass(frozen=True)
class _Stories:
    """Which reports' 1:1s are shaped by a story: weekly ones, ones the manager must organize,
    rebooked ones (before now, and after now), ones missed only when someone is away."""

    weekly: set[str]
    by_manager: set[str]
    rebook_before: set[str]
    rebook_after: list[str]
    clean: set[str]


def _one_on_one(
    world: World,
    rng: random.Random,
    company: Company,
    plan: _Plan,
    stories: _Stories,
    uid: Callable[[], str],
    pair: tuple[str, str],
    day: str,
    hour: int,
    minutes: int,
) -> None:
    manager, report = pair
    begin, now = plan.begin, plan.now
    interval = 2 if rng.random() < 0.25 else 1
    if report in stories.weekly or manager == company.vacationing_manager:
        interval = 1
    until = None
    if pair in company.stopped:
        until = now - timedelta(weeks=rng.randint(7, 10))
    # A quarter of the 1:1s are the report's invitation; a report who keeps declining is invited,
    # and so is one whose leave declines them, and a manager who cancels before a week off
    # organizes their 1:1s.
    by_report = (
        rng.random() < 0.25
        and report not in company.decliners
        and report not in stories.by_manager
        and manager != company.vacationing_manager
    )
    organizer, guest = (report, manager) if by_report else (manager, report)
    guests: list[str | Guest] = [guest]
    if rng.random() < 0.15:
        guests.append(Guest(f"room-{rng.randint(1, 9)}@{DOMAIN}", "accepted", resource=True))
    series_uid = uid()
    s = world.add_series(
        series_uid,
        organizer,
        guests,
        _at(begin, day, hour),
        timedelta(minutes=minutes),
        Recurrence("WEEKLY", interval=interval, byday=(day,), until=until),
        at=begin - timedelta(days=14),
    )
    company.one_on_ones[pair] = series_uid
    p_manager, p_report, p_move = 0.04, 0.03, 0.06
    if manager == company.cancelling_manager:
        p_manager = 0.45
    if manager == company.vacationing_manager:
        p_manager = 0.0
    if report in company.decliners:
        p_report = 0.4
    if report in stories.clean:
        p_manager = p_report = 0.0  # they met every week but when away: the absence is the story
    if pair in company.reschedulers:
        p_move = 0.5
    rebook: tuple[datetime, datetime] | None = None
    if report in stories.rebook_before:
        rebook = _past_rebook(rng, plan, s, pair)
    elif report in stories.rebook_after:
        rebook = _upcoming_rebook(plan, manager, report, day, hour)
    held: list[datetime] = []
    missed = {manager: 0, report: 0}
    for t in s.original_starts(begin, now):
        if not plan.free(t, manager, report):
            continue  # called off for the holiday or absence (_call_off)
        if rebook is not None and t == rebook[0]:
            _rebook(world, rng, company, s, pair, t, rebook[1], uid())
            continue
        roll = rng.random()
        recent = t >= now - WINDOW
        if roll < p_manager:
            _miss(world, rng, s, t, manager)
            missed[manager] += recent
        elif roll < p_manager + p_report:
            _miss(world, rng, s, t, report)
            missed[report] += recent
        elif roll < p_manager + p_report + p_move:
            shift = timedelta(hours=rng.choice((-24, -2, 2, 3, 24, 48)))
            world.move_instance(
                series_uid, t, t + shift, at=t - timedelta(hours=rng.randint(2, 72))
            )
        elif recent:
            held.append(t)
    # However the dice fell, the stories that must show in the report window do.
    if manager == company.cancelling_manager:
        _top_up(world, rng, s, held, manager, STORY_MISSES - missed[manager])
    if report in company.decliners:
        _top_up(world, rng, s, held, report, STORY_MISSES - missed[report])


def _top_up(
    world: World, rng: random.Random, s: Series, held: list[datetime], who: str, more: int
) -> None:
    """``who`` misses ``more`` of the ``held`` occurrences besides, chosen at random."""
    for t in rng.sample(held, max(0, min(more, len(held)))):
        _miss(world, rng, s, t, who)
        held.remove(t)


def _past_rebook(
    rng: random.Random, plan: _Plan, s: Series, pair: tuple[str, str]
) -> tuple[datetime, datetime] | None:
    """(missed original start, one-off start): an occurrence in the window, rebooked one to
    three weekdays later, neither on anyone's day off."""
    starts = s.original_starts(
        plan.now - WINDOW + timedelta(weeks=1), plan.now - timedelta(weeks=1)
    )
    rng.shuffle(starts)
    for t in starts:
        if not plan.free(t, *pair):
            continue
        for days in rng.sample((1, 2, 3), 3):
            again = t + timedelta(days=days)
            if again.weekday() < len(WEEKDAYS) and plan.free(again, *pair):
                return t, again
    return None


def _upcoming_rebook(
    plan: _Plan, manager: str, report: str, day: str, hour: int
) -> tuple[datetime, datetime] | None:
    """(missed original start, one-off start) for a weekly 1:1 on ``day`` at ``hour``: its last
    occurrence before now, rebooked to a weekday still to come, at most three days later."""
    t = _at(_monday(plan.now), day, hour)
    if t > plan.now - timedelta(hours=1):
        t -= timedelta(weeks=1)
    if t < plan.begin or not plan.free(t, manager, report):
        return None
    for days in (1, 2, 3):
        again = t + timedelta(days=days)
        if (
            again >= plan.now + UPCOMING_MARGIN
            and again.weekday() < len(WEEKDAYS)
            and plan.free(again, manager, report)
        ):
            return t, again
    return None


def _rebook(
    world: World,
    rng: random.Random,
    company: Company,
    s: Series,
    pair: tuple[str, str],
    t: datetime,
    again: datetime,
    one_off_uid: str,
) -> None:
    """The organizer cancels the occurrence at ``t`` and books a one-off 1:1 at ``again``."""
    at = t - timedelta(hours=rng.randint(2, 30))
    world.cancel_instance(s.uid, t, at=at)
    other = next(e for e in pair if e != s.organizer)
    world.add_one_off(
        one_off_uid, s.organizer, [Guest(other, "accepted", at)], again, s.duration, at=at
    )
    company.rebooked.append(Rebooked(*pair, missed=t, one_off=again, uid=one_off_uid))


def _miss(world: World, rng: random.Random, s: Series, t: datetime, who: str) -> None:
    """``who`` misses the occurrence at ``t``: a cancellation if they organize it, else a decline.

    About a third of misses come late, on the day itself.
    """
    before = timedelta(hours=rng.randint(1, 20) if rng.random() < 0.35 else rng.randint(30, 240))
    _call_off_one(world, s, t, who, t - before)


def _call_off_one(world: World, s: Series, t: datetime, who: str, at: datetime) -> None:
    if who == s.organizer:
        world.cancel_instance(s.uid, t, at=at)
    else:
        world.decline(s.uid, who, t, at=at)


def _call_off(world: World, rng: random.Random, plan: _Plan, company: Company) -> None:
    """Every two-person series (1:1s and skip-levels) loses its occurrences that fall on either
    person's public holiday (before now) or in their time out of office (once it is in the
    calendar: their declines or cancellations for a leave run ahead, as Outlook's automatic
    replies make them). Whoever is away calls it off; the organizer when both are."""
    pair_of = {series_uid: pair for pair, series_uid in company.one_on_ones.items()}
    until = max([plan.now, *(a.end for a in company.absences if a.told <= plan.now)])
    for series_uid in sorted(world.series):
        s = world.series[series_uid]
        people = sorted(s.participants())
        if s.recurrence is None or s.all_day or s.event_type != "default" or len(people) != 2:
            continue
        for t in s.original_starts(plan.begin, until):
            on_holiday = [(e, h) for e in people if (h := plan.holiday(e, t))]
            if t < plan.now and on_holiday:
                who = s.organizer if len(on_holiday) == 2 else on_holiday[0][0]
                _miss(world, rng, s, t, who)
                if series_uid in pair_of:
                    person, (country, name) = on_holiday[0]
                    company.holiday_misses.append(
                        HolidayMiss(*pair_of[series_uid], t, person, country, name)
                    )
                continue
            away = [(e, a) for e in people if (a := plan.absence(e, t)) and a.told <= plan.now]
            if away:
                who, absence = (s.organizer, away[0][1]) if len(away) == 2 else away[0]
                at = min(absence.told + timedelta(hours=rng.randint(1, 48)), plan.now, t)
                _call_off_one(world, s, t, who, at)


def _holiday_days(
    plan: _Plan, candidates: list[str], manager_of: dict[str, str], since: datetime, until: datetime
) -> dict[str, date]:
    """For each country someone works in, a report of ``candidates`` whose pair is in it, and
    the latest weekday public holiday there in [since, until): their 1:1 will fall on it."""
    chosen: dict[str, date] = {}
    countries = sorted({p.country for p in plan.people.values() if p.country})
    for country in countries:
        days = plan.weekday_holidays(country, since.date(), until.date())
        if not days:
            continue
        for report in candidates:
            pair = (manager_of[report], report)
            if report not in chosen and any(plan.people[e].country == country for e in pair):
                chosen[report] = days[-1]
                break
    return chosen


def _on_weekday(weekday: int) -> Callable[[str, int], bool]:
    return lambda day, _hour: day == WEEKDAYS[weekday]


def _can_rebook_later(plan: _Plan, manager: str, report: str) -> bool:
    hours = HOURS[plan.people[manager].timezone or "Europe/London"]
    return any(_upcoming_rebook(plan, manager, report, d, h) for d in WEEKDAYS for h in hours)


def _rebookable(plan: _Plan, manager: str, report: str) -> Callable[[str, int], bool]:
    return lambda day, hour: _upcoming_rebook(plan, manager, report, day, hour) is not None


def _steer(
    slots: list[tuple[str, int]], team: list[str], wanted: dict[str, Callable[[str, int], bool]]
) -> None:
    """Swap into each steered report's place (their position in ``team``) the first free slot
    that suits their story; the others keep theirs."""
    for i, report in enumerate(team[: len(slots)]):
        suits = wanted.get(report)
        if suits is None or suits(*slots[i]):
            continue
        for j in range(i + 1, len(slots)):
            if suits(*slots[j]) and (j >= len(team) or team[j] not in wanted):
                slots[i], slots[j] = slots[j], slots[i]
                break


class _AllBut(Sequence[str]):
    """``items`` but the one at index ``skip``, without copying them.

    ``random.sample`` draws the same from it as from the copied list (it only takes the length
    and indexes), so the company is the same; a copy for each person made a company of 100,000
    people quadratic."""

    def __init__(self, items: list[str], skip: int) -> None:
        self._items = items
        self._skip = skip

    def __len__(self) -> int:
        return len(self._items) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._items[index + (index >= self._skip)]


def _surroundings(
    world: World,
    rng: random.Random,
    uid: Callable[[], str],
    p: OrgPerson,
    others: Sequence[str],
    begin: datetime,
) -> None:
    """What else fills a calendar: focus time, a three-person meeting (``others``: everyone
    else's address)."""
    hour = HOURS[p.timezone or "Europe/London"][3]
    if rng.random() < 0.3:
        world.add_series(
            uid(),
            p.email,
            [],
            _at(begin, rng.choice(WEEKDAYS), hour),
            timedelta(hours=2),
            Recurrence("WEEKLY", byday=(rng.choice(WEEKDAYS),)),
            event_type="focusTime",
            at=begin - timedelta(days=7),
        )
    if rng.random() < 0.3:
        world.add_series(
            uid(),
            p.email,
            rng.sample(others, 2),
            _at(begin, rng.choice(WEEKDAYS), hour),
            timedelta(minutes=30),
            Recurrence("WEEKLY", interval=2, byday=(rng.choice(WEEKDAYS),)),
            at=begin - timedelta(days=7),
        )


def _lean_company(
    world: World,
    rng: random.Random,
    size: int,
    seed: int,
    weeks_back: int,
    sources: tuple[str, str],
) -> Company:
    """The lean company (see the module's docstring)."""
    now = world.clock()
    begin = _monday(now - timedelta(weeks=weeks_back))
    people = _lean_org(rng, size, sources)
    teams = _into_world(world, people, sources)
    managers = sorted(teams)
    directors = sorted(m for m in managers if any(r in teams for r in teams[m]))
    top = next(p.email for p in people if p.manager_email is None)
    company = Company(people, top, directors, managers, cancelling_manager="")
    hours = {p.email: HOURS[p.timezone or "Europe/London"] for p in people}
    counter = itertools.count(1)

    def uid() -> str:
        return f"lean-{seed}-{next(counter):07d}@{DOMAIN}"

    for manager in managers:
        team = teams[manager]
        world.add_series(
            uid(),
            manager,
            team,
            _at(begin, "MO", hours[manager][0] - 1),
            timedelta(minutes=45),
            Recurrence("WEEKLY", byday=("MO",)),
            at=begin - timedelta(days=30),
        )
        minutes = rng.choice(DURATIONS)
        for report in team:
            by_report = rng.random() < 0.25
            series_uid = _lean_one_on_one(
                world,
                rng,
                uid(),
                (report, manager) if by_report else (manager, report),
                _at(begin, rng.choice(WEEKDAYS), rng.choice(hours[manager])),
                minutes,
                2 if rng.random() < 0.25 else 1,
            )
            company.one_on_ones[manager, report] = series_uid
    emails = [p.email for p in people]
    for i, p in enumerate(people):
        for other in rng.sample(_AllBut(emails, i), LEAN_PEERS):
            first = _at(begin, rng.choice(WEEKDAYS), rng.choice(hours[p.email]))
            _lean_one_on_one(world, rng, uid(), (p.email, other), first, 30, 2)
    return company


def _lean_one_on_one(
    world: World,
    rng: random.Random,
    series_uid: str,
    pair: tuple[str, str],
    first: datetime,
    minutes: int,
    interval: int,
) -> str:
    """A 1:1 every ``interval`` weeks from ``first``, ``pair`` being (organizer, guest), a few
    of its past occurrences cancelled, declined or moved; returns its uid."""
    organizer, guest = pair
    world.add_series(
        series_uid,
        organizer,
        [guest],
        first,
        timedelta(minutes=minutes),
        Recurrence("WEEKLY", interval=interval, byday=(WEEKDAYS[first.weekday()],)),
        at=first - timedelta(days=14),
    )
    now = world.clock()
    # The occurrences are every ``interval`` weeks from the first: no rule to expand.
    t = first
    step = timedelta(weeks=interval)
    while t < now:
        roll = rng.random()
        if roll < LEAN_CANCEL + LEAN_DECLINE + LEAN_MOVE:
            told = t - timedelta(hours=rng.randint(1, 72))
            if roll < LEAN_CANCEL:
                world.cancel_instance(series_uid, t, at=told)
            elif roll < LEAN_CANCEL + LEAN_DECLINE:
                world.decline(series_uid, guest, t, at=told)
            else:
                moved = t + timedelta(hours=rng.choice((-24, 2, 24)))
                world.move_instance(series_uid, t, moved, at=told)
        t += step
    return series_uid


def _absence(
    uid: str, email: str, monday: datetime, length: timedelta, *, weeks_told: int
) -> Absence:
    """An all-day absence from ``monday`` (a UTC midnight) for ``length``, put in the calendar
    ``weeks_told`` weeks ahead."""
    start = all_day_start(monday.date())
    return Absence(email, uid, start, start + length, True, start - timedelta(weeks=weeks_told))


class _Hiring:
    """Makes the company's people one by one: a name drawn at random, a unique address, their
    manager, team and site, and a side (alternating, so half the people are on each)."""

    def __init__(self, rng: random.Random, sources: tuple[str, str]) -> None:
        self._rng = rng
        self._sources = sources
        self._used: set[str] = set()
        self._names: set[tuple[str, str]] = set()

    def __call__(
        self, manager: OrgPerson | None, team: str | None, site: tuple[str, str]
    ) -> OrgPerson:
        rng = self._rng
        # Two people of one name make a finding ambiguous: a few draws avoid that, while the
        # company is small enough for the names to go round.
        for _ in range(20):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if (first, last) not in self._names:
                break
        self._names.add((first, last))
        plain = unicodedata.normalize("NFKD", f"{first}.{last}".lower().replace("'", ""))
        local = plain.encode("ascii", "ignore").decode()
        email, n = f"{local}@{DOMAIN}", 1
        while email in self._used:
            n += 1
            email = f"{local}{n}@{DOMAIN}"
        self._used.add(email)
        return OrgPerson(
            email,
            f"{first} {last}",
            manager.email if manager else None,
            team,
            self._sources[len(self._used) % 2],
            country=site[0],
            timezone=site[1],
        )


def _org(rng: random.Random, size: int, sources: tuple[str, str]) -> list[OrgPerson]:
    directors, managers = _levels(size)
    person = _Hiring(rng, sources)
    top = person(None, "Leadership", HOMES[0])
    people = [top]
    heads = [person(top, f"Org {i + 1}", HOMES[i % len(HOMES)]) for i in range(directors)]
    people += heads
    line = [
        person(heads[i % directors], heads[i % directors].team, _site(heads[i % directors]))
        for i in range(managers)
    ]
    people += line
    while len(people) < size:
        m = line[len(people) % managers]
        home = _site(m)
        site = REMOTE[home[0]] if len(people) % REMOTE_EVERY == 0 else home
        people.append(person(m, m.team, site))
    return people


def _lean_org(rng: random.Random, size: int, sources: tuple[str, str]) -> list[OrgPerson]:
    """An org as deep as it takes for every manager to have :data:`LEAN_TEAM` reports: at
    100,000 people, :func:`_org`'s three levels would put 2,000 directors under one person."""
    person = _Hiring(rng, sources)
    people = [person(None, "Leadership", HOMES[0])]
    home = {people[0].email: HOMES[0]}  # the site each person's reports work at, or remote from
    for manager in people:  # grows while it runs: each new person takes their turn to manage
        if len(people) >= size:
            break
        for _ in range(min(rng.randint(*LEAN_TEAM), size - len(people))):
            n = len(people)
            team: str | None
            if manager is people[0]:
                team, base = f"Org {n}", HOMES[n % len(HOMES)]
            else:
                team, base = manager.team, home[manager.email]
            site = REMOTE[base[0]] if n % REMOTE_EVERY == 0 else base
            people.append(person(manager, team, site))
            home[people[-1].email] = base
    return people


def _into_world(
    world: World, people: list[OrgPerson], sources: tuple[str, str]
) -> dict[str, list[str]]:
    """Add ``people`` to ``world``, each on their side; their teams, by manager."""
    teams: dict[str, list[str]] = {}
    for p in people:
        world.add_person(p.email, p.name, p.manager_email, side=_side(p, sources))
        if p.manager_email:
            teams.setdefault(p.manager_email, []).append(p.email)
    return teams


def _site(p: OrgPerson) -> tuple[str, str]:
    return p.country or HOMES[0][0], p.timezone or HOMES[0][1]


def _side(p: OrgPerson, sources: tuple[str, str]) -> str:
    return "google" if p.source == sources[0] else "outlook"


def _monday(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return datetime(t.year, t.month, t.day, tzinfo=UTC) - timedelta(days=t.weekday())


def _at(monday: datetime, day: str, hour: int) -> datetime:
    return monday + timedelta(days=WEEKDAYS.index(day), hours=hour)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
