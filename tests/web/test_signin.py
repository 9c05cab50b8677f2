"""Sign-in and sessions against forgery: the real Authlib flow with the loopback issuer, which
can be made to hand back a forged ID token, and cookies tampered with, replayed and expired."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from cadence.sandbox.oidc import Account
from cadence.web.signin import safe_next, single_entra_tenant
from reports import golden_org
from web.conftest import CLIENT_ID, OUTSIDER, Site, authorize_url, choose, sign_in

ANN_PAGE = "/manager/ann@acme.test/2026-W48"


def _signed_in(client: TestClient) -> bool:
    answer = client.get(ANN_PAGE)
    return answer.status_code == 200


def _nonce(authorize: str) -> str:
    return parse_qs(urlsplit(authorize).query)["nonce"][0]


def test_a_session_is_a_signed_cookie_that_only_works_as_issued(site: Site) -> None:
    client = site.client()
    answer = sign_in(client, golden_org.ANN)
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert _signed_in(client)
    value = client.cookies["cadence_session"]
    secret, mac = value.split(".")
    for forged in (
        f"{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}.{mac}",  # another secret, same MAC
        f"{secret}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # a changed MAC
        secret,
        "",
    ):
        other = site.client()
        other.cookies.set("cadence_session", forged)
        assert other.get(ANN_PAGE).status_code == 302
    # Signing out ends the session on the server: the same cookie, replayed, signs nobody in.
    assert client.post("/logout").status_code == 200
    replay = site.client()
    replay.cookies.set("cadence_session", value)
    assert replay.get(ANN_PAGE).status_code == 302
    assert replay.get(ANN_PAGE + ".json").status_code == 401


def test_a_session_ends_when_idle_and_at_its_absolute_limit(site: Site) -> None:
    client = site.client()
    sign_in(client, golden_org.ANN)
    site.clock.now += timedelta(minutes=59)
    assert _signed_in(client)
    site.clock.now += timedelta(minutes=61)  # idle for more than an hour
    assert not _signed_in(client)
    sign_in(client, golden_org.ANN)
    signed_in_at = site.clock.now
    # Busy all day, never idle for more than 30 minutes: still ends 12 hours after sign-in.
    while _signed_in(client):
        site.clock.now += timedelta(minutes=30)
        assert site.clock.now - signed_in_at <= timedelta(hours=12, minutes=30)
    assert site.clock.now - signed_in_at > timedelta(hours=12)


def test_https_sessions_are_secure_cookies_with_hsts(site: Site) -> None:
    from web.conftest import config_for

    site.config = config_for(site.issuer.issuer, base="https://testserver")
    site.issuer.redirect_uris = {"https://testserver/auth/callback"}
    client = TestClient(site.app(), base_url="https://testserver", follow_redirects=False)
    callback = choose(authorize_url(client), golden_org.ANN)
    answer = client.get(callback.removeprefix("https://testserver"))
    assert "Secure" in answer.headers["set-cookie"]
    assert answer.headers["strict-transport-security"].startswith("max-age=")


@pytest.mark.parametrize(
    "forgery",
    [
        "wrong key",
        "wrong audience",
        "expired",
        "alg none",
        "HS256 with the client secret",
        "wrong nonce",
        "wrong issuer",
    ],
)
def test_a_forged_id_token_is_refused(site: Site, forgery: str) -> None:
    client = site.client()
    authorize = authorize_url(client)
    nonce = _nonce(authorize)
    past = int(time.time()) - 3600
    token = {
        "wrong key": lambda: site.issuer.id_token(email=golden_org.ANN, nonce=nonce, key="other"),
        "wrong audience": lambda: site.issuer.id_token(
            {"aud": "someone-else"}, email=golden_org.ANN, nonce=nonce
        ),
        "expired": lambda: site.issuer.id_token(
            {"iat": past - 600, "exp": past}, email=golden_org.ANN, nonce=nonce
        ),
        "alg none": lambda: site.issuer.id_token(email=golden_org.ANN, nonce=nonce, alg="none"),
        "HS256 with the client secret": lambda: site.issuer.id_token(
            email=golden_org.ANN, nonce=nonce, alg="HS256"
        ),
        "wrong nonce": lambda: site.issuer.id_token(email=golden_org.ANN, nonce="not-the-one"),
        "wrong issuer": lambda: site.issuer.id_token(
            {"iss": "http://127.0.0.1:1"}, email=golden_org.ANN, nonce=nonce
        ),
    }[forgery]()
    site.issuer.next_id_token(token)
    callback = choose(authorize, golden_org.ANN)
    answer = client.get(callback.removeprefix("http://testserver"))
    assert answer.status_code == 400, answer.text
    assert "Sign-in did not work" in answer.text
    assert "cadence_session" not in client.cookies
    assert client.get(ANN_PAGE).status_code == 302


def test_a_wrong_state_and_a_replayed_callback_are_refused(site: Site) -> None:
    client = site.client()
    callback = choose(authorize_url(client), golden_org.ANN)
    path = callback.removeprefix("http://testserver")
    query = parse_qs(urlsplit(path).query)
    tampered = path.replace(query["state"][0], "x" + query["state"][0][1:])
    assert client.get(tampered).status_code == 400
    assert "cadence_session" not in client.cookies
    # A second client holding the same login cookie and callback: the code is spent by the first.
    first = site.client()
    callback = choose(authorize_url(first), golden_org.ANN)
    path = callback.removeprefix("http://testserver")
    twin = site.client()
    twin.cookies.set("cadence_login", first.cookies["cadence_login"])
    assert first.get(path).status_code == 302
    assert twin.get(path).status_code == 400
    assert "cadence_session" not in twin.cookies


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test/x",
        "//evil.test/x",
        "/\\evil.test",
        "http:/evil.test",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_the_return_address_never_leaves_the_site(site: Site, target: str) -> None:
    client = site.client()
    answer = sign_in(client, golden_org.ANN, target)
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in urlsplit(location).netloc
    assert safe_next(target) in ("/", target)


def test_an_unverified_email_and_an_outsider_get_no_session(site: Site) -> None:
    site.issuer.accounts["ann@acme.test"] = Account("ann@acme.test", "Ann", email_verified=False)
    client = site.client()
    assert sign_in(client, golden_org.ANN).status_code == 400
    other = site.client()
    refused = sign_in(other, OUTSIDER)
    assert refused.status_code == 403 and "No reports for you here" in refused.text
    assert "cadence_session" not in other.cookies


def test_an_alias_signs_in_as_its_person(site: Site) -> None:
    from sqlalchemy import insert

    from cadence.store.models import Alias

    with site.engine.begin() as conn:
        conn.execute(insert(Alias).values(alias="a.archer@acme.test", email=golden_org.ANN))
    site.issuer.accounts["a.archer@acme.test"] = Account("a.archer@acme.test", "Ann Archer")
    try:
        client = site.client()
        sign_in(client, "a.archer@acme.test")
        assert _signed_in(client)
    finally:
        from sqlalchemy import delete

        with site.engine.begin() as conn:
            conn.execute(delete(Alias).where(Alias.alias == "a.archer@acme.test"))


def test_only_a_single_entra_tenant_is_trusted_without_email_verified() -> None:
    assert single_entra_tenant(
        "https://login.microsoftonline.com/0b5f0c1e-aaaa-bbbb-cccc-1234567890ab/v2.0"
    )
    assert not single_entra_tenant("https://login.microsoftonline.com/common/v2.0")
    assert not single_entra_tenant("https://login.microsoftonline.com/organizations/v2.0")
    assert not single_entra_tenant("https://accounts.google.com")
    assert CLIENT_ID


def test_pages_carry_the_security_headers(site: Site) -> None:
    client = site.client()
    for answer in (client.get("/healthz"), client.get("/login?next=/"), client.get(ANN_PAGE)):
        csp = answer.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
    assert client.get("/healthz").json()["status"] == "ok"


def test_each_page_view_is_one_access_log_line_without_figures_or_secrets(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    client = site.client()
    with caplog.at_level(logging.INFO, logger="cadence.web"):
        sign_in(client, golden_org.ANN)
        caplog.clear()
        client.get(ANN_PAGE)
        client.get(ANN_PAGE + ".json")
        client.get("/manager/dana@acme.test/2026-W48?x=secret-query")
    lines = [r.getMessage() for r in caplog.records if r.name == "cadence.web.access"]
    assert len(lines) == 3
    assert lines[0].startswith(f"ann@acme.test GET {ANN_PAGE} 200 ")
    assert lines[2].startswith("ann@acme.test GET /manager/dana@acme.test/2026-W48 404 ")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert (
        "secret-query" not in text and "Gus Green" not in text and "%" not in text.replace("ms", "")
    )


def test_signing_in_deletes_sessions_that_ran_out(site: Site) -> None:
    from sqlalchemy import delete, func, select

    from cadence.store.models import WebSession

    with site.engine.begin() as conn:  # other tests' sessions share this store
        conn.execute(delete(WebSession))
    first = site.client()
    sign_in(first, golden_org.ANN)
    site.clock.now += timedelta(hours=2)  # Ann's session has been idle for too long
    sign_in(site.client(), golden_org.DANA)
    with site.engine.connect() as conn:
        emails = conn.execute(select(WebSession.email)).scalars().all()
        assert conn.execute(select(func.count()).select_from(WebSession)).scalar_one() >= 1
    assert golden_org.ANN not in emails and golden_org.DANA in emails
