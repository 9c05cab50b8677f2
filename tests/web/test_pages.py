"""What the pages show: the CLI's JSON for the same week, weeks computed once when nobody saved
them, the week picker, and a store that does not answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cadence.store.saved import saved_weeks
from conftest import CLI
from reports import golden_org
from web.conftest import Site, sign_in

AS_OF_TEXT = "2026-11-23T12:00:00+00:00"


@pytest.fixture
def cadence_cli(in_process_cli: CLI) -> Callable[..., str]:
    """The CLI in this process; its standard output, once it exited 0."""

    def run(*args: str) -> str:
        code, out, err = in_process_cli(*args)
        assert code == 0, err
        return out

    return run


def test_a_pages_json_is_the_command_lines(site: Site, cadence_cli: Callable[..., str]) -> None:
    client = site.client()
    sign_in(client, golden_org.IVY)  # the admin
    url = str(site.engine.url)
    for kind, who in (("manager", golden_org.ANN), ("director", golden_org.DANA)):
        cli = cadence_cli(
            "report", kind, who, "--as-of", AS_OF_TEXT, "--format", "json", "--database-url", url
        )
        suffixed = client.get(f"/{kind}/{who}/2026-W48.json")
        accepted = client.get(f"/{kind}/{who}/2026-W48", headers={"accept": "application/json"})
        assert suffixed.headers["content-type"].startswith("application/json")
        assert suffixed.text == accepted.text == cli


def test_an_unsaved_week_is_computed_once_at_its_last_second(
    site: Site, cadence_cli: Callable[..., str]
) -> None:
    client = site.client()
    sign_in(client, golden_org.ANN)
    before = {w.week for w in saved_weeks(site.engine)}
    week = "2026-W45"
    assert week not in before
    page = client.get(f"/manager/{golden_org.ANN}/{week}.json")
    assert page.status_code == 200
    view = page.json()
    assert view["as_of"] == "2026-11-08T23:59:59+00:00"  # the week's last second, in UTC
    cli = cadence_cli(
        "report",
        "manager",
        golden_org.ANN,
        "--as-of",
        view["as_of"],
        "--format",
        "json",
        "--database-url",
        str(site.engine.url),
    )
    assert page.text == cli
    saved = {w.week: w for w in saved_weeks(site.engine)}
    assert week in saved
    # A second view reads what the first saved.
    again = client.get(f"/manager/{golden_org.ANN}/{week}.json")
    assert again.text == page.text and {w.week: w for w in saved_weeks(site.engine)} == saved
    html = client.get(f"/manager/{golden_org.ANN}/{week}")
    assert "Week 2026-W45" in html.text and 'aria-current="page">2026-W45' in html.text


def test_weeks_outside_the_stores_reach_are_not_found(site: Site) -> None:
    client = site.client()
    sign_in(client, golden_org.ANN)
    for week in ("2026-W49", "2027-W01", "2025-W01", "2026-W54", "2026-w48", "26-W48", "x"):
        assert client.get(f"/manager/{golden_org.ANN}/{week}").status_code == 404, week


def test_the_home_page_lists_ones_own_reports(site: Site) -> None:
    client = site.client()
    sign_in(client, golden_org.DANA)
    home = client.get("/")
    assert "Your team" in home.text and "Your org" in home.text
    assert "/director/dana@acme.test/2026-W48" in home.text
    assert golden_org.ANN not in home.text
    report = site.client()
    sign_in(report, golden_org.BOB)
    assert "Bob Baker" in report.get("/").text
    lee = site.client()
    sign_in(lee, golden_org.LEE)
    assert "You have no report this week" in lee.get("/").text


def test_health_says_whether_the_store_answers(site: Site) -> None:
    client = site.client()
    assert client.get("/healthz").status_code == 200
    site.engine.dispose()
    broken = Site(
        engine=__import__("cadence.store.database", fromlist=["make_engine"]).make_engine(
            "postgresql+psycopg://nobody@127.0.0.1:1/none"
        ),
        config=site.config,
        issuer=site.issuer,
        clock=site.clock,
        client_secret=site.client_secret,
    )
    answer = broken.client().get("/healthz")
    assert answer.status_code == 503 and answer.json()["status"] == "failing"
