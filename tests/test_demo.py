"""``cadence demo`` end to end: the stories planted in the synthetic company come out of the real
connectors, store, pipeline and reports, and the index page opens in a browser."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cadence.config import load_config, resolve_database_url
from cadence.jobs.figures import compute
from cadence.pipeline import HealthResult
from cadence.pipeline.views import manager_view
from cadence.sandbox.demo import DemoRun, run_demo
from cadence.store.database import make_engine
from reports.test_browser import CHROMIUM, _chromium, _console


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(tmp_path_factory.mktemp("demo"), size=60, seed=11, say=lambda _: None)


@pytest.fixture(scope="module")
def result(demo: DemoRun) -> Iterator[HealthResult]:
    config = load_config(demo.config_path)
    engine = make_engine(resolve_database_url(config))
    yield compute(engine, config, as_of=datetime.now(UTC))
    engine.dispose()


def entry(result: HealthResult, manager: str, report: str) -> dict:
    return next(r for r in manager_view(result, manager)["reports"] if r["email"] == report)


def test_both_sides_sync_without_failures(demo: DemoRun) -> None:
    first, second = demo.first_sync, demo.second_sync
    assert first.failed == [] and second.failed == []
    assert {r.source for r in first.results} == {"acme-google", "acme-m365"}
    assert len(first.results) == len(demo.company.people)
    # The second sync is incremental: it picks up this morning's changes and little else.
    assert 0 < second.events_saved < first.events_saved / 20
    assert second.requests < first.requests


def test_the_planted_stories_are_found(demo: DemoRun, result: HealthResult) -> None:
    company = demo.company
    view = manager_view(result, company.cancelling_manager)
    assert view["summary"]["manager_cancel_share"] >= 0.5
    flagged = [r for r in view["reports"] if "manager_cancels" in r["reasons"]]
    assert len(flagged) >= len(view["reports"]) // 2
    for manager, report in company.stopped:
        stopped = entry(result, manager, report)
        assert "stale" in stopped["reasons"] and stopped["status"] == "unhealthy"
        assert stopped["next_scheduled"] is None
    for report in company.new_hires:
        manager = next(p.manager_email for p in company.people if p.email == report)
        assert manager is not None
        reasons = entry(result, manager, report)["reasons"]
        if entry(result, manager, report).get("away_until"):
            # On a day that is a public holiday wherever the company works, nobody is expected
            # to meet: having no 1:1 is then no finding.
            assert reasons == ["no_recurring_series"]
        else:
            assert reasons == ["no_one_on_one", "no_recurring_series"]
    for report in company.decliners:
        manager = next(p.manager_email for p in company.people if p.email == report)
        assert manager is not None
        decliner = entry(result, manager, report)
        assert decliner["cancelled_by_report"] >= 2
        assert decliner["declined"] == decliner["cancelled_by_report"]


def test_findings_name_the_cancelling_manager_first(demo: DemoRun) -> None:
    assert len(demo.findings) == 3
    name = next(p.name for p in demo.company.people if p.email == demo.company.cancelling_manager)
    assert demo.findings[0].startswith(name)
    assert "quietly stopped" in demo.findings[1]


def test_every_report_is_written(demo: DemoRun) -> None:
    managers = set(demo.company.managers)
    written = {p.name for p in demo.reports.glob("manager-*.html")}
    assert len(written) == len(managers)
    assert len(list(demo.reports.glob("director-*.json"))) == len(demo.company.directors)
    assert demo.index.is_file()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_index_opens_in_chromium(demo: DemoRun, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, demo.index, "--dump-dom")
    assert _console(dom.stderr) == []
    linked = set(re.findall(r'href="(manager-[^"]+)\.html"', dom.stdout))
    assert len(linked) == len(demo.company.managers)
    png = tmp_path / "index.png"
    _chromium(tmp_path, demo.index, f"--screenshot={png}", "--window-size=1280,1200")
    assert png.stat().st_size > 10_000


def test_the_command_prints_where_the_reports_are(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from cadence.cli import main; main()", "demo", "--size", "24"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    index = tmp_path / "cadence-demo" / "reports"
    assert "Reports (" in out.stdout and str(index) in out.stdout
    assert "Three findings worth a look:" in out.stdout
    assert list(index.glob("*/index.html"))
