"""Untrusted names come out inert in every format, and each report names only who it may."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from cadence.reports.csvfile import cell
from cadence.reports.markdown import md
from cadence.reports.render import render
from cadence.reports.words import RenderSettings, change, worst_first
from reports.sample_views import FORMULA_NAME, HOSTILE_NAME, director_view, manager_view

SETTINGS = RenderSettings()


class _Tags(HTMLParser):
    """Every start tag and attribute name the browser would build from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


def test_hostile_name_is_text_in_html() -> None:
    page = render(manager_view(), "html", SETTINGS)
    parser = _Tags()
    parser.feed(page)
    assert "img" not in parser.tags
    assert not [a for a in parser.attrs if a.startswith("on")]
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page


def test_html_is_self_contained() -> None:
    for view in (manager_view(), director_view()):
        page = render(view, "html", SETTINGS)
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "external URL"
        assert "<link" not in page and "@import" not in page
        assert '<meta name="viewport"' in page and "@media print" in page
        assert "<svg" in page


def test_hostile_name_is_text_in_markdown() -> None:
    text = render(manager_view(), "md", SETTINGS)
    assert HOSTILE_NAME not in text
    assert r"\<img src=x onerror=alert(1)\>" in text
    # No raw HTML tag opens anywhere in the Markdown.
    assert not re.search(r"(?<!\\)<[a-zA-Z]", text)


def test_formula_names_are_neutralised_in_csv() -> None:
    rows = list(csv.reader(io.StringIO(render(manager_view(), "csv", SETTINGS))))
    names = [r[4] for r in rows[1:]]
    assert "'" + FORMULA_NAME in names
    for row in rows[1:]:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


@given(st.text())
def test_any_text_is_inert_markdown(text: str) -> None:
    out = md(text)
    assert "\n" not in out and "\r" not in out
    # Every markup character is escaped: removing the escapes gives back the (cleaned) text.
    assert not re.search(r"(?<!\\)[<>\[\]`*_|!~&]", out.replace("\\\\", ""))


@given(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()))
def test_any_cell_is_not_a_formula(value: object) -> None:
    out = cell(value)
    if isinstance(value, str):
        risky = value.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert out == ("'" + value if risky else value)  # neutralised, otherwise untouched
    else:
        assert out == ("" if value is None else value)


def _names_and_emails(view: dict) -> set[str]:
    found = set()
    for e in view["reports"] + view["skip_levels"]:
        found |= {e["name"], e["email"]}
    return found


def test_manager_report_names_only_their_reports() -> None:
    view = manager_view()
    allowed = _names_and_emails(view) | {view["manager"]["name"], view["manager"]["email"]}
    outsiders = {"Dana Diaz", "dana@acme.test", "Hal Hughes", "hal@acme.test"}
    assert not outsiders & allowed
    for fmt in ("md", "html", "csv", "json"):
        text = render(view, fmt, SETTINGS)
        for outsider in outsiders:
            assert outsider not in text, (fmt, outsider)


def test_director_report_has_no_report_names() -> None:
    reports = manager_view()["reports"]
    for fmt in ("md", "html", "csv", "json"):
        text = render(director_view(), fmt, SETTINGS)
        for e in reports:
            assert e["email"] not in text and e["name"] not in text, (fmt, e["email"])


_STATUSES = st.sampled_from(["healthy", "at_risk", "unhealthy"])


@given(
    st.lists(
        st.tuples(_STATUSES, st.integers(0, 9), st.one_of(st.none(), st.floats(0, 1))),
        max_size=12,
    )
)
def test_worst_first_orders_by_status_streak_then_rate(
    rows: list[tuple[str, int, float | None]],
) -> None:
    entries = [
        {"email": f"r{i}@x.test", "name": f"R{i}", "status": s, "consecutive_missed": c,
         "cancellation_rate": r}
        for i, (s, c, r) in enumerate(rows)
    ]  # fmt: skip
    ordered = worst_first(entries)
    assert sorted(e["email"] for e in ordered) == sorted(e["email"] for e in entries)
    rank = {"unhealthy": 0, "at_risk": 1, "healthy": 2}
    # A known rate, even 0, before an unknown one (nothing was scheduled).
    keys = [
        (
            rank[e["status"]],
            -e["consecutive_missed"],
            -e["cancellation_rate"] if e["cancellation_rate"] is not None else 1.0,
        )
        for e in ordered
    ]
    assert keys == sorted(keys)


def test_changes_read_as_the_reader_sees_them() -> None:
    assert change(15, 12) == "15 (up from 12)"
    assert change(13897, 12000) == "13,897 (up from 12,000)"
    assert change(0.2, 0.25, rate=True) == "20% (down from 25%)"
    assert change(0.231, 0.228, rate=True) == "23% (about the same)"
    assert change(0.9, 0.9, rate=True) == "90% (unchanged)"
    assert change(None, 0.5, rate=True) == "—"
