"""A week's figures for the web app, and the pages drawn from them.

A page reads the JSON that ``report all`` or the nightly saved for its week (one primary-key
read), so it never waits for the pipeline. A week that can be answered but was never saved is
computed once, at the week's last second (or now, for the week that holds now), and saved like a
nightly's, while other requests for that week wait for the same computation rather than start
their own. The JSON a page answers with is that saved text, so it is the command line's
``--format json`` for the same as-of, byte for byte.

Which weeks can be answered: from the week of the earliest instant any calendar was read from
(before it the store knows of no 1:1, and a week with none would read as 1:1s that stopped) to
the week that holds now; a future week has no figures yet. With ``[store] retention_days`` on,
no week whose figures need events the nightly has deleted (its window, trend or the week before
starting before the retention edge), saved or not.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader
from markupsafe import Markup
from sqlalchemy import Engine

from cadence.config import Config
from cadence.jobs.figures import reaches_deleted, results
from cadence.jobs.report_all import save_figures
from cadence.normalised import OrgPerson, normalise_email
from cadence.reports import charts, html, words
from cadence.reports.words import RenderSettings
from cadence.store.people import load_chart
from cadence.store.retention import deleted_before
from cadence.store.saved import saved_subjects, saved_view, saved_weeks
from cadence.store.sync_state import earliest_read
from cadence.weeks import week_label, week_last_second, week_monday, weeks_between

# The org chart and the list of saved weeks change once a night: re-read them at most this often.
REFRESH_SECONDS = 60.0


class OrgDirectory:
    """The org chart as the web app needs it: who someone is (aliases included) and who is
    below whom. Re-read from the store every :data:`REFRESH_SECONDS`."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = -REFRESH_SECONDS
        self._people: dict[str, OrgPerson] = {}
        self._aliases: dict[str, str] = {}

    def _fresh(self) -> None:
        with self._lock:
            if self._clock() - self._read_at < REFRESH_SECONDS:
                return
            chart = load_chart(self._engine)
            self._people = {p.email: p for p in chart}
            self._aliases = {normalise_email(a): p.email for p in chart for a in p.aliases}
            self._read_at = self._clock()

    def resolve(self, email: str) -> OrgPerson | None:
        """The person an email (or one of their aliases) names, or None."""
        self._fresh()
        key = normalise_email(email)
        return self._people.get(self._aliases.get(key, key))

    def name(self, email: str) -> str:
        person = self.resolve(email)
        return person.name if person else email

    def below(self, person: str, head: str) -> bool:
        """Whether ``person`` is ``head`` or below ``head`` in the chart."""
        self._fresh()
        seen: set[str] = set()
        current: str | None = person
        while current is not None and current not in seen:
            if current == head:
                return True
            seen.add(current)
            found = self._people.get(current)
            current = found.manager_email if found else None
        return False


@dataclass
class WeekFigures:
    """The saved figures of every week, computed once for a week nobody saved."""

    engine: Engine
    config: Config
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _saved: set[str] = field(default_factory=set)
    _saved_read_at: float = -REFRESH_SECONDS
    _earliest: datetime | None = None
    _deleted_before: datetime | None = None

    def current(self) -> str:
        return week_label(self.now(), self.config.tz)

    def _saved_weeks(self, force: bool = False) -> set[str]:
        if force or time.monotonic() - self._saved_read_at >= REFRESH_SECONDS:
            self._saved = {w.week for w in saved_weeks(self.engine)}
            self._earliest = earliest_read(self.engine)
            self._deleted_before = deleted_before(self.engine)
            self._saved_read_at = time.monotonic()
        return self._saved

    def weeks(self) -> list[str]:
        """Every week a page can be shown for, oldest first."""
        saved = self._saved_weeks()
        now = self.now()
        answerable = weeks_between(self._earliest, now, self.config.tz) if self._earliest else []
        current = self.current()
        weeks = sorted({*answerable, *(w for w in saved if w <= current)})
        # Weeks whose figures need events the retention deleted (saved ones too: they are made
        # of that data) are not offered; a later week needs less, so the first kept one ends it.
        while weeks and reaches_deleted(self.config, self.as_of(weeks[0]), self._deleted_before):
            weeks.pop(0)
        return weeks

    def answerable(self, week: str) -> bool:
        try:
            week_monday(week)
        except ValueError:
            return False
        return week in self.weeks()

    def as_of(self, week: str) -> datetime:
        """The instant a week's figures are computed at, when nobody saved them."""
        return min(self.now(), week_last_second(week, self.config.tz))

    def view_json(self, week: str, kind: str, subject: str) -> str | None:
        """The saved JSON of ``subject``'s ``kind`` report for ``week``; None when that week has
        no such report (or cannot be answered)."""
        if not self.answerable(week):
            return None
        if week not in self._saved_weeks():
            self._compute(week)
        return saved_view(self.engine, week, kind, subject)

    def subjects(self, week: str) -> list[tuple[str, str]]:
        """Every (kind, subject) with a report for ``week`` (computing the week if need be)."""
        if not self.answerable(week):
            return []
        if week not in self._saved_weeks():
            self._compute(week)
        return saved_subjects(self.engine, week)

    def _compute(self, week: str) -> None:
        with self._guard:
            lock = self._locks.setdefault(week, threading.Lock())
        with lock:
            # Whoever waited here finds the week saved by the request that held the lock.
            if week in self._saved_weeks(force=True):
                return
            as_of = self.as_of(week)
            save_figures(
                self.engine, self.config, as_of, results(self.engine, self.config, as_of, None)
            )
            self._saved_weeks(force=True)


@dataclass(frozen=True)
class Nav:
    """What every page's header shows: who is signed in, the week and the way to others."""

    viewer_name: str
    viewer_email: str
    admin: bool
    week: str
    weeks: Sequence[str]
    link: Callable[[str], str]  # a week -> this page's address for that week
    home: str = "/"
    json_url: str | None = None

    @property
    def earlier(self) -> str | None:
        i = self.weeks.index(self.week) if self.week in self.weeks else -1
        return self.weeks[i - 1] if i > 0 else None

    @property
    def later(self) -> str | None:
        i = self.weeks.index(self.week) if self.week in self.weeks else len(self.weeks)
        return self.weeks[i + 1] if i + 1 < len(self.weeks) else None

    @property
    def recent(self) -> list[str]:
        """The weeks of the picker, newest first."""
        return list(reversed(self.weeks))


class Pages:
    """The HTML of every page, in the reports' look: the report templates, with the web app's
    own base (header, week picker, sign-out) in place of the files'."""

    def __init__(self, settings: RenderSettings) -> None:
        self.settings = settings
        self.env: Environment = html.environment(
            ChoiceLoader(
                [
                    PackageLoader("cadence.web", "templates"),
                    PackageLoader("cadence.reports", "templates"),
                ]
            )
        )

    def manager(self, view: Mapping[str, Any], nav: Nav) -> str:
        context = html.manager_context(view, self.settings)
        return self.env.get_template("manager.html").render(**context, nav=nav)

    def director(self, view: Mapping[str, Any], nav: Nav, sub_link: Callable[[str], str]) -> str:
        context = html.director_context(view, self.settings)
        context["sub_link"] = sub_link
        return self.env.get_template("director.html").render(**context, nav=nav)

    def sub_org(self, page: Mapping[str, Any], nav: Nav, director_link: str) -> str:
        sub = page["sub_org"]
        title = words.sub_org_label(sub, str)
        chart = Markup(  # noqa: S704  (drawn and escaped by charts)
            charts.trend_svg(sub["trend"], f"Weekly cancellation rate: {title}")
        )
        return self.env.get_template("sub_org.html").render(
            page=page,
            title=title,
            chart=chart,
            week=nav.week,
            as_of=words.fmt_as_of(page["as_of"], self.settings),
            managers=words.ranked_managers(page),
            min_group=self.settings.min_group_size,
            director_link=director_link,
            nav=nav,
        )

    def home(
        self, nav: Nav, own: Sequence[SimpleNamespace], others: Sequence[SimpleNamespace]
    ) -> str:
        return self.env.get_template("home.html").render(nav=nav, own=own, others=others)

    def message(
        self,
        title: str,
        text: str,
        nav: Nav | None = None,
        sign_in: str | None = None,
        sign_out: bool = False,
    ) -> str:
        return self.env.get_template("message.html").render(
            title=title, text=text, nav=nav, sign_in=sign_in, sign_out=sign_out
        )


def sub_org_page(
    view: Mapping[str, Any], head: str, directory: OrgDirectory
) -> dict[str, Any] | None:
    """One sub-org of a director's report, as a page of its own: the sub-org's trend and the
    managers of the report who are in it, with the figures the report already shows, and
    nothing more (a new figure about a part of a sub-org could be subtracted from the report's).
    None when the report shows no sub-org with that head."""
    head = normalise_email(head)
    for sub in view.get("sub_orgs") or []:
        if sub["head"] is not None and sub["head"]["email"] == head:
            managers = [
                m
                for m in view["managers"]
                if m["manager"]["email"] != view["director"]["email"]
                and directory.below(m["manager"]["email"], head)
            ]
            return {
                "kind": "sub_org",
                "director": view["director"],
                "as_of": view["as_of"],
                "trend_weeks": view["trend_weeks"],
                "sub_org": sub,
                "managers": managers,
            }
    return None


def parse_view(text: str) -> dict[str, Any]:
    view: dict[str, Any] = json.loads(text)
    return view
