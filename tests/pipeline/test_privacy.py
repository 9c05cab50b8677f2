"""The privacy floor of director reports, by subtraction too (docs/metrics.md "Privacy").

In these orgs every pair has exactly one 1:1 in week 2026-W47, so each trend count of that week
is the number of pairs in its group: a figure that one can derive by subtracting shown figures
(org minus the shown sub-orgs, org summary minus the shown managers) is then the size of the
group it describes, and must be 0 or at least ``min_group_size``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from cadence.config import parse_config
from cadence.jobs.figures import compute, params_for
from cadence.pipeline import HealthResult, compute_frames
from cadence.pipeline.views import director_view
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from cadence.store.database import make_engine
from cadence.store.reads import load_frames
from pipeline.builders import AS_OF, BOSS, Meeting, add_people, at, small_org, store

SCHEMA = Path(__file__).parents[2] / "src" / "cadence" / "reports" / "schema"
WEEK = "2026-W47"


def _one_each(
    rows: list[tuple[str, str, str | None]], cancelled: Collection[str] = ()
) -> list[Meeting]:
    """One 1:1 per pair, on the Monday of week 47; the report's in ``cancelled`` is cancelled."""
    return [
        Meeting(
            f"u-{report}",
            at(7),
            people=(manager, report),
            organizer=manager,
            status="cancelled" if report in cancelled else "confirmed",
        )
        for report, _, manager in rows
        if manager
    ]


def _count(trend: list[dict[str, Any]]) -> int | None:
    (week,) = [w for w in trend if w["week"] == WEEK]
    return week["scheduled"]


def _derivable_groups(view: dict[str, Any]) -> list[int]:
    """Sizes of every group whose figures the view shows or lets one derive by subtraction."""
    groups = []
    org = _count(view["trend"])
    subs = [_count(s["trend"]) for s in view["sub_orgs"]]
    if org is not None:
        groups += [org, org - sum(n or 0 for n in subs)]
    groups += [n for n in subs if n is not None]
    shown = [m["summary"] for m in view["managers"] if m["summary"] is not None]
    groups += [m["direct_reports"] for m in shown]
    for summary in (view["summary"], view["previous_summary"]):
        if summary is not None:
            groups.append(summary["direct_reports"] - sum(m["direct_reports"] for m in shown))
            counts = [sum(s["status_counts"].values()) for s in [summary, *shown]]
            groups.append(counts[0] - sum(counts[1:]))
    return groups


def _check(result: HealthResult, director: str, floor: int) -> dict[str, Any]:
    view = director_view(result, director, previous=result)
    small = [n for n in _derivable_groups(view) if 0 < n < floor]
    assert small == [], f"{director}: groups of {small} pairs can be derived"
    pairs = len(result.org.members(director))
    # Not more hidden than the rule says: the org trend shows whenever the org reaches the floor.
    assert _count(view["trend"]) == (pairs if pairs >= floor else None)
    assert [w["week"] for w in view["trend"]] == result.trends.weeks
    hidden = sum(n for n in (_reports(result, m) for m in _managers(result, director)) if n < floor)
    assert (view["summary"] is not None) == (hidden == 0 or hidden >= floor)
    if floor == 1:
        assert all(s["head"] is not None for s in view["sub_orgs"])
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMA / "director.schema.json").read_text())
    )
    validator.validate(view)
    return view


def _managers(result: HealthResult, director: str) -> list[str]:
    below = result.org.members(director)
    return [director, *(m for m in below if m in result.manager_summary.index)]


def _reports(result: HealthResult, manager: str) -> int:
    return int(result.manager_summary["direct_reports"][manager])


# dana directs m1 (5 reports), m2 (1 report) and xavi (no reports): before complementary
# suppression the org summary minus m1's gave the suppressed dana's and m2's 4 pairs, "other" was
# m2's sub-org alone, and the org trend minus the sub-orgs was dana's 1:1 with xavi.
LEAKY = [
    (BOSS, "Dana", None),
    ("m1@acme.test", "M1", BOSS),
    ("m2@acme.test", "M2", BOSS),
    ("xavi@acme.test", "Xavi", BOSS),
    ("r2@acme.test", "R2", "m2@acme.test"),
    *((f"a{i}@acme.test", f"A{i}", "m1@acme.test") for i in range(5)),
]


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_no_small_group_by_subtraction(db: Engine) -> None:
    add_people(db, LEAKY)
    store(db, _one_each(LEAKY, cancelled={"xavi@acme.test"}))
    result = compute(db, parse_config({}), AS_OF)
    view = _check(result, BOSS, 5)
    assert view["summary"] is None and view["previous_summary"] is None
    # m1's sub-org (6 pairs) leaves 3 pairs outside it: it folds too, and "other" is the org.
    (other,) = view["sub_orgs"]
    assert other["label"] == "other" and other["head"] is None
    assert other["trend"] == view["trend"]
    assert _count(view["trend"]) == 9
    text = render(view, "md", RenderSettings.from_config(parse_config({})))
    assert "m2@acme.test" not in text and "Xavi" not in text


def test_an_org_under_the_floor_shows_no_figures(db: Engine) -> None:
    small_org(db)
    store(
        db, _one_each([("mia@acme.test", "Mia", BOSS), ("rob@acme.test", "Rob", "mia@acme.test")])
    )
    view = _check(compute(db, parse_config({}), AS_OF), BOSS, 5)
    assert view["sub_orgs"] == [] and view["summary"] is None
    assert len(view["trend"]) == 26
    assert all(
        w["scheduled"] is w["missed"] is w["cancellation_rate"] is None for w in view["trend"]
    )
    renders = RenderSettings.from_config(parse_config({}))
    for fmt in ("md", "html", "csv", "json"):
        text = render(view, fmt, renders)
        assert "Dana" in text or BOSS in text


@st.composite
def orgs(draw: st.DrawFn) -> tuple[list[tuple[str, str, str | None]], set[str]]:
    """A tree of 3..16 people (person 0 at the top), and whose 1:1 was cancelled."""
    n = draw(st.integers(min_value=3, max_value=16))
    rows: list[tuple[str, str, str | None]] = [("p0@acme.test", "P0", None)]
    for i in range(1, n):
        boss = draw(st.integers(min_value=0, max_value=i - 1))
        rows.append((f"p{i}@acme.test", f"P{i}", f"p{boss}@acme.test"))
    cancelled = {r for r, _, _ in rows if draw(st.booleans())}
    return rows, cancelled


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(org=orgs(), floors=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=3))
def test_subtraction_never_reveals_a_small_group(
    org: tuple[list[tuple[str, str, str | None]], set[str]],
    floors: list[int],
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    rows, cancelled = org
    path = tmp_path / f"{uuid4().hex}.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        add_people(engine, rows)
        store(engine, _one_each(rows, cancelled))
        base = params_for(parse_config({}), AS_OF)
        frames = load_frames(engine, base.load_since)
    finally:
        engine.dispose()
    for floor in floors:
        params = params_for(parse_config({"report": {"min_group_size": floor}}), AS_OF)
        result = compute_frames(frames, params)
        for director in result.directors():
            _check(result, director, floor)
