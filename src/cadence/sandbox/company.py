"""A synthetic company whose 1:1s behave as real ones do, for the demo, tests and benchmarks.

:func:`build_company` fills a :class:`~cadence.sandbox.world.World` with people in a few levels
(half of them on Google, half on Microsoft) and half a year of meetings: steady weekly and
biweekly 1:1s with the odd cancellation, decline and move; a manager who keeps cancelling; reports
who keep declining; pairs that reschedule a lot; new hires with no 1:1 yet; pairs whose 1:1s
quietly stopped; out-of-office weeks; 15- to 60-minute habits; and the meetings around them that
must not count as 1:1s (team meetings, three-person meetings, focus time, all-day events).

What was planted is returned as :class:`Company`, so tests can check that the pipeline finds it;
nothing here computes a figure.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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


@dataclass
class Company:
    """The people, and which pairs were given which story (manager email, report email)."""

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

    def side_of(self, email: str) -> str:
        return next(p.source for p in self.people if p.email == email) or "google"


def _levels(size: int) -> tuple[int, int]:
    """How many directors and managers a company of ``size`` has (about 6 reports a manager)."""
    directors = max(2, round(size / 45))
    managers = max(directors * 2, round(size / 7))
    return directors, managers


def build_company(
    world: World,
    *,
    size: int = 200,
    seed: int = 7,
    weeks_back: int = 26,
    weeks_ahead: int = 5,
    sources: tuple[str, str] = ("google", "outlook"),
) -> Company:
    """Fill ``world`` with a company of about ``size`` people, reproducibly from ``seed``.

    ``sources`` names the two sides (the config's source names): person *i* is on the first or
    the second at random, about half each.
    """
    if size < 12:
        raise ValueError("a company needs at least 12 people to have directors and managers")
    rng = random.Random(seed)
    now = world.clock()
    begin = _monday(now - timedelta(weeks=weeks_back))
    people = _org(rng, size, sources)
    for p in people:
        world.add_person(p.email, p.name, p.manager_email, side=_side(p, sources))
    by_manager: dict[str, list[str]] = {}
    for p in people:
        if p.manager_email:
            by_manager.setdefault(p.manager_email, []).append(p.email)
    top = next(p.email for p in people if p.manager_email is None)
    managers = sorted(by_manager)
    directors = sorted(m for m in managers if any(r in by_manager for r in by_manager[m]))
    line_managers = [m for m in managers if m not in directors]
    # The cancelling manager needs a team for the story to show; in the smallest companies no
    # line manager has three reports, and the one with the largest team plays the part.
    teams_of_three = [m for m in line_managers if len(by_manager[m]) >= 3]
    largest = max(line_managers, key=lambda m: (len(by_manager[m]), m))
    reports = [p.email for p in people if p.manager_email and p.email not in by_manager]

    company = Company(
        people=people,
        top=top,
        directors=directors,
        managers=managers,
        cancelling_manager=rng.choice(teams_of_three or [largest]),
    )
    manager_of = {p.email: p.manager_email or "" for p in people}
    pool = [r for r in reports if manager_of[r] != company.cancelling_manager]
    rng.shuffle(pool)
    company.new_hires = pool[:2]
    company.decliners = pool[2:4]
    company.reschedulers = [(manager_of[r], r) for r in pool[4:6]]
    company.stopped = [(manager_of[r], r) for r in pool[6:8]]

    n = 0

    def uid() -> str:
        nonlocal n
        n += 1
        return f"demo-{seed}-{n:06d}@{DOMAIN}"

    for manager in managers:
        habit = rng.choice(DURATIONS)
        slots = [(d, h) for d in WEEKDAYS for h in (9, 10, 11, 13, 14, 15, 16)]
        rng.shuffle(slots)
        team = by_manager[manager]
        # The team meeting: never a 1:1, even in a team of one plus the manager's own manager.
        world.add_series(
            uid(),
            manager,
            team,
            _at(begin, "MO", 8),
            timedelta(minutes=45),
            Recurrence("WEEKLY", byday=("MO",)),
            at=begin - timedelta(days=30),
        )
        for report, (day, hour) in zip(team, slots, strict=False):
            if report in company.new_hires:
                continue
            _one_on_one(world, rng, company, uid(), manager, report, day, hour, habit, begin, now)
        skips = [r for d in team if d in by_manager for r in by_manager[d]]
        for report in rng.sample(skips, min(2, len(skips))):
            # A monthly skip-level: reported apart from the pair figures.
            world.add_series(
                uid(),
                manager,
                [report],
                _at(begin, "TH", 17),
                timedelta(minutes=30),
                Recurrence("WEEKLY", interval=4, byday=("TH",)),
                at=begin - timedelta(days=20),
            )

    for p in people:
        _surroundings(world, rng, uid, p.email, people, begin, now, weeks_back, weeks_ahead)
    return company


def _one_on_one(
    world: World,
    rng: random.Random,
    company: Company,
    uid: str,
    manager: str,
    report: str,
    day: str,
    hour: int,
    minutes: int,
    begin: datetime,
    now: datetime,
) -> None:
    pair = (manager, report)
    interval = 2 if rng.random() < 0.25 else 1
    until = None
    if pair in company.stopped:
        until = now - timedelta(weeks=rng.randint(7, 10))
    # A quarter of the 1:1s are the report's invitation; a report who keeps declining is invited.
    by_report = rng.random() < 0.25 and report not in company.decliners
    organizer, guest = (report, manager) if by_report else (manager, report)
    guests: list[str | Guest] = [guest]
    if rng.random() < 0.15:
        guests.append(Guest(f"room-{rng.randint(1, 9)}@{DOMAIN}", "accepted", resource=True))
    s = world.add_series(
        uid,
        organizer,
        guests,
        _at(begin, day, hour),
        timedelta(minutes=minutes),
        Recurrence("WEEKLY", interval=interval, byday=(day,), until=until),
        at=begin - timedelta(days=14),
    )
    company.one_on_ones[pair] = uid
    p_manager, p_report, p_move = 0.04, 0.03, 0.06
    if manager == company.cancelling_manager:
        p_manager = 0.45
    if report in company.decliners:
        p_report = 0.4
    if pair in company.reschedulers:
        p_move = 0.5
    for t in s.original_starts(begin, now):
        roll = rng.random()
        if roll < p_manager:
            _miss(world, rng, s, t, manager)
        elif roll < p_manager + p_report:
            _miss(world, rng, s, t, report)
        elif roll < p_manager + p_report + p_move:
            shift = timedelta(hours=rng.choice((-24, -2, 2, 3, 24, 48)))
            world.move_instance(uid, t, t + shift, at=t - timedelta(hours=rng.randint(2, 72)))


def _miss(world: World, rng: random.Random, s: Series, t: datetime, who: str) -> None:
    """``who`` misses the occurrence at ``t``: a cancellation if they organize it, else a decline.

    About a third of misses come late, on the day itself.
    """
    before = timedelta(hours=rng.randint(1, 20) if rng.random() < 0.35 else rng.randint(30, 240))
    if who == s.organizer:
        world.cancel_instance(s.uid, t, at=t - before)
    else:
        world.decline(s.uid, who, t, at=t - before)


def _surroundings(
    world: World,
    rng: random.Random,
    uid: Callable[[], str],
    email: str,
    people: list[OrgPerson],
    begin: datetime,
    now: datetime,
    weeks_back: int,
    weeks_ahead: int,
) -> None:
    """What else fills a calendar: a vacation week, focus time, a three-person meeting."""
    week = rng.randint(1, weeks_back + weeks_ahead - 1)
    start = begin + timedelta(weeks=week)
    world.add_one_off(
        uid(),
        email,
        [],
        all_day_start(start.date()),
        timedelta(days=5),
        all_day=True,
        event_type="outOfOffice",
        at=start - timedelta(days=21),
    )
    for s in world.series_of(email):
        if s.recurrence is None or s.all_day or len(s.participants()) != 2:
            continue
        for t in s.original_starts(start, start + timedelta(days=5)):
            if t < now:
                _miss(world, rng, s, t, email)
    if rng.random() < 0.3:
        world.add_series(
            uid(),
            email,
            [],
            _at(begin, rng.choice(WEEKDAYS), 12),
            timedelta(hours=2),
            Recurrence("WEEKLY", byday=(rng.choice(WEEKDAYS),)),
            event_type="focusTime",
            at=begin - timedelta(days=7),
        )
    if rng.random() < 0.3:
        others = rng.sample([p.email for p in people if p.email != email], 2)
        world.add_series(
            uid(),
            email,
            others,
            _at(begin, rng.choice(WEEKDAYS), 12),
            timedelta(minutes=30),
            Recurrence("WEEKLY", interval=2, byday=(rng.choice(WEEKDAYS),)),
            at=begin - timedelta(days=7),
        )


def _org(rng: random.Random, size: int, sources: tuple[str, str]) -> list[OrgPerson]:
    directors, managers = _levels(size)
    used: set[str] = set()

    def person(manager: str | None, team: str | None) -> OrgPerson:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        plain = unicodedata.normalize("NFKD", f"{first}.{last}".lower().replace("'", ""))
        local = plain.encode("ascii", "ignore").decode()
        email, n = f"{local}@{DOMAIN}", 1
        while email in used:
            n += 1
            email = f"{local}{n}@{DOMAIN}"
        used.add(email)
        # Half the people on each side, whatever the size.
        return OrgPerson(email, f"{first} {last}", manager, team, sources[len(used) % 2])

    top = person(None, "Leadership")
    people = [top]
    heads = [person(top.email, f"Org {i + 1}") for i in range(directors)]
    people += heads
    line = [person(heads[i % directors].email, heads[i % directors].team) for i in range(managers)]
    people += line
    while len(people) < size:
        m = line[len(people) % managers]
        people.append(person(m.email, m.team))
    return people


def _side(p: OrgPerson, sources: tuple[str, str]) -> str:
    return "google" if p.source == sources[0] else "outlook"


def _monday(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return datetime(t.year, t.month, t.day, tzinfo=UTC) - timedelta(days=t.weekday())


def _at(monday: datetime, day: str, hour: int) -> datetime:
    return monday + timedelta(days=WEEKDAYS.index(day), hours=hour)
