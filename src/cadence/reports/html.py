"""HTML reports: one self-contained file each (inline CSS and SVG, nothing fetched), readable on a
phone (tables turn into cards on narrow screens) and on paper (``@media print``).

Templates are Jinja2 with autoescape on: every name and email from a calendar or directory is
escaped where it is written, and every value a template writes first goes through
:func:`words.visible`, so no template can forget it. Only the SVG this package draws itself
(:mod:`charts`, which cleans and escapes its own text) is marked safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from types import SimpleNamespace
from typing import Any

from jinja2 import BaseLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from cadence.reports import charts, words
from cadence.reports.words import RenderSettings

COLOURS = {
    "held": charts.HELD_COLOUR,
    "manager": charts.MANAGER_COLOUR,
    "report": charts.REPORT_COLOUR,
    "upcoming": charts.UPCOMING_COLOUR,
    "made_up": charts.MADE_UP_COLOUR,
    "excused": charts.EXCUSED_COLOUR,
    "excused_edge": charts.EXCUSED_EDGE,
}


def _shown(value: Any) -> Any:
    """What a template writes: as :func:`words.shown`, but markup this package made as it is."""
    if type(value) is str and value.isprintable():  # most values: nothing to hide (words.visible)
        return value
    return value if isinstance(value, Markup) else words.shown(value)


@cache
def _env() -> Environment:
    return environment(PackageLoader("cadence.reports", "templates"))


def _sentence(text: str | None) -> str:
    return f"{words.capital(text)}." if text else ""


def _pair_rows(
    view: Mapping[str, Any], entries: Sequence[Mapping[str, Any]], settings: RenderSettings
) -> list[SimpleNamespace]:
    """One row per pair for the template, as attributes: Jinja reads ``e.name`` by trying the
    attribute first, and on a dict each of the tens of thousands of rows' lookups raised and
    caught an AttributeError before reading the key."""
    weeks = view["window_weeks"]
    rows = []
    for e in words.worst_first(list(entries)):
        counts = words.pair_counts(e)
        rows.append(
            SimpleNamespace(
                **{
                    **e,
                    "status_label": words.status_label(e["status"]),
                    "reason_texts": words.reason_texts(e, weeks),
                    "tips": words.suggestions(e, weeks, settings, view["as_of"]),
                    # Held and missed on the row's line, the rest (made up, away, moved) below.
                    "counts_main": " · ".join(counts[:2]),
                    "counts_more": " · ".join(counts[2:]),
                    "away_text": words.capital("; ".join(words.away(e, view["as_of"], settings))),
                    "last_text": words.fmt_date(e.get("last_held"), settings, none="never"),
                    "last_ago": words.days_ago(e.get("days_since_last_held")),
                    "next_text": words.fmt_date(
                        e.get("next_scheduled"), settings, none="none planned"
                    ),
                    "next_time": words.fmt_time(e.get("next_scheduled"), settings),
                    "planned": words.every(e.get("intended_cadence_days")),
                    "actual": words.every(e.get("actual_cadence_days")),
                    "via_name": words.via_name(view, e) if "via" in e else "",
                    "timeline_svg": Markup(  # noqa: S704  (drawn and escaped by charts)
                        charts.timeline_svg(e.get("timeline") or [], view["as_of"], weeks, settings)
                    ),
                }
            )
        )
    return rows


def environment(loader: BaseLoader) -> Environment:
    """A Jinja environment that writes values as the reports do, over ``loader``."""
    env = Environment(
        loader=loader,
        # The templates ship with the package and do not change under a running process; checking
        # each one's file on every render cost four stat calls per HTML report.
        auto_reload=False,
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.globals.update(rate=words.fmt_rate, every=words.every, colours=COLOURS)
    env.filters["n"] = words.fmt_count
    return env


def manager_html(view: Mapping[str, Any], settings: RenderSettings) -> str:
    return _env().get_template("manager.html").render(**manager_context(view, settings))


def manager_context(view: Mapping[str, Any], settings: RenderSettings) -> dict[str, Any]:
    """What manager.html is rendered with."""
    return dict(
        view=view,
        s=view["summary"],
        not_missed=_sentence(words.not_missed(view["summary"])),
        opted_out=_sentence(words.opted_out(view)),
        weeks=view["window_weeks"],
        week=words.iso_week(view["as_of"], settings),
        as_of=words.fmt_as_of(view["as_of"], settings),
        reports=_pair_rows(view, view["reports"], settings),
        skips=_pair_rows(view, view.get("skip_levels") or [], settings),
    )


def director_html(view: Mapping[str, Any], settings: RenderSettings) -> str:
    return _env().get_template("director.html").render(**director_context(view, settings))


def director_context(view: Mapping[str, Any], settings: RenderSettings) -> dict[str, Any]:
    """What director.html is rendered with."""
    subs = view.get("sub_orgs") or []
    peak = charts.trend_peak([sub["trend"] for sub in subs])
    sub_rows = []
    for sub in subs:
        title = words.sub_org_label(sub, str)
        sub_rows.append(
            {
                "title": title,
                "head": sub["head"],
                "chart": Markup(  # noqa: S704  (drawn and escaped by charts)
                    charts.mini_trend_svg(sub["trend"], f"Weekly cancellation rate: {title}", peak)
                ),
                "last": sub["trend"][-2:],
            }
        )
    name = view["director"]["name"]
    return dict(
        view=view,
        s=view.get("summary"),
        not_missed=_sentence(words.not_missed(view["summary"])) if view.get("summary") else "",
        not_missed_note=words.NOT_MISSED_NOTE,
        week=words.iso_week(view["as_of"], settings),
        as_of=words.fmt_as_of(view["as_of"], settings),
        changes=words.director_changes(view),
        trend_chart=Markup(  # noqa: S704  (drawn and escaped by charts)
            charts.trend_svg(view["trend"], f"Weekly cancellation rate, org of {name}")
        ),
        subs=sub_rows,
        managers=words.ranked_managers(view),
        min_group=settings.min_group_size,
        # The web app links each sub-org to a page of its own; a file links nowhere.
        sub_link=None,
    )


def index_html(
    week: str,
    as_of: str,
    managers: Sequence[Mapping[str, Any]],
    directors: Sequence[Mapping[str, Any]],
) -> str:
    """The index of a ``report all`` folder: who has a report, and links to each file."""
    return (
        _env()
        .get_template("index.html")
        .render(
            week=week,
            as_of=as_of,
            # As attributes, as _pair_rows gives its rows: one per report of the run.
            managers=[SimpleNamespace(**row) for row in managers],
            directors=[SimpleNamespace(**row) for row in directors],
        )
    )
