"""Markdown reports: readable as plain text in a terminal, and rendered in chat tools.

Names come from calendars and directories and are untrusted: :func:`md` makes any text inert
(no HTML, links, images, emphasis or table breaks; no line breaks to forge a heading; no terminal
escapes or bidirectional controls, :func:`words.visible`), so a name like
``<img src=x onerror=alert(1)>`` shows as those characters and does nothing. Per-report
details are short bullet blocks rather than a wide table, so they wrap well in a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cadence.counts import TREND_COUNTS
from cadence.reports import words
from cadence.reports.words import RenderSettings, fmt_count, fmt_rate, plural, status_label

# Enough to make text inert where it never starts a line: inline markup, HTML, links, tables.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|!~&])")


def md(text: object) -> str:
    """Text made inert in Markdown: one line of :func:`words.one_line`, markup backslashed."""
    return _SPECIAL.sub(r"\\\1", words.one_line(text))


def _entry_block(
    e: Mapping[str, Any],
    window_weeks: int,
    as_of: str,
    settings: RenderSettings,
    via: str | None = None,
) -> list[str]:
    reasons = words.reason_texts(e, window_weeks)
    head = f"### {md(e['name'])}: {status_label(e['status'])}"
    lines = [head, ""]
    if via is not None:
        lines.append(f"- Reports to {md(via)}")
    if reasons:
        lines.append(f"- Why: {'; '.join(reasons)}")
    away = words.away(e, as_of, settings)
    if away:
        lines.append(f"- {words.capital('; '.join(away))}")
    lines.append(
        f"- Last 1:1: {words.last_held(e, settings)} · next: {words.next_one(e, settings)}"
    )
    lines.append(
        f"- Cadence: planned {words.every(e.get('intended_cadence_days'))}"
        f" · actual {words.every(e.get('actual_cadence_days'))}"
    )
    lines.append(f"- Over {plural(window_weeks, 'week')}: {words.held_missed(e)}")
    for s in words.suggestions(e, window_weeks, settings, as_of):
        lines.append(f"- **Suggestion:** {s}")
    lines.append("")
    return lines


def manager_markdown(view: Mapping[str, Any], settings: RenderSettings) -> str:
    s = view["summary"]
    counts = s["status_counts"]
    weeks = view["window_weeks"]
    manager = view["manager"]
    lines = [
        f"# 1:1 health for {md(manager['name'])}, week {words.iso_week(view['as_of'], settings)}",
        "",
        f"As of {words.fmt_as_of(view['as_of'], settings)}, over the last {plural(weeks, 'week')}.",
        "",
        f"**{counts['unhealthy']} unhealthy · {counts['at_risk']} at risk ·"
        f" {counts['healthy']} healthy** of your {plural(s['direct_reports'], 'direct report')}.",
        "",
        f"- Coverage: {s['covered']} of {s['direct_reports']} had a 1:1 held"
        f" ({fmt_rate(s.get('coverage_rate'))})",
        f"- Cancellation rate: {fmt_rate(s.get('cancellation_rate'))} of scheduled 1:1s missed"
        + (
            f"; {fmt_rate(s['manager_cancel_share'])} of the misses were cancelled by you"
            if s.get("manager_cancel_share") is not None
            else ""
        ),
        f"- Recurring series: {s['with_recurring_series']} of {s['direct_reports']};"
        f" typical gap between 1:1s {words.every(s.get('median_actual_cadence_days'))}",
    ]
    not_missed = words.not_missed(s)
    if not_missed:
        lines.insert(-1, f"- {words.capital(not_missed)}")
    opted_out = words.opted_out(view)
    if opted_out:
        lines.append(f"- {words.capital(opted_out)}")
    lines.append("")
    reports = words.worst_first(list(view["reports"]))
    if reports:
        lines += [
            "## Your reports, worst first",
            "",
            "| Report | Status | Held | Missed | Last 1:1 |",
            "| --- | --- | ---: | ---: | --- |",
        ]
        for e in reports:
            lines.append(
                f"| {md(e['name'])} | {status_label(e['status'])} | {e['held']} | {e['missed']}"
                f" | {words.fmt_date(e.get('last_held'), settings)} |"
            )
        lines.append("")
        for e in reports:
            lines += _entry_block(e, weeks, view["as_of"], settings)
    skips = words.worst_first(list(view.get("skip_levels") or []))
    if skips:
        lines += [
            "## Skip-level 1:1s",
            "",
            "Your reports' reports. These are listed apart and never enter the figures above.",
            "",
        ]
        for e in skips:
            lines += _entry_block(e, weeks, view["as_of"], settings, words.via_name(view, e))
    return "\n".join(lines).rstrip() + "\n"


def _trend_line(week: Mapping[str, Any]) -> str:
    cells = " | ".join(fmt_count(week.get(k)) for k in TREND_COUNTS)
    return f"| {week['week']} | {cells} | {fmt_rate(week.get('cancellation_rate'))} |"


_TREND_HEAD = [
    "| Week | Scheduled | Missed | By managers | By reports | Made up | While away"
    " | Cancellation rate |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]


def director_markdown(view: Mapping[str, Any], settings: RenderSettings) -> str:
    director = view["director"]
    s = view.get("summary")
    lines = [
        f"# Team 1:1 trends for {md(director['name'])},"
        f" week {words.iso_week(view['as_of'], settings)}",
        "",
        f"As of {words.fmt_as_of(view['as_of'], settings)}; figures over the last"
        f" {plural(view.get('window_weeks') or 0, 'week')}, trend over"
        f" {plural(view['trend_weeks'], 'week')}. No single report's figures are shown.",
        "",
    ]
    if s:
        counts = s["status_counts"]
        lines += [
            f"**{fmt_count(counts['unhealthy'])} unhealthy · {fmt_count(counts['at_risk'])}"
            f" at risk · {fmt_count(counts['healthy'])} healthy** of"
            f" {fmt_count(s['direct_reports'])} 1:1"
            f" {'pair' if s['direct_reports'] == 1 else 'pairs'} in your org.",
            "",
        ]
        not_missed = words.not_missed(s)
        if not_missed:
            lines += [f"{words.capital(not_missed)}.", ""]
    lines += ["## What changed since last week", ""]
    lines += [f"- {line}" for line in words.director_changes(view)]
    lines += ["", "## Cancellation rate by week, whole org", "", words.NOT_MISSED_NOTE, ""]
    lines += _TREND_HEAD
    lines += [_trend_line(w) for w in view["trend"]]
    lines.append("")
    subs = view.get("sub_orgs") or []
    if subs:
        last, this = view["trend"][-2:] if len(view["trend"]) > 1 else (None, view["trend"][-1])
        lines += [
            "## Cancellation rate by sub-org",
            "",
            "Each mark is one week, oldest first; taller is a higher cancellation rate,"
            " a space is a week without 1:1s.",
            "",
            f"| Sub-org | {view['trend_weeks']} weeks |"
            + (f" {last['week']} |" if last else "")
            + f" {this['week']} |",
            "| --- | --- |" + (" ---: |" if last else "") + " ---: |",
        ]
        for sub in subs:
            t = sub["trend"]
            cells = [fmt_rate(w.get("cancellation_rate")) for w in t[-2 if last else -1 :]]
            lines.append(
                f"| {words.sub_org_label(sub, md)} | `{words.sparkline(t)}` | "
                + " | ".join(cells)
                + " |"
            )
        lines.append("")
    lines += [
        "## Managers, most unhealthy 1:1s first",
        "",
        "| Manager | Unhealthy | At risk | Healthy | Coverage | Cancellation rate"
        " | Cancelled by the manager |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in words.ranked_managers(view):
        name = md(m["manager"]["name"])
        if m.get("suppressed") or not m.get("summary"):
            note = f"fewer than {settings.min_group_size} reports: not shown"
            lines.append(f"| {name} | {note} | | | | | |")
            continue
        ms = m["summary"]
        c = ms["status_counts"]
        lines.append(
            f"| {name} | {fmt_count(c['unhealthy'])} | {fmt_count(c['at_risk'])}"
            f" | {fmt_count(c['healthy'])}"
            f" | {fmt_rate(ms.get('coverage_rate'))} | {fmt_rate(ms.get('cancellation_rate'))}"
            f" | {fmt_rate(ms.get('manager_cancel_share'))} |"
        )
    return "\n".join(lines).rstrip() + "\n"
