"""A signed-in web app over the golden org: the real store, the real Authlib client talking
HTTP to the loopback sign-in stand-in, and Starlette's test client (or uvicorn) in front."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, insert
from starlette.testclient import TestClient

from cadence.config import Config, parse_config
from cadence.jobs.report_all import publish_all
from cadence.sandbox.oidc import Account, SignInStandIn
from cadence.store.database import make_engine
from cadence.store.models import SyncState
from cadence.web.app import create_app
from pipeline.builders import AS_OF
from reports import golden_org

BASE = "http://testserver"
CLIENT_ID = "cadence-test"
OUTSIDER = "outsider@elsewhere.test"
ADMIN = golden_org.IVY  # in the chart, manages nobody


@dataclass
class Clock:
    now: datetime = AS_OF

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    engine: Engine
    config: Config
    issuer: SignInStandIn
    clock: Clock
    client_secret: str
    session_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def app(self):  # type: ignore[no-untyped-def]
        return create_app(
            self.config,
            self.engine,
            session_key=self.session_key,
            client_secret=self.client_secret,
            now=self.clock,
        )

    def client(self) -> TestClient:
        return TestClient(self.app(), base_url=BASE, follow_redirects=False)


def config_for(
    issuer: str, base: str = BASE, report: dict[str, object] | None = None, **serve: object
) -> Config:
    return parse_config(
        {
            "report": report or {},
            "serve": {
                "base_url": base,
                "admins": [ADMIN],
                "oidc": {"issuer": issuer, "client_id": CLIENT_ID},
                **serve,
            },
        }
    )


def authorize_url(client: TestClient, next_path: str = "/") -> str:
    login = client.get("/login", params={"next": next_path})
    assert login.status_code == 302, login.text
    return login.headers["location"]


def choose(authorize: str, email: str) -> str:
    """What the stand-in's people picker does when ``email`` is picked: the callback URL."""
    parts = urlsplit(authorize)
    # The picker's link: the authorize request's own parameters, and who was picked.
    picked = f"{parts.scheme}://{parts.netloc}/authorize/choose?{parts.query}&email={quote(email)}"
    answer = httpx.get(picked)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(client: TestClient, email: str, next_path: str = "/") -> httpx.Response:
    """The whole code flow; returns the callback's answer (its cookie is in ``client``)."""
    callback = choose(authorize_url(client, next_path), email)
    parts = urlsplit(callback)
    assert parts.netloc == "testserver" and parts.path == "/auth/callback"
    assert "code" in parse_qs(parts.query)
    return client.get(f"{parts.path}?{parts.query}")


@pytest.fixture(scope="module")
def golden_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """The golden org, synced and with its week of AS_OF saved, once per module."""
    import shutil

    folder = tmp_path_factory.mktemp("web")
    path = folder / "cadence.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    golden_org.build(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(SyncState),
            [
                {
                    "source": "google",
                    "mailbox": email,
                    "window_start": AS_OF - timedelta(weeks=26),
                    "window_end": AS_OF + timedelta(weeks=5),
                }
                for email, _, _ in golden_org.PEOPLE
            ],
        )
    config = parse_config({})
    publish_all(
        engine, config, as_of=AS_OF, window_weeks=None, formats=["json"], out_dir=folder / "out"
    )
    engine.dispose()
    yield url


@contextmanager
def serving(
    db_url: str, people: Iterable[tuple[str, str, object]], **config: Any
) -> Iterator[Site]:
    """A site over the store at ``db_url`` whose sign-in knows ``people`` (email, name, ...) and
    an outsider; ``config`` goes to :func:`config_for`."""
    accounts = [Account(email, name) for email, name, *_ in people]
    accounts.append(Account(OUTSIDER, "Olly Outsider"))
    client_secret = secrets.token_urlsafe(16)
    engine = make_engine(db_url)
    with SignInStandIn(
        accounts,
        client_id=CLIENT_ID,
        client_secret=client_secret,
        redirect_uris=[f"{BASE}/auth/callback"],
    ) as issuer:
        yield Site(engine, config_for(issuer.issuer, **config), issuer, Clock(), client_secret)
    engine.dispose()


@pytest.fixture
def site(golden_db: str) -> Iterator[Site]:
    with serving(golden_db, golden_org.PEOPLE) as served:
        yield served


SignIn = Callable[[TestClient, str], httpx.Response]
