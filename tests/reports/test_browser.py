"""The HTML reports in a real browser: headless Chromium renders a manager's and a director's
report to PNG; the page must have its charts (SVG in the DOM) and log no console error (a script
error, a blocked fetch, a Content-Security-Policy violation from markup that slipped through).

Set ``CADENCE_SCREENSHOT_DIR`` to keep the PNGs for a look.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from cadence.reports import charts
from cadence.reports.render import render
from cadence.reports.words import RenderSettings
from reports.sample_views import director_view, manager_view

CHROMIUM = "/usr/bin/chromium"
GOLDEN = Path(__file__).parent / "golden"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium"),
]


def _chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


def _console(stderr: str) -> list[str]:
    return re.findall(r":CONSOLE:\d+\] (.*)", stderr)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(
    ("name", "charts"),
    # Dana's: the org trend and one sub-org, "other" (Ann's folds in too, to hide a small rest).
    [("manager-ann@acme.test", 6), ("director-dana@acme.test", 2)],
)
def test_report_renders_with_charts_and_no_console_errors(
    tmp_path: Path, name: str, charts: int
) -> None:
    """The golden reports (real pipeline output; Ann's has the hostile display name)."""
    page = tmp_path / f"{name}.html"
    shutil.copy(GOLDEN / f"{name}.html", page)
    dom = _chromium(tmp_path, page, "--dump-dom")
    assert _console(dom.stderr) == []
    assert dom.stdout.count("<svg") >= charts
    assert "<img" not in dom.stdout  # the hostile display name stayed text
    png = tmp_path / f"{name}.png"
    shot = _chromium(tmp_path, page, f"--screenshot={png}", "--window-size=1280,1600")
    assert _console(shot.stderr) == []
    assert _png_size(png) == (1280, 1600)
    keep = os.environ.get("CADENCE_SCREENSHOT_DIR")
    if keep:  # for a person to look at, with a phone-sized one
        shutil.copy(png, Path(keep) / png.name)
        phone = Path(keep) / f"{name}-phone.png"
        _chromium(tmp_path, page, f"--screenshot={phone}", "--window-size=390,2400")


@pytest.mark.parametrize("kind", ["manager", "director"])
def test_every_mark_and_bar_renders_without_console_errors(tmp_path: Path, kind: str) -> None:
    """The hand-built views: every timeline outcome (made up and excused too), away notes, and
    the trend's made-up and excused bars, which a golden org may not show."""
    view = manager_view() if kind == "manager" else director_view()
    page = tmp_path / f"{kind}.html"
    page.write_text(render(view, "html", RenderSettings()), "utf-8")
    dom = _chromium(tmp_path, page, "--dump-dom")
    assert _console(dom.stderr) == []
    assert charts.MADE_UP_COLOUR in dom.stdout and charts.EXCUSED_COLOUR in dom.stdout


def test_console_errors_are_caught(tmp_path: Path) -> None:
    """The check above can fail: markup that escaped would be blocked and logged."""
    page = tmp_path / "bad.html"
    html = render(manager_view(), "html", RenderSettings())
    page.write_text(html.replace("<main>", "<main><img src=x onerror=alert(1)>"), "utf-8")
    dom = _chromium(tmp_path, page, "--dump-dom")
    assert any("Content Security Policy" in line for line in _console(dom.stderr))
