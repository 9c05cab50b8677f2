"""Report commands given absurd instants and windows, or run on an empty org chart, say so in one
line with exit 2: never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CADENCE = [sys.executable, "-c", "from cadence.cli import main; main()"]
CHART = "email,name,manager_email\nann@acme.test,Ann,\nbob@acme.test,Bob,ann@acme.test\n"


def cadence(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CADENCE, "--config", str(folder / "cadence.toml"), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    assert cadence(tmp_path, "init").returncode == 0
    return tmp_path


@pytest.fixture
def charted(folder: Path) -> Path:
    (folder / "people.csv").write_text(CHART)
    assert cadence(folder, "org", "import", "people.csv").returncode == 0
    return folder


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "as_of",
    ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", "2199-12-31T23:30:00-01:00"],
)
@pytest.mark.parametrize("command", [["manager", "ann@acme.test"], ["director", "ann@acme.test"]])
def test_an_instant_outside_the_years_reported_on_is_refused(
    charted: Path, as_of: str, command: list[str]
) -> None:
    line = one_line_error(cadence(charted, "report", *command, "--as-of", as_of))
    assert "outside the years cadence reports on" in line


def test_report_all_with_an_absurd_instant_writes_nothing(charted: Path) -> None:
    one_line_error(cadence(charted, "report", "all", "--as-of", "0001-01-01"))
    assert not (charted / "reports").exists()


@pytest.mark.parametrize("weeks", ["521", "100000000", "99999999999999999999"])
def test_a_window_too_long_to_mean_anything_is_refused(charted: Path, weeks: str) -> None:
    line = one_line_error(
        cadence(charted, "report", "manager", "ann@acme.test", "--window-weeks", weeks)
    )
    assert "window weeks must be 1 to 520" in line


def test_the_edges_of_the_range_still_report(charted: Path) -> None:
    for args in (["--as-of", "1900-01-01"], ["--as-of", "2199-12-31"], ["--window-weeks", "520"]):
        result = cadence(charted, "report", "manager", "ann@acme.test", "--format", "json", *args)
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["report", "manager", "ann@acme.test"],
        ["report", "director", "ann@acme.test"],
        ["report", "all"],
    ],
)
def test_a_report_on_an_empty_org_chart_says_to_load_one(folder: Path, command: list[str]) -> None:
    line = one_line_error(cadence(folder, *command))
    assert "the org chart is empty" in line and "cadence org import" in line
