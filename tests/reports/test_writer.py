"""``report all``'s files: one per person and format, an index, private and written atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cadence.reports import charts
from cadence.reports.words import RenderSettings
from cadence.reports.writer import file_stem, write_private, write_reports
from reports.sample_views import AS_OF, director_view, manager_view, null_week

SETTINGS = RenderSettings()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_report_and_an_index_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask must not widen the files
    try:
        summary = write_reports(
            [director_view(), manager_view()],
            tmp_path / "out",
            "2026-W48",
            AS_OF,
            ["md", "html", "csv"],
            SETTINGS,
        )
    finally:
        os.umask(old)
    folder = tmp_path / "out" / "2026-W48"
    assert summary.folder == folder
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [
            f"{k}-{e}.{f}"
            for k, e in (("director", "dana@acme.test"), ("manager", "ann@acme.test"))
            for f in ("md", "html", "csv")
        ]
        + ["index.html", "index.md"]
    )
    assert _mode(tmp_path / "out") == 0o700 and _mode(folder) == 0o700
    assert all(_mode(p) == 0o600 for p in folder.iterdir())
    index = (folder / "index.html").read_text()
    assert 'href="manager-ann@acme.test.html"' in index and "Dana Diaz" in index
    assert "(<director-dana@acme.test.md>)" in (folder / "index.md").read_text()
    # The index names people and links their files, but carries no one's figures.
    body = index[index.index("<main>") :]
    assert "healthy" not in body.lower() and "%" not in body


def test_rewrite_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    write_private(target, "old")
    write_private(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    write_private(target, "complete")
    with pytest.raises(UnicodeEncodeError):
        write_private(target, "half \udcff")  # a lone surrogate cannot be written as UTF-8
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


@pytest.mark.parametrize(
    "email", ["../../etc/passwd", "a/b@x.test", "..", "con\nx@y", "ann@acme.test"]
)
def test_file_names_stay_in_the_folder(email: str) -> None:
    stem = file_stem("manager", email)
    assert "/" not in stem and "\n" not in stem and not stem.startswith(".")
    assert (stem == f"manager-{email}") == (email == "ann@acme.test")


def test_unsafe_emails_never_share_a_file() -> None:
    assert file_stem("manager", "a/b@x.test") != file_stem("manager", "a_b@x.test")


def test_a_trend_chart_is_the_same_whatever_was_drawn_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run draws the week axis of the directors' trend charts once and reuses it (the figure's
    ``week_axis``): each chart must still be the one a fresh figure draws, after charts of other
    weeks, of another length, with empty weeks or not-missed bars."""
    trend = director_view()["trend"]
    later = [{**w, "week": f"2027-W{i + 1:02d}"} for i, w in enumerate(trend)]
    empty = [null_week(w["week"]) if i % 5 == 0 else w for i, w in enumerate(trend)]
    trends = [trend, later, trend, trend[1:], empty, trend, [null_week(w["week"]) for w in trend]]
    expected = []
    for t in trends:
        monkeypatch.setattr(charts, "_FIGURES", {})
        expected.append(charts.trend_svg(t, "Weekly cancellation rate"))
    monkeypatch.setattr(charts, "_FIGURES", {})
    assert [charts.trend_svg(t, "Weekly cancellation rate") for t in trends] == expected
    assert charts._FIGURES[len(trend)].week_axis is not None  # the axis was reused, not redrawn
