"""A director's trend chart is the same file whether matplotlib draws the rate's bars or cadence
writes them into a chart saved without them (cadence.reports.charts._bar_groups): every figure
and scale a week can bring, checked against matplotlib's own drawing."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cadence.reports import charts

WEEKS = 12


def week(rng: random.Random, label: int) -> dict[str, Any]:
    """A week of a trend: some without 1:1s, some with a rate far above or below the scale's
    floor of 10%, misses split any way between the manager and the report."""
    scheduled = rng.choice([0, 1, 2, 3, 7, 40, 1000, rng.randint(0, 5000)])
    missed = rng.randint(0, scheduled) if rng.random() < 0.8 else scheduled
    by_manager = rng.randint(0, missed)
    rate = round(missed / scheduled, 3) if scheduled else None
    return {
        "week": f"2026-W{label:02d}",
        "scheduled": scheduled,
        "missed": missed,
        "cancelled_by_manager": by_manager,
        "cancelled_by_report": missed - by_manager,
        "made_up": 0,
        "excused": 0,
        "cancellation_rate": rate,
    }


def both_ways(trend: list[dict[str, Any]]) -> tuple[str, str]:
    """The chart with the bars matplotlib draws, and with the bars written in."""
    figure = charts._FIGURES.setdefault(len(trend), charts._TrendFigure(len(trend)))
    figure.writes_bars = False
    drawn = charts.trend_svg(trend, "Weekly cancellation rate, org of Ann")
    figure.writes_bars = True
    written = charts.trend_svg(trend, "Weekly cancellation rate, org of Ann")
    return drawn, written


@pytest.mark.parametrize("seed", range(40))
def test_written_bars_are_matplotlibs(seed: int) -> None:
    rng = random.Random(seed)
    trend = [week(rng, i + 1) for i in range(WEEKS)]
    drawn, written = both_ways(trend)
    assert written == drawn


def test_no_week_with_1on1s_and_all_missed() -> None:
    empty = [week(random.Random(0), i + 1) | {"scheduled": 0, "missed": 0} for i in range(WEEKS)]
    for w in empty:
        w.update(cancelled_by_manager=0, cancelled_by_report=0, cancellation_rate=None)
    full = [
        dict(w, scheduled=5, missed=5, cancelled_by_manager=2, cancelled_by_report=3) for w in empty
    ]
    for w in full:
        w["cancellation_rate"] = 1.0
    for trend in (empty, full):
        drawn, written = both_ways(trend)
        assert written == drawn


def test_not_missed_bars_are_left_to_matplotlib() -> None:
    rng = random.Random(7)
    trend = [week(rng, i + 1) for i in range(WEEKS)]
    trend[3].update(made_up=1, excused=2)
    figure = charts._FIGURES.setdefault(WEEKS, charts._TrendFigure(WEEKS))
    figure.writes_bars = False
    drawn = charts.trend_svg(trend, "t")
    figure.writes_bars = True
    assert charts.trend_svg(trend, "t") == drawn
    assert "<pattern" in drawn  # the excused bar's hatch


def test_the_first_chart_decides_by_comparing() -> None:
    figure = charts._TrendFigure(WEEKS)
    charts._FIGURES[WEEKS] = figure
    rng = random.Random(11)
    trend = [week(rng, i + 1) for i in range(WEEKS)]
    charts.trend_svg(trend, "t")
    assert figure.writes_bars is True
