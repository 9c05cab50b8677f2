"""``cadence serve`` in a real browser: headless Chromium (Debian's, driven by Playwright) signs
in through the loopback sign-in stand-in's people picker, follows the links a person would, and
looks at the pages at a phone's and a desktop's width.

Every page must log no console error and throw nothing: the app's Content-Security-Policy allows
no script at all, so markup that needed one (or slipped through unescaped) would show as a
console error here.

The golden org is re-saved with a privacy floor of 2 pairs, so that Dana's director report shows
Ann's and Hal's sub-orgs on their own, with a link each (under the default floor of 5, Hal's two
pairs fold into "other" and take Ann's along, and the report has no sub-org link to follow).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from cadence.config import Config
from cadence.jobs.figures import results
from cadence.jobs.report_all import save_figures
from cadence.sandbox.oidc import PICKER_TITLE, Account, SignInStandIn
from cadence.store.database import make_engine
from cadence.store.saved import saved_weeks
from cadence.web.app import create_app
from cadence.web.server import ServerThread
from pipeline.builders import AS_OF
from reports import golden_org
from web.conftest import CLIENT_ID, OUTSIDER, Clock, config_for

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright")

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
FLOOR = 2  # pairs: Hal's two are a sub-org of their own
WEEK = "2026-W48"  # the week of AS_OF, saved
OLDER = "2026-W46"  # never saved: the app computes it on the first visit
ANN_MANAGER = f"/manager/{golden_org.ANN}/{WEEK}"
DANA_DIRECTOR = f"/director/{golden_org.DANA}/{WEEK}"
# People below Ann who manage nobody: a page of Ann's sub-org shows none of them by name.
ANNS_PLAIN_REPORTS = ["Cleo Clark", "Gus Green", "Lee Lopez"]


@dataclass
class Web:
    """The app served by uvicorn on a real port, and the sign-in stand-in it trusts."""

    url: str
    issuer: SignInStandIn
    engine: Engine

    def saved(self) -> set[str]:
        return {w.week for w in saved_weeks(self.engine)}


@dataclass
class Tab:
    """A page in a fresh browser context (no cookies), and what went wrong in it."""

    page: Any
    web: Web
    errors: list[str] = field(default_factory=list)
    # Chromium asks a page with no icon for /favicon.ico: cadence's pages name an empty one, the
    # sign-in stand-in's picker does not (a 404 there, logged as a console error). Kept apart,
    # so that it cannot hide any other error.
    favicon: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"{self.page.url}: threw {e}"))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        source = message.location.get("url", "")
        text = f"{self.page.url}: {message.text} ({source})"
        if urlsplit(source).path == "/favicon.ico" and "status of 404" in message.text:
            self.favicon.append(text)
        else:
            self.errors.append(text)

    def go(self, path: str) -> Any:
        return self.page.goto(self.web.url + path)

    def sign_in(self, name: str, path: str = "/") -> None:
        """From ``path`` (a page that needs sign-in) through the picker, back to ``path``."""
        self.go(path)
        assert self.on_picker(), self.page.url
        self.page.get_by_role("link", name=re.compile(re.escape(name))).click()
        self.page.wait_for_url(self.web.url + path)

    def on_picker(self) -> bool:
        at_authorize = self.page.url.startswith(f"{self.web.issuer.issuer}/authorize")
        return at_authorize and self.page.title() == PICKER_TITLE

    def text(self) -> str:
        return str(self.page.locator("body").inner_text())


def _floor_config(config: Config) -> Config:
    return dataclasses.replace(
        config, report=dataclasses.replace(config.report, min_group_size=FLOOR)
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def web(golden_db: str) -> Iterator[Web]:
    engine = make_engine(golden_db)
    accounts = [Account(email, name) for email, name, _ in golden_org.PEOPLE]
    accounts.append(Account(OUTSIDER, "Olly Outsider"))
    client_secret = secrets.token_urlsafe(16)
    # No redirect URI registered: the stand-in accepts any loopback one, as for the demo.
    with SignInStandIn(accounts, client_id=CLIENT_ID, client_secret=client_secret) as issuer:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        config = _floor_config(config_for(issuer.issuer, base=base))
        # The saved week again, under this floor (publish_all saved it under the default).
        save_figures(engine, config, AS_OF, results(engine, config, AS_OF, None))
        app = create_app(
            config,
            engine,
            session_key=secrets.token_bytes(32),
            client_secret=client_secret,
            now=Clock(),
        )
        with ServerThread(app, port=port) as server:
            assert server.url == base
            yield Web(base, issuer, engine)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _tab(browser: Any, web: Web, viewport: dict[str, int]) -> Tab:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    tab = Tab(page, web)
    tab.watch()
    return tab


@pytest.fixture
def tab(browser: Any, web: Web) -> Iterator[Tab]:
    tab = _tab(browser, web, DESKTOP)
    yield tab
    tab.page.context.close()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_manager_signs_in_picks_an_older_week_and_signs_out(tab: Tab) -> None:
    page = tab.page
    tab.go("/")
    assert tab.on_picker(), page.url
    page.get_by_role("link", name=re.compile("Ann Archer")).click()
    page.wait_for_url(tab.web.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Ann Archer"

    page.get_by_role("link", name="Your team's 1:1s").click()
    page.wait_for_url(tab.web.url + ANN_MANAGER)
    assert "Ann Archer" in page.get_by_role("heading", level=1).inner_text()
    body = tab.text()
    assert "Gus Green" in body and "Bob Baker" in body

    assert OLDER not in tab.web.saved()
    picker = page.locator("header details")
    assert picker.locator("summary").inner_text() == f"Week {WEEK}"
    older = picker.get_by_role("link", name=OLDER, exact=True)
    assert not older.is_visible()  # the list opens on a click
    picker.locator("summary").click()
    older.click()
    page.wait_for_url(f"**/{OLDER}")
    assert page.url == tab.web.url + f"/manager/{golden_org.ANN}/{OLDER}"
    # Computed on this first visit, at the week's end, and saved under its own label.
    assert OLDER in tab.web.saved()
    assert page.get_by_role("heading", level=1).inner_text() == "1:1 health for Ann Archer"
    assert page.locator("header details summary").inner_text() == f"Week {OLDER}"
    subtitle = page.locator("main p.sub").inner_text()
    assert subtitle.startswith(f"Week {OLDER} · as of Sun 15 Nov 2026 23:59"), subtitle
    assert "Gus Green" in tab.text()

    page.locator("header").get_by_role("button", name="Sign out").click()
    page.wait_for_url(tab.web.url + "/logout")
    assert page.get_by_role("heading", level=1).inner_text() == "Signed out"
    tab.go(ANN_MANAGER)
    assert tab.on_picker(), page.url
    assert tab.errors == []


def test_a_director_opens_a_sub_org_page(tab: Tab) -> None:
    page = tab.page
    tab.sign_in("Dana Diaz")
    page.get_by_role("link", name="Your org's 1:1 trends").click()
    page.wait_for_url(tab.web.url + DANA_DIRECTOR)
    assert page.get_by_role("heading", level=1).inner_text() == "Team 1:1 trends for Dana Diaz"
    assert page.get_by_role("heading", name="By sub-org").is_visible()
    subs = page.locator(".grid h3 a")
    assert sorted(subs.all_inner_texts()) == ["Ann Archer", "Hal Hughes"]

    subs.filter(has_text="Ann Archer").click()
    page.wait_for_url(f"{tab.web.url}{DANA_DIRECTOR}/sub-org/{golden_org.ANN}")
    assert page.get_by_role("heading", level=1).inner_text() == "Sub-org of Ann Archer"
    assert page.locator("main svg").count() == 1
    assert page.locator("main svg").first.is_visible()
    weeks = page.locator("details table tbody tr")
    assert weeks.count() == 26
    assert weeks.last.locator("td").first.inner_text() == WEEK
    body = tab.text()
    for name in ANNS_PLAIN_REPORTS:
        assert name not in body
    # The managers in the sub-org are listed, as in Dana's report: Ann, and Bob (Lee's manager).
    managers = page.locator("table.stack tbody .who").all_inner_texts()
    assert sorted(managers) == ["Ann Archer", "Bob Baker"]
    assert "Hal Hughes" not in body and "Jon Jones" not in body
    page.get_by_role("link", name=re.compile("Team 1:1 trends for Dana Diaz")).click()
    page.wait_for_url(tab.web.url + DANA_DIRECTOR)
    assert tab.errors == []


@pytest.mark.parametrize(("label", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_pages_fit_the_screen(
    browser: Any, web: Web, tmp_path: Path, label: str, viewport: dict[str, int]
) -> None:
    tab = _tab(browser, web, viewport)
    try:
        tab.sign_in("Ivy Ives", ANN_MANAGER)  # an admin: sees both pages
        pages = {"manager": ANN_MANAGER, "director": DANA_DIRECTOR}
        for kind, path in pages.items():
            tab.go(path)
            assert tab.page.url == web.url + path
            overflow = tab.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if label == "phone":
                assert overflow <= 1, f"{kind} page is {overflow}px wider than the phone"
            shot = tmp_path / f"{kind}-{label}.png"
            tab.page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            width, height = _png_size(shot)
            assert width == viewport["width"] and height >= viewport["height"]
        if label == "phone":  # the manager's tables are cards: no header row, one card a pair
            tab.go(ANN_MANAGER)
            assert not tab.page.locator("table.stack thead").first.is_visible()
            card = tab.page.locator("table.stack tbody tr").first.bounding_box()
            assert card["width"] <= viewport["width"]
            # The week picker's list, open, stays on the screen.
            tab.page.locator("header details summary").click()
            weeks = tab.page.locator("header details ul").bounding_box()
            assert weeks["x"] >= 0 and weeks["x"] + weeks["width"] <= viewport["width"]
        assert tab.errors == []
    finally:
        tab.page.context.close()


def test_someone_not_in_the_org_chart_is_told_so(tab: Tab) -> None:
    page = tab.page
    tab.go("/")
    assert tab.on_picker(), page.url
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if "/auth/callback" in r.url else None)
    page.get_by_role("link", name=re.compile("Olly Outsider")).click()
    page.wait_for_url(re.compile(r".*/auth/callback\?.*"))
    assert answers == [403]
    assert page.get_by_role("heading", level=1).inner_text() == "No reports for you here"
    assert f"You are signed in as {OUTSIDER}" in tab.text()
    assert page.locator("header").count() == 0  # nobody's header: not signed in to cadence
    # Chromium logs the page's own 403 as a failed load; nothing else may appear.
    assert [e for e in tab.errors if not ("status of 403" in e and "/auth/callback" in e)] == []
    tab.go("/")
    assert tab.on_picker(), page.url


def test_a_script_in_a_page_would_be_caught(tab: Tab) -> None:
    """The checks above can fail: a page of the app's with a script in it (an escaping bug)
    is blocked by the app's own Content-Security-Policy, and that shows as a console error."""
    tab.sign_in("Ann Archer")

    def with_script(route: Any) -> None:
        answer = route.fetch()
        body = answer.text().replace("<main>", "<main><script>document.title='x'</script>")
        route.fulfill(response=answer, body=body)

    tab.page.route(tab.web.url + ANN_MANAGER, with_script)
    tab.go(ANN_MANAGER)
    assert tab.page.title() != "x"
    assert any("Content Security Policy" in e for e in tab.errors), tab.errors
