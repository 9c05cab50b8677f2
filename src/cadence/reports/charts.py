"""Charts for the HTML reports, as inline SVG: nothing to fetch, nothing external.

The director's org-wide weekly trend is drawn with matplotlib (Agg backend, text kept as text so
it is small and searchable). A week's bar is its cancellation rate from the view, split in
proportion to the view's manager- and report-cancelled counts; the split is only geometry, every
number a reader sees is the view's. Made-up and excused 1:1s are not misses, so they never join
that bar: they stand in a narrow bar of their own beside it, on the same scale (per 100 scheduled),
so the main bar's top still reads as the rate. The sub-org small multiples and the per-report
timeline strips are drawn thousands of times per run in a large company, so they are written as
SVG markup directly, in the same colours.

No meaning rests on colour alone: in the timelines each outcome has its own shape (a bar, a
hollow bar, a ringed tick, a flat dash), and in the trends the not-missed bar stands apart and
its excused part is hatched or outlined.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from xml.sax.saxutils import escape

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D

from cadence.reports.words import RenderSettings, local, short_date, visible

MANAGER_COLOUR = "#c2410c"
REPORT_COLOUR = "#f2b45a"
HELD_COLOUR = "#15803d"
UPCOMING_COLOUR = "#94a3b8"
# Made up: a calm teal, apart from held's green and the misses' oranges. Excused: a warm grey,
# apart from the slate of "coming up" and of weeks without 1:1s, with a darker edge to be seen.
MADE_UP_COLOUR = "#0d9488"
EXCUSED_COLOUR = "#a8a29e"
EXCUSED_EDGE = "#78716c"

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text stays text: smaller, selectable, sharp at any zoom
    "svg.hashsalt": "cadence",  # stable ids, so the same view gives the same file
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#94a3b8",
    "xtick.color": "#475569",
    "ytick.color": "#475569",
}


class _TrendFigure:
    """One matplotlib figure reused for every director's org trend.

    Building a figure, its axes and bars costs five times as much as saving it; a run writes
    hundreds of director reports, so the bars are made once and only their heights, the scale
    and the labels change per report (each render sets everything it draws).

    Saving then spends half its time on the week axis, which is the same in every director's
    chart of a run: its ticks depend only on the number of weeks (this figure's) and its labels
    only on the week names. So it is drawn once, kept as :class:`_WeekAxis`, and spliced into the
    later charts, which are saved without it; the file is the same, byte for byte.

    Drawing the rate's bars was then half of what was left: each of the fifty-odd rectangles
    goes through matplotlib's whole artist machinery (a graphics context, a style, four
    transforms composed anew) to come out as four points. When no not-missed bar shows (those
    are hatched and edged), the chart is saved without the rate's bars and :func:`_bar_groups`
    writes them in, the points from the very matrices and the very arithmetic matplotlib uses;
    the first such chart of a figure is also drawn whole by matplotlib, and the bars are only
    written here from then on if the two files are the same.
    """

    def __init__(self, weeks: int) -> None:
        with plt.rc_context(_RC):
            self.fig = Figure(figsize=(10, 3.2))
            self.ax = self.fig.add_subplot()
            zeros = [0.0] * weeks
            # The HTML around the chart carries the legend, so it wraps on a phone.
            misses = [i - 0.12 for i in range(weeks)]
            self.low = self.ax.bar(misses, zeros, color=MANAGER_COLOUR, width=0.5)
            self.high = self.ax.bar(misses, zeros, color=REPORT_COLOUR, width=0.5)
            aside = [i + 0.26 for i in range(weeks)]
            self.made_up = self.ax.bar(aside, zeros, color=MADE_UP_COLOUR, width=0.22)
            self.excused = self.ax.bar(
                aside,
                zeros,
                color=EXCUSED_COLOUR,
                edgecolor=EXCUSED_EDGE,
                linewidth=0.4,
                hatch="////",
                width=0.22,
            )
            (self.empty,) = self.ax.plot([], [], "|", color=UPCOMING_COLOUR, markersize=7)
            self.ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            self.ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0f}%")
            self.ax.grid(axis="y", color="#e2e8f0", linewidth=0.6)
            self.ax.set_axisbelow(True)
            self.ax.set_xlim(-0.6, weeks - 0.4)
            self.fig.subplots_adjust(left=0.06, right=0.99, top=0.96, bottom=0.11)
            # The axes carry no axis label, so there is nothing to place beside the tick labels:
            # fixed label positions spare measuring every tick label's box on each save.
            self.ax.xaxis.set_label_coords(0.5, 0.0)
            self.ax.yaxis.set_label_coords(0.0, 0.5)
        self.week_axis: _WeekAxis | None = None
        # Whether the rate's bars written by _bar_groups are matplotlib's own (None: not known
        # yet, until the first chart without not-missed bars is drawn both ways).
        self.writes_bars: bool | None = None

    def render(self, trend: Sequence[Mapping[str, Any]], title: str) -> str:
        bottoms, tops = split_bars(trend)
        for bar, b in zip(self.low, bottoms, strict=True):
            bar.set_height(b)
        for bar, b, t in zip(self.high, bottoms, tops, strict=True):
            bar.set_y(b)
            bar.set_height(t)
        made_up, excused = aside_bars(trend)
        # An empty not-missed bar is not drawn at all: its edge would show as a hairline.
        for bar, m in zip(self.made_up, made_up, strict=True):
            bar.set_height(m)
            bar.set_visible(m > 0)
        for bar, m, x in zip(self.excused, made_up, excused, strict=True):
            bar.set_y(m)
            bar.set_height(x)
            bar.set_visible(x > 0)
        empty = [i for i, w in enumerate(trend) if w.get("cancellation_rate") is None]
        self.empty.set_data(empty, [0] * len(empty))
        heights = [b + t for b, t in zip(bottoms, tops, strict=True)]
        heights += [m + x for m, x in zip(made_up, excused, strict=True)]
        top = max([*heights, 10.0])
        self.ax.set_ylim(0, min(100, top * 1.25))
        labels = [str(w["week"]) for w in trend]
        step = max(1, len(labels) // 8)
        ticks = list(range(len(labels) - 1, -1, -step))[::-1]
        tick_labels = tuple(labels[i].split("-")[-1] for i in ticks)
        self.ax.set_xticks(ticks, tick_labels)
        shown = [bar.get_visible() for bar in (*self.made_up, *self.excused)]
        svg = self._saved_writing_bars(tick_labels) if not any(shown) else None
        if svg is None:
            svg = self._saved(tick_labels)
        # Fixed pt sizes would overflow a phone screen; the viewBox keeps the aspect ratio.
        svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
        return svg.replace(">", f' role="img" class="chart"><title>{_title(title)}</title>', 1)

    def _saved(self, tick_labels: tuple[str, ...]) -> str:
        """The chart as matplotlib saves it, its week axis put back when it was drawn before."""
        if self.week_axis is not None and self.week_axis.labels == tick_labels:
            self.ax.xaxis.set_visible(False)
            try:
                svg = self.week_axis.put_back(self._save())
            finally:
                self.ax.xaxis.set_visible(True)
            if svg is not None:
                return svg
        svg = self._save()
        self.week_axis = _WeekAxis.cut(svg, tick_labels)
        return svg

    def _saved_writing_bars(self, tick_labels: tuple[str, ...]) -> str | None:
        """The chart saved without the rate's bars, which are written in; none when that is not
        known to give matplotlib's own file (see the class)."""
        if self.writes_bars is False:
            return None
        bars = [*self.low, *self.high]
        for bar in bars:
            bar.set_visible(False)
        try:
            svg = _with_bars(self._saved(tick_labels), self, bars)
        finally:
            for bar in bars:
                bar.set_visible(True)
        if self.writes_bars is None:
            whole = self._saved(tick_labels)
            self.writes_bars = svg == whole
            return whole
        return svg

    def _save(self) -> str:
        buf = io.StringIO()
        with plt.rc_context(_RC):
            self.fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        svg = buf.getvalue()
        return svg[svg.index("<svg") :]


# matplotlib's SVG names each group <kind>_<n>, counting per kind through the file; the week axis
# is drawn first in the axes, so the groups after it count on from its own.
_GROUP_ID = re.compile(r'<g id="([A-Za-z0-9.]+)_(\d+)"')
_MARKER_ID = re.compile(r'<path id="(m[0-9a-f]+)"')
_AXIS_START = '<g id="matplotlib.axis_1">'
_NEXT_AXIS = '<g id="matplotlib.axis_2">'


@dataclass(frozen=True)
class _WeekAxis:
    """The week axis of a saved trend chart: its SVG, and how many groups of each kind it holds.

    It holds tick marks and the week names, nothing of a director's; a chart saved without it
    (:meth:`put_back`) gets it back where matplotlib draws it, with the later groups renumbered
    as matplotlib would have numbered them.
    """

    labels: tuple[str, ...]
    markup: str
    counts: dict[str, int]
    markers: frozenset[str]

    @classmethod
    def cut(cls, svg: str, labels: tuple[str, ...]) -> _WeekAxis | None:
        """The week axis of ``svg``, a whole chart; none when it is not laid out as expected."""
        start = svg.find(_AXIS_START)
        end = svg.find(_NEXT_AXIS)
        if start < 0 or end < start:
            return None
        start, end = svg.rfind("\n", 0, start) + 1, svg.rfind("\n", 0, end) + 1
        markup = svg[start:end]
        counts: dict[str, int] = {}
        for kind, n in _GROUP_ID.findall(markup):
            counts[kind] = counts.get(kind, 0) + 1
            if int(n) != counts[kind]:  # not the first groups of its kind: not safe to move
                return None
        if "clip-path" in markup or "<pattern" in markup:
            return None
        return cls(labels, markup, counts, frozenset(_MARKER_ID.findall(markup)))

    def put_back(self, svg: str) -> str | None:
        """``svg``, a chart saved without its week axis, with this one in its place; none when
        they would not fit together (a marker shape both use, defined once in matplotlib's
        file), and the chart must be saved whole."""
        at = svg.find(_AXIS_START)
        if at < 0 or any(f"#{m}" in svg for m in self.markers):
            return None
        at = svg.rfind("\n", 0, at) + 1
        return svg[:at] + self.markup + _GROUP_ID.sub(self._renumbered, svg[at:])

    def _renumbered(self, group: re.Match[str]) -> str:
        kind, n = group.group(1), int(group.group(2))
        return f'<g id="{kind}_{n + self.counts.get(kind, 0)}"'


# The empty weeks' marks are the first group the axes draw after their bars; the figure's height
# in points is the viewBox's.
_AFTER_BARS = re.compile(r'\n   <g id="line2d_\d+"')
_PATCH_ID = re.compile(r'<g id="patch_(\d+)"')
_CLIP_ID = re.compile(r'<clipPath id="([^"]+)"')
_VIEW_HEIGHT = re.compile(r'viewBox="0 0 [^ "]+ ([^ "]+)"')
# matplotlib saves SVG at 72 dots per inch, and so computes every point of the file.
SVG_DPI = 72
_UNIT_SQUARE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _with_bars(svg: str, figure: _TrendFigure, bars: list[Any]) -> str | None:
    """``svg``, a chart saved without ``bars``, with them where matplotlib draws them: after
    the axes' scale, before the empty weeks' marks, numbered on from the figure's and axes'
    backgrounds (``patch_3``), the groups after them renumbered as matplotlib numbers them.
    None when the file is not laid out so."""
    scale = svg.rfind('<g id="matplotlib.axis_')
    after = _AFTER_BARS.search(svg, scale) if scale >= 0 else None
    clip, height = _CLIP_ID.search(svg), _VIEW_HEIGHT.search(svg)
    if after is None or clip is None or height is None:
        return None
    at = after.start() + 1
    groups = _bar_groups(figure, bars, 3, clip.group(1), float(height.group(1)))
    tail = _PATCH_ID.sub(lambda g: f'<g id="patch_{int(g.group(1)) + len(bars)}"', svg[at:])
    return svg[:at] + groups + tail


def _bar_groups(figure: _TrendFigure, bars: list[Any], first: int, clip: str, height: float) -> str:
    """The SVG groups matplotlib writes for plain rectangles (no edge, no hatch), numbered from
    ``first``: each one's corners through the patch's matrix (its box, as a Rectangle gives it),
    the axes' data matrix and the SVG's flip, composed with numpy in matplotlib's order, then
    transformed and printed as matplotlib's path writer does (six decimals, trailing zeros
    dropped)."""
    dpi = figure.fig.dpi
    figure.fig.dpi = SVG_DPI
    try:
        data = figure.ax.transData.get_affine().get_matrix().copy()
    finally:
        figure.fig.dpi = dpi
    flip = Affine2D().scale(1, -1).translate(0, height).get_matrix()
    out = []
    for n, bar in enumerate(bars, start=first):
        x0, y0 = bar.get_x(), bar.get_y()
        x1, y1 = x0 + bar.get_width(), y0 + bar.get_height()
        patch = np.array([[x1 - x0, 0.0, x0], [0.0, y1 - y0, y0], [0.0, 0.0, 1.0]], float)
        (sx, shx, tx), (shy, sy, ty), _ = np.dot(flip, np.dot(data, patch)).tolist()
        points = [(x * sx + y * shx + tx, x * shy + y * sy + ty) for x, y in _UNIT_SQUARE]
        path = "".join(
            f"{c} {_number(x)} {_number(y)} \n" for c, (x, y) in zip("MLLL", points, strict=True)
        )
        out.append(
            f'   <g id="patch_{n}">\n    <path d="{path}z\n" clip-path="url(#{clip})"'
            f' style="fill: {to_hex(bar.get_facecolor())}"/>\n   </g>\n'
        )
    return "".join(out)


def _number(value: float) -> str:
    """A coordinate as matplotlib's path writer prints it."""
    text = f"{value:.6f}".rstrip("0")
    return text[:-1] if text.endswith(".") else text


_FIGURES: dict[int, _TrendFigure] = {}


def _title(text: str) -> str:
    """A chart's title, which may carry a person's name: shown as the page shows names."""
    return escape(visible(text))


def split_bars(trend: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """Per week, the bar's lower (manager-cancelled) and upper (report-cancelled) heights in %:
    the view's rate cut in the proportion of the view's counts. No bar where the rate is null."""
    bottoms, tops = [], []
    for w in trend:
        rate, missed = w.get("cancellation_rate"), w.get("missed") or 0
        if rate is None or not missed:
            bottoms.append(0.0)
            tops.append(0.0)
            continue
        part = rate * 100 * w["cancelled_by_manager"] / missed
        bottoms.append(part)
        tops.append(rate * 100 - part)
    return bottoms, tops


def aside_bars(trend: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """Per week, the heights of the not-missed bar beside the rate's: made up below, excused
    above, each per 100 scheduled 1:1s, so it shares the rate's scale. Only geometry: the
    numbers a reader sees are the view's. No bar where a count is null or nothing was
    scheduled."""
    made_up, excused = [], []
    for w in trend:
        scheduled = w.get("scheduled")
        per = 100 / scheduled if scheduled else 0.0
        made_up.append((w.get("made_up") or 0) * per)
        excused.append((w.get("excused") or 0) * per)
    return made_up, excused


def week_words(w: Mapping[str, Any]) -> str:
    """``2026-W40: 2 of 10 missed, 1 made up, 1 while someone was away``: a week's bar's
    tooltip."""
    text = f"{w['week']}: {w['missed']} of {w['scheduled']} missed"
    if w.get("made_up"):
        text += f", {w['made_up']} made up"
    if w.get("excused"):
        text += f", {w['excused']} while someone was away"
    return text


def trend_svg(trend: Sequence[Mapping[str, Any]], title: str) -> str:
    """The org's weekly cancellation rate as stacked bars (matplotlib): cancelled by managers
    below, by reports above; beside each, a narrow bar of the made-up (below) and excused
    (hatched, above) 1:1s. A week with no 1:1s has no bar and a grey tick, so it is not read
    as 0%."""
    figure = _FIGURES.get(len(trend))
    if figure is None:
        figure = _FIGURES[len(trend)] = _TrendFigure(len(trend))
    return figure.render(trend, title)


def mini_trend_svg(trend: Sequence[Mapping[str, Any]], title: str, y_max: float) -> str:
    """A sub-org's trend as a small multiple: the same stacked bars, drawn directly as SVG.

    A director's report has one per sub-org, thousands per run in a large company, so these skip
    matplotlib (a tenth of a millisecond each instead of forty). ``y_max`` (in %) is shared by all
    the small multiples of a report so their bars compare.
    """
    width, height, base = 200, 60, 56
    bottoms, tops = split_bars(trend)
    made_up, excused = aside_bars(trend)
    scale = (base - 4) / max(y_max, 10.0)
    step = width / max(len(trend), 1)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" class="mini" role="img">'
        f"<title>{_title(title)}</title>",
        f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#94a3b8"/>',
    ]
    for i, (w, b, t, m, e) in enumerate(zip(trend, bottoms, tops, made_up, excused, strict=True)):
        x = round(i * step + step * 0.1, 1)
        bw = round(step * 0.5, 1)
        if w.get("cancellation_rate") is None:
            parts.append(
                f'<line x1="{x + bw / 2}" y1="{base - 3}" x2="{x + bw / 2}" y2="{base + 3}"'
                f' stroke="{UPCOMING_COLOUR}"/>'
            )
            continue
        hb, ht = round(b * scale, 1), round(t * scale, 1)
        parts.append(
            f"<g><title>{escape(week_words(w))}</title>"
            f'<rect x="{x}" y="{round(base - hb, 1)}" width="{bw}" height="{hb}"'
            f' fill="{MANAGER_COLOUR}"/>'
            f'<rect x="{x}" y="{round(base - hb - ht, 1)}" width="{bw}" height="{ht}"'
            f' fill="{REPORT_COLOUR}"/>'
        )
        if m or e:
            # The not-missed bar stands apart from the misses; excused is outlined.
            ax, aw = round(x + bw + step * 0.05, 1), round(step * 0.25, 1)
            hm, he = round(m * scale, 1), round(e * scale, 1)
            parts.append(
                f'<rect x="{ax}" y="{round(base - hm, 1)}" width="{aw}" height="{hm}"'
                f' fill="{MADE_UP_COLOUR}"/>'
                f'<rect x="{ax}" y="{round(base - hm - he, 1)}" width="{aw}" height="{he}"'
                f' fill="{EXCUSED_COLOUR}" stroke="{EXCUSED_EDGE}" stroke-width="0.5"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def trend_peak(trends: Sequence[Sequence[Mapping[str, Any]]]) -> float:
    """The highest weekly bar (in %) across several trends, the rate's or the not-missed one
    beside it, so small multiples share a scale."""
    peaks = [0.0]
    for t in trends:
        peaks += [(w.get("cancellation_rate") or 0) * 100 for w in t]
        peaks += [m + e for m, e in zip(*aside_bars(t), strict=True)]
    return max(peaks)


def _mark_colour(item: Mapping[str, Any]) -> str:
    if item["outcome"] == "held":
        return HELD_COLOUR
    if item["outcome"] == "upcoming":
        return "none"
    return MANAGER_COLOUR if item.get("canceller_role") == "manager" else REPORT_COLOUR


def _mark_words(item: Mapping[str, Any], when: datetime, settings: RenderSettings) -> str:
    """``Tue 1 Dec: called off by you, made up on Thu 3 Dec``: a mark's tooltip."""
    outcome = item["outcome"]
    who = "you" if item.get("canceller_role") == "manager" else "them"
    if outcome in ("cancelled", "declined"):
        verb = "declined" if outcome == "declined" else "cancelled"
        text = f"{verb} by {who}" + (", late" if item.get("late") else "")
    elif outcome == "made_up":
        # Called off, not "cancelled": a declined one can be made up too, and the view keeps
        # only who, not which.
        text = f"called off by {who}"
        if item.get("made_up_by"):
            text += f", made up on {short_date(local(item['made_up_by'], settings))}"
        else:
            text += ", made up"
    elif outcome == "excused":
        text = f"called off by {who} while away (excused)"
    else:
        text = outcome
    if item.get("rescheduled"):
        text += f", moved to {short_date(local(item['start'], settings))}"
    return f"{short_date(when)}: {text}"


def _mark(item: Mapping[str, Any], x: float) -> str:
    """An occurrence's shape: held, missed and coming up are bars (filled green, filled orange,
    hollow), made up a ringed tick, excused a flat dash, so none is told apart by colour alone."""
    if item["outcome"] == "made_up":
        return (
            f'<circle cx="{x}" cy="14.5" r="4.5" fill="#fff" stroke="{MADE_UP_COLOUR}"'
            ' stroke-width="1.5"/>'
            f'<path d="M{round(x - 2.2, 1)} 14.6l1.6 1.8l2.8-3.6" fill="none"'
            f' stroke="{MADE_UP_COLOUR}" stroke-width="1.4"/>'
        )
    if item["outcome"] == "excused":
        return (
            f'<rect x="{round(x - 3, 1)}" y="12.5" width="6" height="4" rx="1"'
            f' fill="{EXCUSED_COLOUR}" stroke="{EXCUSED_EDGE}" stroke-width="0.6"/>'
        )
    colour = _mark_colour(item)
    stroke = ' stroke="#64748b"' if colour == "none" else ""
    return (
        f'<rect x="{round(x - 3, 1)}" y="8" width="6" height="13" rx="1.5" fill="{colour}"'
        f"{stroke}/>"
    )


_WIDTH, _HEIGHT, _PAD = 240, 26, 4
# Upcoming occurrences of the window may start just after as-of; leave them room on the right.
_SPAN = 1.08


def _x(frac: float) -> float:
    return round(_PAD + min(max(frac, 0.0), 1.0) * (_WIDTH - 2 * _PAD), 1)


@cache
def _strip(window_weeks: int) -> str:
    """The parts of a timeline that depend only on the window: frame, week ticks, as-of line."""
    w, h, pad = _WIDTH, _HEIGHT, _PAD
    ticks = "".join(
        f'<line x1="{x}" y1="{h - 6}" x2="{x}" y2="{h - 1}" stroke="#cbd5e1"/>'
        for x in (_x(week / window_weeks / _SPAN) for week in range(window_weeks + 1))
    )
    now = _x(1 / _SPAN)
    return (
        f'<svg viewBox="0 0 {w} {h}" class="timeline" role="img" preserveAspectRatio="none">'
        f"<title>The last {window_weeks} weeks</title>"
        f'<line x1="{pad}" y1="{h - 3}" x2="{w - pad}" y2="{h - 3}" stroke="#cbd5e1"/>{ticks}'
        f'<line x1="{now}" y1="2" x2="{now}" y2="{h - 1}" stroke="#64748b"'
        ' stroke-dasharray="2 2"/>'
    )


def timeline_svg(
    timeline: Sequence[Mapping[str, Any]], as_of: str, window_weeks: int, settings: RenderSettings
) -> str:
    """A strip of the window: one mark per occurrence at its original start.

    Held is a green bar, cancelled (or declined) by the manager a dark orange bar, by the report a
    light orange one, upcoming a hollow grey one, made up a teal ring with a tick, excused (called
    off while away) a flat grey dash; a moved occurrence carries a dot above. Each mark has a
    tooltip with its date and what happened. Ticks mark the window's weeks and a dashed line
    as-of.
    """
    end = local(as_of, settings)
    start = end - timedelta(weeks=window_weeks)
    span = (end - start).total_seconds() * _SPAN
    marks = [_marked(tuple(map(item.get, _MARKED)), start, span, settings) for item in timeline]
    return f"{_strip(window_weeks)}{''.join(marks)}</svg>"


# What a timeline mark shows of its occurrence.
_MARKED = (
    "original_start",
    "outcome",
    "canceller_role",
    "late",
    "rescheduled",
    "made_up_by",
    "start",
)


@lru_cache(maxsize=1 << 16)
def _marked(fields: tuple[Any, ...], start: datetime, span: float, settings: RenderSettings) -> str:
    """One occurrence's mark with its tooltip. A run draws hundreds of thousands of them, of few
    distinct ones (1:1s start on the hour or the half hour, and end one of six ways), so each
    is drawn once."""
    item = dict(zip(_MARKED, fields, strict=True))
    when = local(item["original_start"], settings)
    x = _x((when - start).total_seconds() / span)
    mark = f"<g><title>{escape(_mark_words(item, when, settings))}</title>{_mark(item, x)}"
    if item.get("rescheduled"):
        mark += f'<circle cx="{x}" cy="4" r="2" fill="#334155"/>'
    return mark + "</g>"
