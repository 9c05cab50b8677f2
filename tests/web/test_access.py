"""Who sees what, on the server, for every route and every format: every person of a generated
org, signed in through the real flow, asks for every other person's pages; exactly their own
(and, for the admin, everyone's) answer 200, and every refusal is the same 404 as a page that
does not exist."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from cadence.config import parse_config
from cadence.jobs.report_all import publish_all
from cadence.store.database import make_engine
from cadence.store.models import SyncState
from cadence.store.saved import saved_subjects, saved_view
from pipeline.builders import AS_OF, add_people, at, store, weekly
from web.conftest import BASE, OUTSIDER, Site, serving, sign_in

WEEK = "2026-W48"
ADMIN = "p15@acme.test"  # manages nobody


def _org(seed: int = 11, size: int = 16) -> list[tuple[str, str, str | None]]:
    """A tree of ``size`` people, p0 at the top, managers at several depths (p15 manages
    nobody: the admin)."""
    rng = random.Random(seed)
    rows: list[tuple[str, str, str | None]] = [("p0@acme.test", "P Zero", None)]
    for i in range(1, size):
        boss = rng.randrange(0, min(i, 6))  # the first six manage: a deep enough tree
        rows.append((f"p{i}@acme.test", f"P {i}", f"p{boss}@acme.test"))
    return rows


ROWS = _org()
PEOPLE = [email for email, _, _ in ROWS]


@pytest.fixture(scope="module")
def org_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("access")
    path = folder / "cadence.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    add_people(engine, ROWS)
    meetings = []
    for email, _, manager in ROWS:
        if manager:
            rule_start = at(-7 * 20)
            meetings += weekly(
                f"s-{email}", rule_start, 20, people=(manager, email), organizer=manager
            )
    store(engine, meetings)
    with engine.begin() as conn:
        conn.execute(
            insert(SyncState),
            [
                {"source": "google", "mailbox": e, "window_start": AS_OF - timedelta(weeks=26)}
                for e in PEOPLE
            ],
        )
    config = parse_config({"report": {"min_group_size": 2}})
    publish_all(
        engine, config, as_of=AS_OF, window_weeks=None, formats=["json"], out_dir=folder / "out"
    )
    engine.dispose()
    yield f"sqlite:///{path}"


@pytest.fixture(scope="module")
def org_site(org_db: str) -> Iterator[Site]:
    with serving(org_db, ROWS, report={"min_group_size": 2}, admins=[ADMIN]) as served:
        yield served


def _urls(subject: str, kind: str) -> list[tuple[str, dict[str, str]]]:
    """One page in every format: HTML, the .json suffix, and Accept: application/json."""
    page = f"/{kind}/{subject}/{WEEK}"
    return [(page, {}), (page + ".json", {}), (page, {"accept": "application/json"})]


def test_exactly_the_allowed_pages_answer(org_site: Site) -> None:
    saved = set(saved_subjects(org_site.engine, WEEK))
    assert {k for k, _ in saved} == {"manager", "director"}
    heads: dict[str, list[str]] = {}
    for kind, director in saved:
        if kind == "director":
            text = saved_view(org_site.engine, WEEK, "director", director)
            assert text is not None
            view = json.loads(text)
            heads[director] = [s["head"]["email"] for s in view["sub_orgs"] if s["head"]]
    assert any(heads.values()), "the generated org must show some sub-org"
    app = org_site.app()
    missing = TestClient(app, base_url=BASE, follow_redirects=False)
    sign_in(missing, PEOPLE[0])
    nowhere = missing.get(f"/manager/nobody@acme.test/{WEEK}")
    assert nowhere.status_code == 404
    refusal = {
        "html": nowhere.text,
        "json": missing.get(f"/manager/nobody@acme.test/{WEEK}.json").text,
    }
    checked = 0
    for viewer in [*PEOPLE, OUTSIDER]:
        client = TestClient(app, base_url=BASE, follow_redirects=False)
        signed = sign_in(client, viewer)
        if viewer == OUTSIDER:
            assert signed.status_code == 403 and "cadence_session" not in client.cookies
        admin = viewer == ADMIN
        for subject in PEOPLE:
            for kind in ("manager", "director"):
                allowed = (kind, subject) in saved and (admin or viewer == subject)
                for url, headers in _urls(subject, kind):
                    answer = client.get(url, headers=headers)
                    checked += 1
                    if viewer == OUTSIDER:
                        assert answer.status_code in (302, 401), (viewer, url)
                    elif allowed:
                        assert answer.status_code == 200, (viewer, url)
                    else:
                        assert answer.status_code == 404, (viewer, url)
                        as_json = url.endswith(".json") or headers
                        assert answer.text == refusal["json" if as_json else "html"]
            for head in heads.get(subject, []):
                for suffix in ("", ".json"):
                    url = f"/director/{subject}/{WEEK}/sub-org/{head}{suffix}"
                    answer = client.get(url)
                    checked += 1
                    if viewer == OUTSIDER:
                        assert answer.status_code in (302, 401)
                    else:
                        expected = 200 if (admin or viewer == subject) else 404
                        assert answer.status_code == expected, (viewer, url)
        home = client.get("/", headers={"accept": "application/json"})
        if viewer == OUTSIDER:
            assert home.status_code == 401
            continue
        listed = {(r["kind"], r["email"]) for r in home.json()["reports"]}
        assert listed == (saved if admin else {s for s in saved if s[1] == viewer})
    assert checked > 1500


def test_a_sub_org_page_shows_only_figures_of_the_directors_own_report(org_site: Site) -> None:
    client = org_site.client()
    top = PEOPLE[0]
    sign_in(client, top)
    view = client.get(f"/director/{top}/{WEEK}.json").json()
    for sub in view["sub_orgs"]:
        if sub["head"] is None:
            continue
        page = client.get(f"/director/{top}/{WEEK}/sub-org/{sub['head']['email']}.json").json()
        assert page["sub_org"] == sub
        shown = {m["manager"]["email"]: m for m in view["managers"]}
        for m in page["managers"]:
            assert shown[m["manager"]["email"]] == m  # the report's own entry, unchanged
        text = json.dumps(page)
        for email in PEOPLE:
            listed = email in shown or email == top or email == sub["head"]["email"]
            if not listed:
                assert f'"{email}"' not in text  # no report is ever named
