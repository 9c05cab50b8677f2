"""What a manager and a director read about made-up 1:1s and 1:1s called off while someone was
away: the same words in Markdown, HTML and email, their own marks in the charts, their own
columns in the trend tables and CSV, and the JSON Schemas that describe the new fields."""

from __future__ import annotations

import csv
import email
import io
import json
import re
from copy import deepcopy
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from cadence.config import Config
from cadence.reports import charts, words
from cadence.reports.mailer import EmlOutbox
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from cadence.reports.writer import write_reports
from reports.sample_views import AS_OF, director_view, entry, manager_view, null_week

UTC_SETTINGS = RenderSettings()
PARIS = RenderSettings(tz=ZoneInfo("Europe/Paris"))
SCHEMAS = Path(__file__).parents[2] / "src" / "cadence" / "reports" / "schema"
DOCS_SCHEMAS = Path(__file__).parents[2] / "docs" / "schema"


def _one_pair_view(
    status: str = "at_risk", reasons: list[str] | None = None, **kw: Any
) -> dict[str, Any]:
    """Ann's view with one direct report, Bob, whose figures are ``kw``."""
    view = manager_view()
    view["reports"] = [entry("bob@acme.test", "Bob Baker", status, reasons or [], **kw)]
    view["skip_levels"] = []
    return view


def _missed_made_up_excused() -> dict[str, Any]:
    return _one_pair_view(
        scheduled=12,
        held=9,
        missed=3,
        cancelled_by_manager=2,
        cancelled_by_report=1,
        made_up=1,
        excused=2,
        cancellation_rate=0.25,
        reasons=["manager_cancels"],
    )


def _email_bodies(view: dict[str, Any], tmp_path: Path) -> tuple[str, str]:
    """The plain-text and HTML bodies of the email a dry run writes for ``view``."""
    folder = tmp_path / "2026-W48" / "email"
    with EmlOutbox(Config(), UTC_SETTINGS, folder) as outbox:
        write_reports([view], tmp_path, "2026-W48", AS_OF, ["md"], UTC_SETTINGS, outbox)
    (eml,) = folder.iterdir()
    msg = email.message_from_bytes(eml.read_bytes(), policy=default)
    assert isinstance(msg, EmailMessage)
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


# --- a pair's counts -----------------------------------------------------------------------------


def test_the_pair_line_says_missed_by_you_made_up_and_away_in_every_format(
    tmp_path: Path,
) -> None:
    view = _missed_made_up_excused()
    md = render(view, "md", UTC_SETTINGS)
    assert (
        "- Over 12 weeks: 9 held · 3 missed (2 by you) · 1 made up · 2 while you or they were away"
        in md
    )
    html = render(view, "html", UTC_SETTINGS)
    assert "9 held · 3 missed (2 by you)" in html
    assert "1 made up · 2 while you or they were away" in html
    plain, html_mail = _email_bodies(view, tmp_path)
    for body in (plain, html_mail):
        for phrase in ("3 missed (2 by you)", "1 made up", "2 while you or they were away"):
            assert phrase in body, phrase


def test_late_declined_and_moved_stay_with_the_misses() -> None:
    e = entry(
        "bob@acme.test",
        "Bob",
        "at_risk",
        [],
        held=6,
        missed=6,
        cancelled_by_manager=4,
        cancelled_by_report=2,
        late_cancellations=2,
        declined=1,
        rescheduled=1,
        made_up=1,
    )
    assert words.held_missed(e) == (
        "6 held · 6 missed (4 by you; 2 late, 1 declined) · 1 made up · 1 moved"
    )
    none_mine = dict(e, cancelled_by_manager=0, late_cancellations=0, declined=0, made_up=0)
    assert words.held_missed(none_mine) == "6 held · 6 missed (none by you) · 1 moved"


def test_no_made_up_or_away_phrase_when_both_are_zero(tmp_path: Path) -> None:
    view = _one_pair_view(held=10, missed=2, cancelled_by_manager=1, cancelled_by_report=1)
    view["summary"] = {**view["summary"], "made_up": 0, "excused": 0}
    plain, html_mail = _email_bodies(view, tmp_path)
    for text in (render(view, "md", UTC_SETTINGS), render(view, "html", UTC_SETTINGS), plain):
        assert "10 held · 2 missed (1 by you)" in text
        assert "made up" not in text.replace("made up: met in a one-off", "")  # the legend's
        assert "were away" not in text and "was away" not in text
        assert "not counted as missed" not in text
    assert "not counted as missed" not in html_mail


# --- the summary ---------------------------------------------------------------------------------


def test_the_summary_counts_made_up_and_away_apart_from_missed() -> None:
    view = manager_view()  # 1 made up, 2 excused
    md = render(view, "md", UTC_SETTINGS)
    assert "- 1 made up · 2 while someone was away, not counted as missed\n" in md
    html = render(view, "html", UTC_SETTINGS)
    assert "<li>1 made up · 2 while someone was away, not counted as missed.</li>" in html
    assert words.not_missed({"made_up": 0, "excused": 1500}) == (
        "1,500 while someone was away, not counted as missed"
    )
    assert words.not_missed({"made_up": 3, "excused": 0}) == "3 made up, not counted as missed"
    assert words.not_missed({"made_up": 0, "excused": 0}) is None


# --- away now ------------------------------------------------------------------------------------


def _away_streak() -> dict[str, Any]:
    """Bob: three missed in a row, two by Ann, and away now until Mon 14 Dec in Paris."""
    return _one_pair_view(
        status="unhealthy",
        reasons=["cancel_streak", "stale"],
        held=8,
        missed=4,
        cancelled_by_manager=3,
        cancelled_by_report=1,
        consecutive_missed=3,
        streak_cancelled_by_manager=2,
        last_held="2026-10-26T09:00:00+00:00",
        days_since_last_held=28,
        away_days=4.5,
        away_until="2026-12-14T23:00:00+00:00",  # midnight in Paris
    )


def test_away_until_reads_as_the_local_day_and_replaces_the_streak_nag(tmp_path: Path) -> None:
    view = _away_streak()
    md = render(view, "md", PARIS)
    assert "- Away until Mon 14 Dec; away 4.5 days of the window\n" in md
    assert (
        "- **Suggestion:** Away until Mon 14 Dec: pick the 1:1 up when you are both back.\n" in md
    )
    # The reasons still say what happened; the suggestions no longer nag about it.
    assert "3 missed in a row" in md
    assert "keep the next one" not in md and "ask whether the time still works" not in md
    assert "make sure it happens" not in md and "book one this week" not in md
    html = render(view, "html", PARIS)
    assert (
        '<div class="small away">Away until Mon 14 Dec; away 4.5 days of the window</div>' in html
    )
    assert "pick the 1:1 up when you are both back" in html and "keep the next one" not in html
    plain, html_mail = _email_bodies(view, tmp_path)  # in UTC: the instant is not a midnight
    for body in (plain, html_mail):
        assert "Away until Mon 14 Dec 23:00" in body
        assert "keep the next one" not in body


def test_without_away_the_streak_suggestions_stay() -> None:
    view = _away_streak()
    view["reports"][0].update(away_until=None, away_days=0.0)
    md = render(view, "md", PARIS)
    assert "3 missed in a row, 2 by you: keep the next one." in md
    assert "Last 1:1 was 28 days ago; the next is" in md
    assert "Away" not in md and "pick the 1:1 up" not in md


def test_away_in_the_window_only_says_how_long() -> None:
    e = entry("bob@acme.test", "Bob", "healthy", [], away_days=1.0)
    assert words.away(e, AS_OF, UTC_SETTINGS) == ["away 1 day of the window"]
    assert words.suggestions(e, 12, UTC_SETTINGS, AS_OF) == []
    assert words.away(entry("g@acme.test", "G", "healthy", []), AS_OF, UTC_SETTINGS) == []


def test_away_until_another_year_carries_the_year() -> None:
    e = entry(
        "bob@acme.test",
        "Bob",
        "unhealthy",
        ["stale"],
        days_since_last_held=40,
        away_until="2027-01-05T00:00:00+00:00",
    )
    assert words.away(e, AS_OF, UTC_SETTINGS) == ["away until Mon 4 Jan 2027"]
    assert words.suggestions(e, 12, UTC_SETTINGS, AS_OF) == [
        "Away until Mon 4 Jan 2027: pick the 1:1 up when you are both back."
    ]


def test_no_one_on_one_while_away_still_asks_for_a_series() -> None:
    e = entry(
        "bob@acme.test",
        "Bob",
        "unhealthy",
        ["no_one_on_one"],
        away_until="2026-12-01T00:00:00+00:00",
    )
    assert words.suggestions(e, 12, UTC_SETTINGS, AS_OF) == [
        "Away until Mon 30 Nov: pick the 1:1 up when you are both back.",
        "No 1:1 in 12 weeks and none planned: book a recurring one.",
    ]


# --- timelines -----------------------------------------------------------------------------------


def _marks(svg: str) -> dict[str, str]:
    """Each mark's tooltip and the shapes drawn with it."""
    return dict(re.findall(r"<g><title>([^<]*)</title>(.*?)</g>", svg))


def test_timeline_marks_made_up_and_excused_with_their_own_shape_and_words() -> None:
    bob = next(e for e in manager_view()["reports"] if e["email"] == "bob@acme.test")
    svg = charts.timeline_svg(bob["timeline"], AS_OF, 12, UTC_SETTINGS)
    marks = _marks(svg)
    made_up = marks["Sun 6 Sep: called off by you, made up on Tue 8 Sep"]
    excused = marks["Sun 13 Sep: called off by them while away (excused)"]
    assert "Sun 20 Sep: called off by you while away (excused)" in marks
    held = marks["Sun 27 Sep: held"]
    missed = marks["Sun 4 Oct: cancelled by them"]
    upcoming = marks["Wed 25 Nov: upcoming"]
    # Shapes differ, not only colours: a ringed tick, a flat dash, and bars.
    assert "<circle" in made_up and "<path" in made_up and charts.MADE_UP_COLOUR in made_up
    assert 'height="4"' in excused and charts.EXCUSED_COLOUR in excused
    for bar in (held, missed, upcoming):
        assert 'height="13"' in bar and "<circle" not in bar
    assert len({made_up, excused, held, missed, upcoming}) == 5
    # The one-off that made the miss up is an occurrence of its own, held.
    assert "Tue 8 Sep: held" in marks


def test_timeline_words_in_the_configured_zone_and_without_a_make_up_date() -> None:
    item = {
        "original_start": "2026-12-01T23:30:00+00:00",
        "start": "2026-12-01T23:30:00+00:00",
        "outcome": "made_up",
        "canceller_role": "report",
        "rescheduled": False,
        "late": False,
        "made_up_by": "2026-12-03T23:30:00+00:00",
    }
    svg = charts.timeline_svg([item], "2026-12-07T09:00:00+00:00", 4, PARIS)
    assert "<title>Wed 2 Dec: called off by them, made up on Fri 4 Dec</title>" in svg
    svg = charts.timeline_svg([{**item, "made_up_by": None}], AS_OF, 4, UTC_SETTINGS)
    assert "<title>Tue 1 Dec: called off by them, made up</title>" in svg


def test_the_manager_legend_names_the_new_marks() -> None:
    html = render(manager_view(), "html", UTC_SETTINGS)
    start = html.index('<p class="legend">')
    legend = html[start : html.index("</p>", start)]
    assert "made up: met in a one-off instead" in legend
    assert "called off while away" in legend
    assert charts.MADE_UP_COLOUR in legend and charts.EXCUSED_COLOUR in legend


# --- the director's trend ------------------------------------------------------------------------


def _director_with_a_null_group() -> dict[str, Any]:
    view = director_view()
    other = view["sub_orgs"][1]
    other["trend"] = [null_week(w["week"]) for w in other["trend"]]
    return view


def test_director_markdown_has_made_up_and_away_columns() -> None:
    md = render(director_view(), "md", UTC_SETTINGS)
    assert (
        "| Week | Scheduled | Missed | By managers | By reports | Made up | While away"
        " | Cancellation rate |"
    ) in md
    assert "| 2026-W33 | 10 | 3 | 2 | 1 | 1 | 3 | 30% |" in md
    assert "1 made up · 2 while someone was away, not counted as missed." in md
    assert "Neither counts as missed or scheduled." in md


def test_director_html_table_and_legend_show_made_up_and_away() -> None:
    html = render(_director_with_a_null_group(), "html", UTC_SETTINGS)
    assert '<th class="num">Made up</th>' in html and '<th class="num">While away</th>' in html
    row = re.search(r"<tr><td>2026-W33</td>.*?</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group())
    assert cells == ["10", "3", "2", "1", "1", "3", "30%"]
    assert "made up (narrow bar, not missed)" in html
    assert "called off while away (narrow bar, hatched, not missed)" in html
    # The null group's small multiple has no bar at all, only the no-1:1s ticks.
    other = html[html.index("<h3>Other (rest of the org)</h3>") :]
    other = other[: other.index("</svg>")]
    assert "<rect" not in other and len(re.findall(r'<line [^>]*y1="53"', other)) == 26


def test_the_trend_charts_draw_made_up_and_excused_beside_the_rate() -> None:
    trend = director_view()["trend"]
    svg = charts.trend_svg(trend, "Weekly cancellation rate")
    assert charts.MADE_UP_COLOUR.lstrip("#") in svg.lower()
    assert charts.EXCUSED_COLOUR.lstrip("#") in svg.lower()
    mini = charts.mini_trend_svg(trend, "Ann", charts.trend_peak([trend]))
    assert "<title>2026-W33: 3 of 10 missed, 1 made up, 3 while someone was away</title>" in mini
    assert "<title>2026-W34: 1 of 11 missed</title>" in mini
    made_up, excused = charts.aside_bars(trend)
    w33 = [w["week"] for w in trend].index("2026-W33")
    assert made_up[w33] == pytest.approx(10.0) and excused[w33] == pytest.approx(30.0)
    # The rate's bar is the rate: the not-missed bar never adds to it.
    bottoms, tops = charts.split_bars(trend)
    assert bottoms[w33] + tops[w33] == pytest.approx(30.0)
    assert charts.aside_bars([null_week("2026-W01")]) == ([0.0], [0.0])


def test_null_weeks_stay_empty_in_markdown_and_csv() -> None:
    view = director_view()
    view["trend"] = [null_week(w["week"]) for w in view["trend"]]
    md = render(view, "md", UTC_SETTINGS)
    assert "| 2026-W33 | — | — | — | — | — | — | — |" in md
    rows = list(csv.DictReader(io.StringIO(render(view, "csv", UTC_SETTINGS))))
    org = [r for r in rows if r["scope"] == "org"]
    assert all(r["made_up"] == "" and r["excused"] == "" for r in org)


# --- CSV -----------------------------------------------------------------------------------------


def test_manager_csv_has_made_up_excused_and_away_columns() -> None:
    text = render(manager_view(), "csv", UTC_SETTINGS)
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(text))}
    header = text.splitlines()[0].split(",")
    assert header.index("made_up") == header.index("rescheduled") + 1
    assert header.index("excused") == header.index("made_up") + 1
    assert header[-2:] == ["away_days", "away_until"]
    bob, finn = rows["bob@acme.test"], rows["finn@acme.test"]
    assert (bob["made_up"], bob["excused"], bob["away_days"], bob["away_until"]) == (
        "1",
        "2",
        "3.0",
        "",
    )
    assert (finn["away_days"], finn["away_until"]) == ("4.9", "2026-12-14T23:00:00+00:00")
    assert rows["gus@acme.test"]["made_up"] == "0"


def test_director_csv_lists_made_up_and_excused_before_the_rate() -> None:
    rows = list(csv.reader(io.StringIO(render(director_view(), "csv", UTC_SETTINGS))))
    assert rows[0][-7:] == [
        "scheduled",
        "missed",
        "cancelled_by_manager",
        "cancelled_by_report",
        "made_up",
        "excused",
        "cancellation_rate",
    ]
    w33 = next(r for r in rows if r[1] == "org" and r[3] == "2026-W33")
    assert w33[-3:] == ["1", "3", "0.3"]


# --- JSON Schemas --------------------------------------------------------------------------------


def _validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _roundtrip(view: dict[str, Any]) -> dict[str, Any]:
    """The view as a program reads the JSON report."""
    return json.loads(render(view, "json", UTC_SETTINGS))


def test_the_sample_views_follow_the_schemas() -> None:
    _validator("manager").validate(_roundtrip(manager_view()))
    _validator("director").validate(_roundtrip(director_view()))
    _validator("director").validate(_roundtrip(_director_with_a_null_group()))


def _drop(view: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    view = deepcopy(view)
    *parents, last = path
    target = view
    for key in parents:
        target = target[key]
    del target[last]
    return view


@pytest.mark.parametrize(
    "path",
    [
        ("summary", "made_up"),
        ("summary", "excused"),
        ("reports", 0, "made_up"),
        ("reports", 0, "excused"),
        ("reports", 0, "away_days"),
        ("reports", 0, "away_until"),
        ("skip_levels", 0, "made_up"),
        ("skip_levels", 0, "away_until"),
    ],
)
def test_the_manager_schema_requires_the_new_fields(path: tuple[Any, ...]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator("manager").validate(_drop(manager_view(), path))


@pytest.mark.parametrize(
    "path",
    [
        ("trend", 0, "made_up"),
        ("trend", 0, "excused"),
        ("sub_orgs", 1, "trend", 3, "excused"),
        ("summary", "made_up"),
        ("previous_summary", "excused"),
        ("managers", 0, "summary", "made_up"),
    ],
)
def test_the_director_schema_requires_the_new_fields(path: tuple[Any, ...]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validator("director").validate(_drop(director_view(), path))


def test_the_manager_schema_checks_the_new_values() -> None:
    validator = _validator("manager")
    view = manager_view()
    bob = next(e for e in view["reports"] if e["email"] == "bob@acme.test")
    # made_up_by may be left out.
    del bob["timeline"][2]["made_up_by"]
    validator.validate(view)
    for key, bad in (
        ("made_up", -1),
        ("excused", 1.5),
        ("away_days", -0.1),
        ("away_until", "next Monday"),
    ):
        broken = deepcopy(view)
        next(e for e in broken["reports"] if e["email"] == "bob@acme.test")[key] = bad
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(broken)
    broken = deepcopy(view)
    broken["reports"][0]["timeline"][0]["outcome"] = "skipped"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    broken = deepcopy(view)
    broken["reports"][0]["timeline"][0]["made_up_by"] = "Tuesday"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_the_docs_schemas_are_the_package_schemas() -> None:
    for kind in ("manager", "director"):
        name = f"{kind}.schema.json"
        assert (DOCS_SCHEMAS / name).read_text() == (SCHEMAS / name).read_text(), name


def test_a_week_off_reads_until_its_last_day() -> None:
    # Out of office Monday 7 to Friday 11 December: the stretch ends at midnight after Friday.
    e = entry("bob@acme.test", "Bob", "healthy", [], away_until="2026-12-12T00:00:00+00:00")
    assert words.away(e, AS_OF, UTC_SETTINGS) == ["away until Fri 11 Dec"]
    # The same instant is 19:00 on Friday in New York: not a local midnight, so the hour shows.
    new_york = RenderSettings(tz=ZoneInfo("America/New_York"))
    assert words.away(e, AS_OF, new_york) == ["away until Fri 11 Dec 19:00"]
