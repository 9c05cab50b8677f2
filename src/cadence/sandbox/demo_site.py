"""``cadence demo --serve``: the web app on the demo company, signed in through the loopback
OpenID Connect stand-in, so the whole sign-in runs for real with no account and no network."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from cadence.config import OidcConfig, ServeConfig, load_config, resolve_database_url
from cadence.errors import UsageError
from cadence.normalised import OrgPerson
from cadence.sandbox.company import Company
from cadence.sandbox.oidc import Account, SignInStandIn
from cadence.store.database import make_engine
from cadence.web.app import create_app
from cadence.web.server import bind

CLIENT_ID = "cadence-demo"


@dataclass(frozen=True)
class DemoSite:
    app: Any
    sock: socket.socket
    url: str
    manager: OrgPerson
    director: OrgPerson
    admin: OrgPerson


def demo_people(company: Company) -> tuple[OrgPerson, OrgPerson, OrgPerson]:
    """Three people to sign in as: a manager (the one who keeps cancelling), a director (the
    top of the company) and an admin (someone who manages nobody, as people operations might)."""
    by_email = {p.email: p for p in company.people}
    managers = set(company.managers) | set(company.directors) | {company.top}
    admin = next(p for p in company.people if p.email not in managers)
    return by_email[company.cancelling_manager], by_email[company.top], admin


def _socket(host: str, port: int) -> socket.socket:
    try:
        return bind(host, port)
    except UsageError:
        if port == 0:
            raise
        return bind(host, 0)  # the demo's port is taken: any free one will do


@contextmanager
def demo_site(config_path: Any, company: Company, host: str, port: int) -> Iterator[DemoSite]:
    """The demo's web app on ``host:port`` (another free port if that one is taken), with the
    sign-in stand-in running; both stop when the context ends."""
    client_secret = secrets.token_urlsafe(24)
    accounts = [Account(p.email, p.name) for p in company.people]
    manager, director, admin = demo_people(company)
    with SignInStandIn(accounts, client_id=CLIENT_ID, client_secret=client_secret) as issuer:
        sock = _socket(host, port)
        bound_host, bound_port = sock.getsockname()[:2]
        url = f"http://{bound_host}:{bound_port}"
        config = load_config(config_path)
        serve = ServeConfig(
            bind=f"{bound_host}:{bound_port}",
            base_url=url,
            admins=(admin.email,),
            oidc=OidcConfig(issuer=issuer.issuer, client_id=CLIENT_ID),
        )
        config = replace(config, serve=serve)
        engine = make_engine(resolve_database_url(config))
        try:
            app = create_app(
                config, engine, session_key=secrets.token_bytes(32), client_secret=client_secret
            )
            yield DemoSite(app, sock, url, manager, director, admin)
        finally:
            sock.close()
            engine.dispose()
