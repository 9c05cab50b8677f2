"""The plain words every report format shares: labels, reasons, suggestions, dates and numbers.

The reports compute no figure (the pipeline's views carry them all, docs/metrics.md); this module
only chooses how a figure reads: a rate as a percentage, days without a needless ``.0``, an instant
as a short date in the configured time zone, a reason code as a sentence about the person, and the
order a manager reads their reports in (worst first). Markdown, HTML, CSV and email all use it, so a
reason reads the same everywhere.

It also decides what of a name can be shown at all. Names and emails come from calendars, mail
directories and the org chart, which anyone with a calendar can write into; a control character
(ESC, BEL, backspace, NUL, a C1 code) can rewrite a terminal or hide text, and a bidirectional
control (U+202E and its kind) or an invisible zero-width character makes text read differently
from what it is (a name that shows as another person's, a table row read backwards).
:func:`visible` replaces each such character with U+FFFD, so the reader sees that something was
there and two names that differ only by it still look different; every renderer passes the text
it writes from a view through it (Markdown and email headers by :func:`one_line`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from cadence.config import Config
from cadence.weeks import week_label

# What moves text to a new line or a tab stop: a space in one-line text.
_BREAKS = re.compile(r"[\t\n\v\f\r\x85\u2028\u2029]+")
# Every other C0 and C1 control and DEL; the bidirectional controls; the invisible characters no
# script needs (zero-width space, word joiner, invisible operators, byte-order mark, the tag
# characters that can carry hidden ASCII); lone surrogates, which no file can hold. Zero-width
# joiner and non-joiner (U+200C, U+200D) stay: Persian, Indic scripts and emoji need them.
HIDDEN = re.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff\U000e0001\U000e0020-\U000e007f\ud800-\udfff]"
)
_REPLACEMENT = "\ufffd"

STATUS_LABELS = {"unhealthy": "Unhealthy", "at_risk": "At risk", "healthy": "Healthy"}
STATUS_ORDER = {"unhealthy": 0, "at_risk": 1, "healthy": 2}

Entry = Mapping[str, Any]


@dataclass(frozen=True)
class RenderSettings:
    """What a report needs from the configuration besides the view: settings, never figures."""

    tz: tzinfo = field(default=UTC)
    min_group_size: int = 5

    @classmethod
    def from_config(cls, config: Config) -> RenderSettings:
        return cls(tz=config.tz, min_group_size=config.report.min_group_size)


def visible(text: object) -> str:
    """Text with every character of :data:`HIDDEN` shown as U+FFFD (line breaks and tabs stay)."""
    text = str(text)
    # Every character of HIDDEN is one str.isprintable() refuses (a control, a format character,
    # a surrogate), so printable text has none; that scan in C spares most of the hundreds of
    # thousands of names and phrases a large run writes the regular expression.
    if text.isprintable():
        return text
    return HIDDEN.sub(_REPLACEMENT, text)


def shown(value: Any) -> Any:
    """A value as a report writes it: text as :func:`visible`, anything else (a count, a rate,
    none) as it is."""
    return visible(value) if isinstance(value, str) else value


def one_line(text: object) -> str:
    """:func:`visible` text with line breaks and tabs turned into spaces: names come from calendars
    and directories and must not break a line, a heading or an email header."""
    text = str(text)
    if text.isprintable():  # no break and nothing hidden: see visible()
        return text.strip()
    return visible(_BREAKS.sub(" ", text)).strip()


def parse_instant(value: str) -> datetime:
    """An ISO-8601 instant of a view (always with an offset)."""
    return datetime.fromisoformat(value)


def local(value: str, settings: RenderSettings) -> datetime:
    return parse_instant(value).astimezone(settings.tz)


# The English names strftime gives in the C locale, which cadence never changes: a lookup instead
# of a strftime call, for the hundreds of thousands of dates (timeline tooltips) a run writes.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def fmt_date(value: str | None, settings: RenderSettings, none: str = "—") -> str:
    """``Mon 2 Nov 2026``; ``none`` (an em dash) for none."""
    if value is None:
        return none
    t = local(value, settings)
    return f"{short_date(t)} {t.year}"


def fmt_datetime(value: str | None, settings: RenderSettings) -> str:
    """``Mon 30 Nov 2026 10:00``; an em dash for none."""
    if value is None:
        return "—"
    t = local(value, settings)
    return f"{fmt_date(value, settings)} {t:%H:%M}"


def short_date(t: datetime) -> str:
    """``Tue 1 Dec``: a day close enough to as-of that its year goes without saying."""
    return f"{_WEEKDAYS[t.weekday()]} {t.day} {_MONTHS[t.month - 1]}"


def last_away_day(value: str, settings: RenderSettings, as_of: str | None = None) -> str:
    """The end of an away stretch (an exclusive instant) as a person reads "away until":
    ``Mon 14 Dec`` for a stretch ending at local midnight after Monday (the last day away, as a
    vacation "until Monday" includes Monday), ``Mon 14 Dec 15:00`` for one ending at another
    hour (a timed absence, or a midnight in another person's zone); with the year when it is not
    as-of's (or there is no as-of)."""
    end = local(value, settings)
    midnight = (end.hour, end.minute, end.second) == (0, 0, 0)
    t = end - timedelta(days=1) if midnight else end
    same_year = as_of is not None and local(as_of, settings).year == t.year
    day = short_date(t) if same_year else f"{short_date(t)} {t.year}"
    return day if midnight else f"{day} {t:%H:%M}"


def fmt_time(value: str | None, settings: RenderSettings) -> str:
    """``10:00``; empty for none."""
    return "" if value is None else f"{local(value, settings):%H:%M}"


def days_ago(days: int | None) -> str:
    """``22 days ago`` / ``today``; empty for none."""
    if days is None:
        return ""
    return "today" if days == 0 else f"{plural(days, 'day')} ago"


def fmt_as_of(value: str, settings: RenderSettings) -> str:
    t = local(value, settings)
    return f"{fmt_datetime(value, settings)} {t.tzname() or ''}".rstrip()


def iso_week(value: str, settings: RenderSettings) -> str:
    """``2026-W48``: the ISO week (Monday start) of an instant in the configured zone."""
    return week_label(parse_instant(value), settings.tz)


def fmt_rate(rate: float | None) -> str:
    """A 0..1 rate as a whole percentage; ``<1%`` rather than a misleading ``0%``."""
    if rate is None:
        return "—"
    if 0 < rate < 0.005:
        return "<1%"
    return f"{rate * 100:.0f}%"


def fmt_count(n: float | None) -> str:
    """``13,897``: a count with thousands separators, so an org's totals read at a glance."""
    return "—" if n is None else f"{n:,}"


def fmt_days(days: float | None) -> str:
    """Days as the views round them (docs/metrics.md), without a trailing ``.0``."""
    if days is None:
        return "—"
    return f"{days:g}"


def capital(text: str) -> str:
    """Text starting a sentence: its first letter upper-case, the rest (a date, a name) as is."""
    return text[:1].upper() + text[1:]


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def every(days: float | None) -> str:
    """``every 7 days`` / ``every day``; an em dash for none."""
    if days is None:
        return "—"
    return "every day" if days == 1 else f"every {fmt_days(days)} days"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def worst_first(entries: list[Entry]) -> list[Entry]:
    """Unhealthy, then at risk, then healthy; within a status the longest streak of misses,
    then the highest cancellation rate, then by name, so the order is stable."""

    def key(e: Entry) -> tuple[int, int, float, str, str]:
        rate = e.get("cancellation_rate")
        return (
            STATUS_ORDER.get(e["status"], 3),
            -(e.get("consecutive_missed") or 0),
            -(rate if rate is not None else -1.0),
            (e.get("name") or "").casefold(),
            e["email"],
        )

    return sorted(entries, key=key)


def reason_texts(e: Entry, window_weeks: int) -> list[str]:
    """Each reason code of a pair as a short phrase, in the view's order."""
    texts = []
    for code in e.get("reasons", []):
        if code == "no_one_on_one":
            texts.append(f"no 1:1 in {plural(window_weeks, 'week')} and none planned")
        elif code == "cancel_streak":
            texts.append(f"{e['consecutive_missed']} missed in a row")
        elif code == "stale":
            plan = every(e.get("intended_cadence_days"))
            planned = f"planned {plan}" if e.get("intended_cadence_days") else "no series"
            texts.append(f"last 1:1 {plural(e['days_since_last_held'], 'day')} ago ({planned})")
        elif code == "high_cancellation":
            texts.append(
                f"{e['missed']} of {e['scheduled']} missed ({fmt_rate(e['cancellation_rate'])})"
            )
        elif code == "manager_cancels":
            texts.append(f"{e['cancelled_by_manager']} of {e['missed']} misses cancelled by you")
        elif code == "no_recurring_series":
            texts.append("no recurring series")
        else:
            texts.append(code.replace("_", " "))
    return texts


# The reasons that say "too long without a 1:1": while the pair is away, there is nothing to do
# about them but wait.
_WAITING = ("no_one_on_one", "cancel_streak", "stale")


def suggestions(
    e: Entry, window_weeks: int, settings: RenderSettings, as_of: str | None = None
) -> list[str]:
    """What a manager could do, one plain sentence per reason that holds (none when healthy).

    While the pair is away (``away_until`` set), keeping the next 1:1 or booking one this week
    cannot be done: a streak or a stale 1:1 gets one sentence to pick it up on return instead.
    ``as_of`` lets that date go without its year."""
    out = []
    reasons = e.get("reasons", [])
    back = e.get("away_until")
    if back and any(r in reasons for r in _WAITING):
        when = last_away_day(back, settings, as_of)
        out.append(f"Away until {when}: pick the 1:1 up when you are both back.")
    if "no_one_on_one" in reasons:
        out.append(
            f"No 1:1 in {plural(window_weeks, 'week')} and none planned: book a recurring one."
        )
    if "cancel_streak" in reasons and not back:
        n = e["consecutive_missed"]
        mine = e.get("streak_cancelled_by_manager")
        if mine:
            out.append(f"{n} missed in a row, {mine} by you: keep the next one.")
        else:
            out.append(f"{n} missed in a row: ask whether the time still works.")
    if "stale" in reasons and not back:
        days = plural(e["days_since_last_held"], "day")
        if e.get("next_scheduled"):
            when = fmt_date(e["next_scheduled"], settings)
            out.append(f"Last 1:1 was {days} ago; the next is {when}: make sure it happens.")
        else:
            out.append(f"Last 1:1 was {days} ago and none is planned: book one this week.")
    if "high_cancellation" in reasons:
        late = e.get("late_cancellations") or 0
        tail = f", {late} at short notice" if late else ""
        out.append(
            f"{fmt_rate(e['cancellation_rate'])} of 1:1s missed{tail}: find a slot that holds."
        )
    if "manager_cancels" in reasons:
        out.append(
            f"You cancelled {e['cancelled_by_manager']} of {e['missed']} misses: protect this slot."
        )
    if "no_recurring_series" in reasons and "no_one_on_one" not in reasons:
        actual = e.get("actual_cadence_days")
        fits = f" ({every(actual)} matches what you do now)" if actual else ""
        out.append(f"No recurring series: set one up{fits}.")
    return out


def change(now: float | None, before: float | None, rate: bool = False) -> str:
    """``1,878 (up from 1,742)`` / ``21% (unchanged)``: a figure against last week's, in words."""
    show = fmt_rate if rate else fmt_count
    if before is None or now is None:
        return show(now)
    if now == before:
        return f"{show(now)} (unchanged)"
    if show(now) == show(before):  # moved less than the rounding shows
        return f"{show(now)} (about the same)"
    return f"{show(now)} ({'up' if now > before else 'down'} from {show(before)})"


def via_name(view: Mapping[str, Any], entry: Entry) -> str:
    """The name of the direct report a skip-level pair goes through (one of this manager's own
    reports, so naming them stays inside the manager's reports)."""
    for e in view["reports"]:
        if e["email"] == entry.get("via"):
            return str(e["name"])
    return str(entry.get("via") or "")


def ranked_managers(view: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A director's managers: most unhealthy pairs first, then lowest coverage, then highest
    manager-cancel share; suppressed managers last, by name."""

    def key(m: Mapping[str, Any]) -> tuple[int, int, float, float, str]:
        s = m.get("summary")
        name = str(m["manager"]["name"]).casefold()
        if m.get("suppressed") or not s:
            return (1, 0, 0.0, 0.0, name)
        cov = s.get("coverage_rate")
        share = s.get("manager_cancel_share")
        return (
            0,
            -s["status_counts"]["unhealthy"],
            cov if cov is not None else 2.0,
            -(share if share is not None else -1.0),
            name,
        )

    return sorted(view.get("managers") or [], key=key)


def director_changes(view: Mapping[str, Any]) -> list[str]:
    """What moved since last week: the org's figures against last week's run, and the last two
    weeks of the trend."""
    s, p = view.get("summary"), view.get("previous_summary")
    lines = []
    if s and p:
        sc, pc = s["status_counts"], p["status_counts"]
        lines += [
            f"Unhealthy pairs: {change(sc['unhealthy'], pc['unhealthy'])}",
            f"At-risk pairs: {change(sc['at_risk'], pc['at_risk'])}",
            f"Coverage: {change(s.get('coverage_rate'), p.get('coverage_rate'), rate=True)}",
            "Cancellation rate over the window: "
            + change(s.get("cancellation_rate"), p.get("cancellation_rate"), rate=True),
            "Share cancelled by managers: "
            + change(s.get("manager_cancel_share"), p.get("manager_cancel_share"), rate=True),
        ]
    elif s:
        lines.append("No figures for the previous week to compare with.")
    else:
        # The pipeline leaves them out when they would give away a group under the floor.
        lines.append("The org's pooled figures are not shown: they would reveal too small a group.")
    trend = view.get("trend") or []
    if trend and trend[-1].get("scheduled") is None:
        lines.append("The org has too few 1:1 pairs to show its weekly figures.")
    elif len(trend) >= 2:
        last, this = trend[-2], trend[-1]
        lines.append(
            f"Week {last['week']}: {fmt_count(last['missed'])} of {fmt_count(last['scheduled'])}"
            f" missed ({fmt_rate(last.get('cancellation_rate'))}); this week so far"
            f" ({this['week']}): {fmt_count(this['missed'])} of {fmt_count(this['scheduled'])}"
            f" ({fmt_rate(this.get('cancellation_rate'))})"
        )
    return lines


def last_held(e: Entry, settings: RenderSettings) -> str:
    """``Sun 1 Nov 2026 (22 days ago)`` or ``never``."""
    if e.get("last_held") is None:
        return "never"
    ago = days_ago(e.get("days_since_last_held"))
    return fmt_date(e["last_held"], settings) + (f" ({ago})" if ago else "")


def next_one(e: Entry, settings: RenderSettings) -> str:
    if e.get("next_scheduled") is None:
        return "none planned"
    return fmt_datetime(e["next_scheduled"], settings)


def pair_counts(e: Entry) -> list[str]:
    """A pair's window in short phrases, in reading order: held, missed (and how many by the
    reader, the manager; late and declined among them), made up, called off while away, moved.
    A part that is zero is left out, except held and missed, which a reader looks for."""
    missed = e["missed"]
    if missed:
        extra = [
            f"{e[key]} {label}"
            for key, label in (("late_cancellations", "late"), ("declined", "declined"))
            if e.get(key)
        ]
        mine = e["cancelled_by_manager"]
        details = (f"{mine} by you" if mine else "none by you") + (
            f"; {', '.join(extra)}" if extra else ""
        )
        parts = [f"{e['held']} held", f"{missed} missed ({details})"]
    else:
        parts = [f"{e['held']} held", "none missed"]
    if e.get("made_up"):
        parts.append(f"{e['made_up']} made up")
    if e.get("excused"):
        parts.append(f"{e['excused']} while you or they were away")
    if e.get("rescheduled"):
        parts.append(f"{e['rescheduled']} moved")
    return parts


def held_missed(e: Entry) -> str:
    """``9 held · 3 missed (2 by you; 1 late) · 1 made up · 2 while you or they were away``."""
    return " · ".join(pair_counts(e))


def _days(days: float) -> str:
    return f"{fmt_days(days)} {'day' if days == 1 else 'days'}"


def away(e: Entry, as_of: str, settings: RenderSettings) -> list[str]:
    """``away until Mon 14 Dec``, ``away 4.5 days of the window``: the pair's away time (either
    person out of office or on a public holiday), the parts that apply; none when neither.

    ``away_until`` is when the away time around as-of ends: shown as the last day away
    (:func:`last_away_day`)."""
    out = []
    if e.get("away_until"):
        out.append(f"away until {last_away_day(e['away_until'], settings, as_of)}")
    if e.get("away_days"):
        out.append(f"away {_days(e['away_days'])} of the window")
    return out


NOT_MISSED_NOTE = (
    "Made up: called off, then met in a one-off 1:1 within half the series' cadence."
    " While away: called off while the manager or the report was out of office or on a public"
    " holiday. Neither counts as missed or scheduled."
)


def not_missed(s: Mapping[str, Any]) -> str | None:
    """``1 made up · 2 while someone was away, not counted as missed``: the summary's made-up
    and excused totals; none when both are zero."""
    parts = []
    if s.get("made_up"):
        parts.append(f"{fmt_count(s['made_up'])} made up")
    if s.get("excused"):
        parts.append(f"{fmt_count(s['excused'])} while someone was away")
    return " · ".join(parts) + ", not counted as missed" if parts else None


def opted_out(view: Mapping[str, Any]) -> str | None:
    """``1 person opted out of cadence: their 1:1s are not counted``, for a manager's report
    whose view says some did (never who); none otherwise."""
    count = view.get("opted_out")
    if not count:
        return None
    people = "1 person" if count == 1 else f"{fmt_count(count)} people"
    return f"{people} on your team opted out of cadence: their 1:1s are not counted or shown"


def sub_org_label(sub: Mapping[str, Any], escape: Callable[[object], str]) -> str:
    """A sub-org's head's name, or the words for ``other``: the folded small sub-orgs, with
    whatever else of the org the privacy floor keeps from being shown apart."""
    if sub.get("head"):
        return escape(sub["label"])
    return "Other (rest of the org)"


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(trend: list[Mapping[str, Any]]) -> str:
    """One block character per week, height by cancellation rate (0 to 100%); a space where a
    week had no 1:1s."""
    out = []
    for w in trend:
        rate = w.get("cancellation_rate")
        out.append(" " if rate is None else _BARS[min(int(rate * len(_BARS)), len(_BARS) - 1)])
    return "".join(out)
