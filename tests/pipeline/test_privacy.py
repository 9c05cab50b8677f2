"""The privacy floor of director reports, by subtraction too (docs/metrics.md "Privacy").

The reader modelled here holds everything a director's report shows, and the director's own
manager report as well: the figures of each of the director's own pairs (per pair, and per week
from its timeline) and of each of their skip-level pairs. From figures of groups of pairs one can
work out the figures of any group whose indicator is a linear combination of theirs (subtract,
add, scale); the rule is that no such group holds 1 to ``min_group_size - 1`` pairs the reader
does not already know. The pairs they know are those whose own figures they hold: the director's
own pairs and the skip-level pairs. A skip-level pair (director, r) is a pair of its own, counted
in no director figure, so holding it takes nothing off the (manager, r) pair.

To read the group of each trend from its figures (and not from what the code says it pools),
every pair and skip-level pair of these orgs has exactly one 1:1, each in a week of its own: the
weeks of a trend with a 1:1 in them are the pairs it pools. The summaries show no week, so their
groups are the ones the report names (the org, a manager's direct reports), checked against
their ``direct_reports`` and status counts.

The figures come in two kinds that do not subtract from each other: weekly counts (the org
trend, the sub-orgs' trends, the timelines) and window figures (the managers' summaries, the org
summary and last week's, the per-pair entries). Each kind is its own space of combinations.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from cadence.config import Config, parse_config
from cadence.jobs.figures import compute, params_for
from cadence.pipeline import HealthResult, compute_frames
from cadence.pipeline.views import director_view, manager_view
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from cadence.store.database import make_engine
from cadence.store.reads import load_frames
from pipeline.builders import AS_OF, BOSS, Meeting, add_people, at, small_org, store, team

SCHEMA = Path(__file__).parents[2] / "src" / "cadence" / "reports" / "schema"
# The trend and the window: a week for each pair and skip-level pair of up to 16 people.
WEEKS = 30

Rows = list[tuple[str, str, str | None]]
Pair = tuple[str, str, str]  # (kind: "pair" or "skip", manager, report)
Group = frozenset[Pair]


def _config(floor: int = 5) -> Config:
    return parse_config(
        {"report": {"trend_weeks": WEEKS, "window_weeks": WEEKS, "min_group_size": floor}}
    )


def _week(when: datetime) -> str:
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def _all_pairs(rows: Rows) -> list[Pair]:
    """Every pair and skip-level pair of the org chart ``rows``."""
    manager_of = {email: manager for email, _, manager in rows}
    pairs = sorted(("pair", m, e) for e, _, m in rows if m)
    skips = sorted(("skip", str(manager_of[m]), e) for e, _, m in rows if m and manager_of.get(m))
    return pairs + skips


def _meetings(rows: Rows, cancelled: Collection[str] = ()) -> tuple[list[Meeting], dict[str, Pair]]:
    """One 1:1 per pair and per skip-level pair, each on the Monday of a week of its own (the
    k-th k weeks before as-of's), and which pair each week belongs to. A pair whose report is in
    ``cancelled`` has its 1:1 cancelled."""
    meetings, weeks = [], {}
    for k, pair in enumerate(_all_pairs(rows)):
        kind, manager, report = pair
        when = at(7 * k)
        status = "cancelled" if kind == "pair" and report in cancelled else "confirmed"
        people = (manager, report)
        meetings.append(Meeting(f"{kind}-{report}", when, people, organizer=manager, status=status))
        weeks[_week(when)] = pair
    assert len(weeks) <= WEEKS
    return meetings, weeks


def _below(rows: Rows, head: str) -> set[str]:
    """Everyone below ``head`` at any depth."""
    found: set[str] = set()
    frontier = {head}
    while frontier:
        frontier = {e for e, _, m in rows if m in frontier} - found
        found |= frontier
    return found


def _org(rows: Rows, director: str) -> Group:
    """The pairs of ``director``'s org: one per person below them, with that person's manager."""
    below = _below(rows, director)
    return frozenset(("pair", str(m), e) for e, _, m in rows if e in below)


@dataclass(frozen=True)
class Reader:
    """What the reader of one director's report holds: the groups whose weekly figures they see
    (``weekly``), those whose window figures they see (``window``), and the pairs whose own
    figures they hold (``known``)."""

    weekly: list[Group]
    window: list[Group]
    known: Group


def _trend_group(trend: list[dict[str, Any]], weeks: dict[str, Pair]) -> Group | None:
    """The pairs a shown trend pools (its weeks with a 1:1); None for a trend with no figures."""
    if all(w["scheduled"] is None for w in trend):
        return None
    assert all(w["scheduled"] in (0, 1) for w in trend), "one 1:1 a week, by construction"
    return frozenset(weeks[w["week"]] for w in trend if w["scheduled"])


def _reader(
    view: dict[str, Any], own: dict[str, Any], rows: Rows, weeks: dict[str, Pair]
) -> Reader:
    """The reader of ``view`` who also holds ``own`` (the director's manager report), each group
    checked against what the report says it is."""
    director = view["director"]["email"]
    org = _org(rows, director)
    weekly: list[Group] = []
    trend = _trend_group(view["trend"], weeks)
    if trend is not None:
        assert trend == org
        weekly.append(trend)
    shown: set[Pair] = set()
    for sub in view["sub_orgs"]:
        group = _trend_group(sub["trend"], weeks)
        assert group is not None
        if sub["head"] is None:
            assert sub is view["sub_orgs"][-1] and group == org - shown  # "other": the rest
        else:
            head, below = sub["head"]["email"], _below(rows, sub["head"]["email"])
            assert group == {("pair", director, head)} | {p for p in org if p[2] in below}
            shown |= group
        weekly.append(group)
    window: list[Group] = []
    for summary in (view["summary"], view["previous_summary"]):
        if summary is not None:
            assert summary["direct_reports"] == sum(summary["status_counts"].values()) == len(org)
            window.append(org)
    for entry in view["managers"]:
        if entry["summary"] is not None:
            manager = entry["manager"]["email"]
            group = frozenset(p for p in org if p[1] == manager)
            assert entry["summary"]["direct_reports"] == len(group)
            window.append(group)
    known: set[Pair] = set()
    for key, kind in (("reports", "pair"), ("skip_levels", "skip")):
        for entry in own[key]:
            pair = (kind, director, entry["email"])
            # Each occurrence of the timeline gives the reader that pair's figures in its week.
            starts = [datetime.fromisoformat(o["original_start"]) for o in entry["timeline"]]
            assert {weeks[_week(start)] for start in starts} == {pair}
            known.add(pair)
    return Reader(weekly=weekly, window=window, known=frozenset(known))


def _small_groups(groups: list[Group], known: Group, floor: int) -> list[set[Pair]]:
    """Every group of 1 to ``floor - 1`` unknown pairs whose figures follow from those of
    ``groups`` and of the ``known`` pairs.

    A known pair's figures can always be taken off, so only the unknown pairs of each group
    matter. Pairs that lie in exactly the same groups (an atom) get the same coefficient in every
    combination, so what one can work out is a union of atoms: each union under the floor is
    tried, and it can be worked out when its indicator lies in the span of the groups'
    indicators (a rank test, over the rationals: a reader may also divide).
    """
    unknown = [g - known for g in groups]
    atoms: dict[tuple[bool, ...], list[Pair]] = {}
    for pair in sorted(set().union(*unknown)):
        atoms.setdefault(tuple(pair in g for g in unknown), []).append(pair)
    blocks = list(atoms.values())
    if not blocks:
        return []
    matrix = np.array([[float(b[0] in g) for b in blocks] for g in unknown])
    rank = np.linalg.matrix_rank(matrix)
    found = []
    for size in range(1, floor):
        for combo in itertools.combinations(range(len(blocks)), size):
            members = [p for i in combo for p in blocks[i]]
            if len(members) >= floor:
                continue
            wanted = np.zeros(len(blocks))
            wanted[list(combo)] = 1.0
            if np.linalg.matrix_rank(np.vstack([matrix, wanted])) == rank:
                found.append(set(members))
    return found


def _check(
    result: HealthResult, director: str, floor: int, rows: Rows, weeks: dict[str, Pair]
) -> dict[str, Any]:
    """The reader of ``director``'s report finds no small group, and the report hides no more
    than the rule says."""
    view = director_view(result, director, previous=result)
    reader = _reader(view, manager_view(result, director), rows, weeks)
    for kind, groups in (("weekly", reader.weekly), ("window", reader.window)):
        small = _small_groups(groups, reader.known, floor)
        assert small == [], f"{director}: {kind} figures give groups {small}"
    # Not more hidden than the rule says.
    org = _org(rows, director)
    unknown = len(org - reader.known)
    assert (view["trend"][-1]["scheduled"] is not None) == (unknown >= floor)
    assert [w["week"] for w in view["trend"]] == result.trends.weeks
    direct = Counter(manager for _, manager, _ in org)
    managers = [director, *sorted(m for m in direct if m != director)]
    assert [(m["manager"]["email"], m["suppressed"]) for m in view["managers"]] == [
        (m, direct[m] < floor) for m in managers
    ]
    hidden = sum(direct[m] for m in managers[1:] if direct[m] < floor)
    assert (view["summary"] is not None) == (not 0 < hidden < floor)
    if floor == 1:
        heads = sorted(m for m in managers if ("pair", director, m) in org)
        assert sorted(s["head"]["email"] for s in view["sub_orgs"]) == heads
    # A director's report never names a report and never lists a pair.
    named = [view["director"], *(s["head"] for s in view["sub_orgs"] if s["head"])]
    assert {p["email"] for p in named} | {m["manager"]["email"] for m in view["managers"]} <= set(
        managers
    )
    text = json.dumps(view)
    for email, _, _ in rows:
        if email not in managers:
            assert f'"{email}"' not in text
    for pair_field in ("timeline", "reasons", "consecutive_missed"):
        assert f'"{pair_field}"' not in text
    validator = jsonschema.Draft202012Validator(
        json.loads((SCHEMA / "director.schema.json").read_text())
    )
    validator.validate(view)
    return view


def _labels(view: dict[str, Any]) -> list[str]:
    return [s["label"] for s in view["sub_orgs"]]


def _pairs_in(trend: list[dict[str, Any]]) -> int:
    return sum(w["scheduled"] for w in trend)


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def _run(db: Engine, rows: Rows, floor: int = 5, cancelled: Collection[str] = ()) -> Any:
    add_people(db, rows)
    meetings, weeks = _meetings(rows, cancelled)
    store(db, meetings)
    return compute(db, _config(floor), AS_OF), weeks


# dana directs m1 (5 reports), m2 (1 report) and xavi (no reports): before complementary
# suppression the org summary minus m1's gave the suppressed dana's and m2's 4 pairs, "other" was
# m2's sub-org alone, and the org trend minus the sub-orgs was dana's 1:1 with xavi.
LEAKY = [
    (BOSS, "Dana", None),
    *team(BOSS, "M1", "M2", "Xavi"),
    *team("m2@acme.test", "R2"),
    *team("m1@acme.test", *(f"A{i}" for i in range(5))),
]


def test_no_small_group_by_subtraction(db: Engine) -> None:
    result, weeks = _run(db, LEAKY, cancelled={"xavi@acme.test"})
    view = _check(result, BOSS, 5, LEAKY, weeks)
    assert view["summary"] is None and view["previous_summary"] is None
    # m1's sub-org (5 pairs below m1) leaves m2's 1 outside it: it folds too, and "other" is
    # the org.
    (other,) = view["sub_orgs"]
    assert other["label"] == "other" and other["head"] is None
    assert other["trend"] == view["trend"]
    assert _pairs_in(view["trend"]) == 9
    text = render(view, "md", RenderSettings.from_config(parse_config({})))
    assert "m2@acme.test" not in text and "Xavi" not in text


def test_an_org_under_the_floor_shows_no_figures(db: Engine) -> None:
    small_org(db)
    rows: Rows = [(BOSS, "Dana", None), ("mia@acme.test", "Mia", BOSS)]
    rows.append(("rob@acme.test", "Rob", "mia@acme.test"))
    meetings, weeks = _meetings(rows)
    store(db, meetings)
    view = _check(compute(db, _config(), AS_OF), BOSS, 5, rows, weeks)
    assert view["sub_orgs"] == [] and view["summary"] is None
    assert len(view["trend"]) == WEEKS
    # Every figure of a week, made-up and excused ones too, is hidden alike.
    assert all(set(w.values()) == {w["week"], None} for w in view["trend"])
    renders = RenderSettings.from_config(parse_config({}))
    for fmt in ("md", "html", "csv", "json"):
        text = render(view, fmt, renders)
        assert "Dana" in text or BOSS in text


ZOE, CHLOE, GRETA = "zoe@acme.test", "chloe@acme.test", "greta@acme.test"
CASES = {
    # Red team: greta (1 report) is suppressed, and so is dana (4 reports), which made 5 hidden
    # pairs; but dana's own 4 are in her manager report, so the org summary minus m1's minus
    # dana's own pairs was greta's one pair. Only 1 unknown pair is hidden: no org summary.
    # (m1's sub-org, 5 unknown pairs, leaves greta's 1 as the rest: it folds, "other" is the org.)
    "greta suppressed with 1 report": (
        [
            (BOSS, "Dana", None),
            *team(BOSS, "M1", "Greta", "Xena", "Yann"),
            *team("m1@acme.test", *(f"A{i}" for i in range(5))),
            *team(GRETA, "G0"),
        ],
        BOSS,
        {"trend": True, "sub_orgs": ["other"], "summary": False},
    ),
    # Red team: chloe's sub-org was shown with 5 pairs (her 1:1 with zoe and 4 below her); minus
    # zoe's own timeline with chloe it gave 4 pairs. It has 4 unknown pairs: it folds, then max's
    # (5 unknown) would leave those 4 as the rest and folds too. Hidden: chloe's 4 (zoe's 2 are
    # known): no org summary.
    "chloe's sub-org less zoe's own 1:1": (
        [
            (ZOE, "Zoe", None),
            *team(ZOE, "Chloe", "Max"),
            *team(CHLOE, *(f"C{i}" for i in range(4))),
            *team("max@acme.test", *(f"M{i}" for i in range(5))),
        ],
        ZOE,
        {"trend": True, "sub_orgs": ["other"], "summary": False},
    ),
    # The same with chloe alone: the org trend minus zoe's 1:1 with chloe was 4 pairs, and the
    # org summary showed (zoe's 1 + chloe's 4 hidden). The org has 4 unknown pairs: no figures.
    "chloe's sub-org is the org": (
        [(ZOE, "Zoe", None), *team(ZOE, "Chloe"), *team(CHLOE, *(f"C{i}" for i in range(4)))],
        ZOE,
        {"trend": False, "sub_orgs": [], "summary": False},
    ),
    # dana has skip-level 1:1s with all of hana's 5 reports (in her manager report), yet those
    # are other pairs than hana's, which stay unknown: hana's sub-org shows. What it leaves, dana's
    # 1:1 with xavi, is dana's own, so nothing else folds (the old rule folded it into "other").
    "skip-level pairs are not the manager's pairs": (
        [
            (BOSS, "Dana", None),
            *team(BOSS, "Hana", "Xavi"),
            *team("hana@acme.test", *(f"H{i}" for i in range(5))),
        ],
        BOSS,
        {"trend": True, "sub_orgs": ["Hana"], "summary": True},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_red_team_orgs(db: Engine, case: str) -> None:
    rows, director, expected = CASES[case]
    result, weeks = _run(db, rows, cancelled={rows[-1][0]})
    view = _check(result, director, 5, rows, weeks)
    assert (view["trend"][-1]["scheduled"] is not None) == expected["trend"]
    assert _labels(view) == expected["sub_orgs"]
    assert (view["summary"] is not None) == expected["summary"]
    assert (view["previous_summary"] is not None) == expected["summary"]


@st.composite
def orgs(draw: st.DrawFn) -> tuple[Rows, set[str]]:
    """A tree of 3..16 people (person 0 at the top), and whose 1:1 was cancelled."""
    n = draw(st.integers(min_value=3, max_value=16))
    rows: Rows = [("p0@acme.test", "P0", None)]
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
    org: tuple[Rows, set[str]],
    floors: list[int],
    sqlite_template: Path,
    tmp_path: Path,
) -> None:
    rows, cancelled = org
    path = tmp_path / f"{uuid4().hex}.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    meetings, weeks = _meetings(rows, cancelled)
    try:
        add_people(engine, rows)
        store(engine, meetings)
        frames = load_frames(engine, params_for(_config(), AS_OF).load_since)
    finally:
        engine.dispose()
    for floor in floors:
        result = compute_frames(frames, params_for(_config(floor), AS_OF))
        for director in result.directors():
            _check(result, director, floor, rows, weeks)
